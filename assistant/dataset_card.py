"""The dataset card: prepared data described for people (dataset_card.md beside the data,
with token_lengths.png): where it came from, what was kept out and why, how long the
pairs are, and about how long training on it will take on this machine."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from . import __version__

CARD_FILE, HISTOGRAM_FILE = "dataset_card.md", "token_lengths.png"
DEFAULT_EPOCHS = 3  # TrainConfig's default


def plot_token_lengths(lengths: dict[str, list[int]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    values = [v for split in ("train", "validation") for v in lengths[split]]
    bins = min(50, max(5, len(set(values))))
    for split, color in (("train", "#1f77b4"), ("validation", "#d62728")):
        if lengths[split]:
            ax.hist(lengths[split], bins=bins, range=(0, max(values)), alpha=0.6, color=color,
                    label=f"{split} ({len(lengths[split])})")
    ax.set_xlabel("tokens per pair (chat template included)")
    ax.set_ylabel("pairs")
    ax.set_title("Token lengths of the prepared pairs")
    ax.grid(alpha=0.3)
    if values:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _first_examples(path: Path, n: int = 16) -> list[list[dict]]:
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            examples.append(json.loads(line)["messages"])
            if len(examples) == n:
                break
    return examples


def estimate_training(report: dict, staging: Path, base_path: str) -> list[str]:
    from .speed import training_speed

    tokens = report["tokens"]["train"].get("tokens", 0)
    speed = training_speed(base_path, lambda: _first_examples(staging / "train.jsonl")) if tokens else None
    if not speed:
        return ["No training pairs, so no estimate."]
    seconds = tokens * DEFAULT_EPOCHS / speed["tokens_per_second"]
    return [
        f"About **{seconds / 60:.1f} minutes** for {DEFAULT_EPOCHS} epochs ({tokens:,} training tokens per epoch) "
        f"at {speed['tokens_per_second']:,} tokens/s, measured on this machine by {speed['source']} "
        f"({speed['measured']}). Validation and early stopping change the real figure.",
    ]


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def card_text(report: dict, estimate: list[str]) -> str:
    read, written = report["records_read"], report["pairs_written"]
    redactions, duplicates = report["redactions"], report["duplicates"]
    tokens = report["tokens"]
    lines = [
        f"# Dataset card: {report['brand_profile']['name']}",
        "",
        f"Prepared {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `assistant prepare` {__version__} with the "
        f"`{report['formatter']}` formatter (domain `{report['domain']}`) and the brand profile "
        f"`{report['brand_profile']['path']}`.",
        "",
        "## Sources",
        "",
        *_table(("file", "conversations", "FAQ entries", "unreadable records", "pairs written"),
                [(f"`{path}`", c["conversations"], c["faq_entries"], c["unreadable"], c["pairs"])
                 for path, c in report["inputs"].items()]),
        "",
        "## Counts",
        "",
        f"- Pairs: **{written['train']}** training, **{written['validation']}** validation "
        f"(split by conversation, seed {report['settings']['seed']}).",
        f"- Records read: {read['conversations']} conversations, {read['faq_entries']} FAQ entries, "
        f"{read['unreadable']} unreadable.",
        f"- Kept out: {report['rejected_total']} items, each listed in `rejects.jsonl` with its source and reason.",
        "",
        *_table(("kept out", "reason", "count", "first at"),
                [(section.replace("_", " "), reason, info["count"], f"`{info['first_at']}`")
                 for section, reasons in report["skipped"].items() for reason, info in reasons.items()]),
        "",
        "## Personal data",
        "",
    ]
    if not redactions["enabled"]:
        lines.append("**Redaction was turned off (`--no-redact`): this data may contain personal data.**")
    else:
        lines.append(f"{redactions['total']} items replaced by typed placeholders such as `[EMAIL]`, consistent "
                     "within each conversation.")
        lines += ["", *_table(("type", "redacted"), list(redactions["by_type"].items()) or [("(none found)", 0)])]
    lines += [
        "",
        "## Duplicates and cleaning",
        "",
        f"- Exact duplicate records removed: {duplicates['exact_records']}.",
        f"- Near-duplicate pairs removed (final exchange, Jaccard ~0.8+, across train and validation): "
        f"{duplicates['near_examples']}." + ("" if duplicates["enabled"] else " (deduplication was off)"),
        f"- Messages changed by cleaning (HTML, mojibake, Unicode, whitespace): {report['cleaning']['messages_changed']}.",
        "",
        "## Length distribution",
        "",
        *_table(("split", "pairs", "min", "median", "mean", "p95", "max", "tokens"),
                [(split, s.get("examples", 0), s.get("min", "-"), s.get("median", "-"), s.get("mean", "-"),
                  s.get("p95", "-"), s.get("max", "-"), s.get("tokens", 0)) for split, s in tokens.items()]),
        "",
        f"Pairs longer than {report['settings']['max_tokens']} tokens lost their oldest context turns, or were "
        "kept out when even the last exchange was too long.",
        "",
        f"![Token lengths]({HISTOGRAM_FILE})",
        "",
        "## Estimated training time",
        "",
        *estimate,
        "",
    ]
    return "\n".join(lines)


def write_dataset_card(staging: Path, report: dict, lengths, base_path: str) -> None:
    plot_token_lengths(lengths.lengths, staging / HISTOGRAM_FILE)
    (staging / CARD_FILE).write_text(card_text(report, estimate_training(report, staging, base_path)),
                                     encoding="utf-8")
