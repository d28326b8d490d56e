"""The prepare report (prepare_report.json) and its one-screen summary for the terminal."""

from __future__ import annotations

from .rejects import REJECTS_FILE

SKIP_SECTIONS = (("records", "record", "unreadable records"), ("conversations", "conversation", "conversations"),
                 ("agent_turns", "turn", "agent turns"), ("examples", "example", "pairs"))  # fmt: skip


def build_report(settings, shaper, profile_path, per_file, stats, lengths, curator, seconds: float) -> dict:
    rejects = stats.rejects
    def total(key: str) -> int:
        return sum(counts[key] for counts in per_file.values())

    messages = total("messages")
    return {
        "inputs": per_file,
        "brand_profile": {"name": shaper.profile.name, "path": str(profile_path)},
        "formatter": shaper.formatter.name,
        "domain": shaper.domain,
        "system_prompt": shaper.profile.system_prompt,
        "records_read": {
            "conversations": total("conversations"),
            "faq_entries": total("faq_entries"),
            "unreadable": rejects.total("record"),
            "messages": messages,
        },
        "pairs_written": {"train": len(lengths.lengths["train"]), "validation": len(lengths.lengths["validation"])},
        "redactions": {
            "enabled": settings.redact,
            "total": sum(curator.redactions.values()),
            "by_type": dict(curator.redactions.most_common()),
        },
        "cleaning": {"messages_changed": curator.messages_cleaned},
        "duplicates": {
            "enabled": settings.deduplicate,
            "exact_records": curator.duplicates["exact"],
            "near_examples": curator.duplicates["near"],
            "near_false_positive_rate": round(curator.near.false_positive_rate(), 8),
        },
        "skipped": {section: rejects.summary(kind) for section, kind, _ in SKIP_SECTIONS},
        "rejected_total": rejects.total(),
        "tokens": {"train": lengths.summary("train"), "validation": lengths.summary("validation")},
        "timing": {"seconds": round(seconds, 3), "messages_per_second": round(messages / max(seconds, 1e-9), 1)},
        "settings": {
            "validation_fraction": settings.validation_fraction,
            "seed": settings.seed,
            "context_turns": settings.context_turns,
            "max_tokens": settings.max_tokens,
            "base_model": settings.base_model or "smollm2-135m-instruct",
            "formatter": shaper.formatter.name,
            "domain": shaper.domain,
            "redact": settings.redact,
            "deduplicate": settings.deduplicate,
            "strict": settings.strict,
        },
    }


def format_report(report: dict) -> str:
    read = report["records_read"]
    lines = [
        f"Read {read['conversations']} conversations and {read['faq_entries']} FAQ entries "
        f"from {len(report['inputs'])} file(s)"
        + (f"; {read['unreadable']} records could not be read." if read["unreadable"] else "."),
        f"Wrote {report['pairs_written']['train']} training and {report['pairs_written']['validation']} validation pairs.",
    ]
    redactions = report["redactions"]
    if not redactions["enabled"]:
        lines.append("Redaction is OFF (--no-redact): personal data was kept as it is.")
    elif redactions["total"]:
        by_type = ", ".join(f"{n} {kind}" for kind, n in redactions["by_type"].items())
        lines.append(f"Redacted {redactions['total']} personal data items: {by_type}.")
    duplicates = report["duplicates"]
    if duplicates["exact_records"] or duplicates["near_examples"]:
        lines.append(f"Removed {duplicates['exact_records']} exact duplicate records and "
                     f"{duplicates['near_examples']} near-duplicate pairs.")
    for section, _, label in SKIP_SECTIONS:
        for reason, info in report["skipped"][section].items():
            lines.append(f"  skipped {info['count']} {label}: {reason} (first at {info['first_at']})")
    if report["rejected_total"]:
        lines.append(f"Every skipped item is listed in {REJECTS_FILE} with its source and reason.")
    train = report["tokens"]["train"]
    if train.get("examples"):
        lines.append(
            f"Tokens per training pair: min {train['min']}, median {train['median']}, "
            f"p95 {train['p95']}, max {train['max']}; {train['tokens']} in all."
        )
    if not report["pairs_written"]["validation"]:
        lines.append("Note: the validation set is empty (too little data); training will run without validation.")
    return "\n".join(lines)

