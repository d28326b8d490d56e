"""`assistant prepare`: logs and FAQs in, chat-format JSONL train/validation files out.

Streams: records are read, turned into examples and written one at a time, so memory stays
flat however large the input. Output goes to a staging folder swapped into place at the end.

Output folder:
  train.jsonl, validation.jsonl   OpenAI fine-tuning shape: {"messages": [...]}
  brand_profile.yaml              the profile used (training and chat read the system prompt here)
  prepare_report.json             counts, what was skipped and why, token-length stats
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import staged_directory
from .brand import BrandProfile, resolve_profile_path, load_profile
from .chat_format import count_tokens
from .pairs import Example, PairStats, conversation_examples, faq_example, is_validation, profile_examples
from .readers import ReadOptions, iter_input_files, read_file
from .records import Conversation

REPORT_FILE = "prepare_report.json"
PROFILE_FILE = "brand_profile.yaml"


@dataclass
class PrepareSettings:
    inputs: list[Path]
    profile: str
    out: Path
    read_options: ReadOptions = field(default_factory=ReadOptions)
    validation_fraction: float = 0.1
    seed: int = 42
    context_turns: int = 6
    max_tokens: int = 1024
    base_model: str | None = None


class LengthTracker:
    """Token lengths per split, and fitting examples under the token limit."""

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_tokens = tokenizer, max_tokens
        self.lengths: dict[str, list[int]] = {"train": [], "validation": []}

    def fit(self, example: Example, stats: PairStats) -> tuple[Example | None, int]:
        """Drop the oldest context turns until the example fits; (None, n) if even the
        last customer message and the reply are too long."""
        messages = example.messages
        while True:
            tokens = count_tokens(self.tokenizer, messages)
            if tokens <= self.max_tokens:
                example.messages = messages
                return example, tokens
            first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
            later_user = next((i for i, m in enumerate(messages) if m["role"] == "user" and i > first_user), None)
            if later_user is None:
                stats.skip(stats.skipped_examples, f"longer than {self.max_tokens} tokens", example.source)
                return None, tokens
            messages = [messages[0]] + messages[later_user:]

    def summary(self, split: str) -> dict:
        values = sorted(self.lengths[split])
        if not values:
            return {"examples": 0}
        return {
            "examples": len(values),
            "tokens": sum(values),
            "min": values[0],
            "mean": round(statistics.fmean(values), 1),
            "median": values[len(values) // 2],
            "p95": values[min(len(values) - 1, int(len(values) * 0.95))],
            "max": values[-1],
        }


def prepare(settings: PrepareSettings) -> dict:
    from .base_model import load_tokenizer, resolve_base_model

    profile_path = resolve_profile_path(settings.profile)
    profile = load_profile(profile_path)
    files = iter_input_files(settings.inputs)
    tokenizer = load_tokenizer(resolve_base_model(settings.base_model))
    stats = PairStats()
    lengths = LengthTracker(tokenizer, settings.max_tokens)
    per_file: dict[str, dict] = {}
    with staged_directory(settings.out) as staging:
        with open(staging / "train.jsonl", "w", encoding="utf-8") as train, open(
            staging / "validation.jsonl", "w", encoding="utf-8"
        ) as validation:
            outputs = {"train": train, "validation": validation}

            def write(example: Example) -> bool:
                fitted, tokens = lengths.fit(example, stats)
                if fitted is None:
                    return False
                split = "validation" if is_validation(fitted.group, settings.validation_fraction, settings.seed) else "train"
                if fitted.group.startswith("profile:"):
                    split = "train"  # curated profile replies always teach
                outputs[split].write(json.dumps(fitted.to_json(), ensure_ascii=False) + "\n")
                lengths.lengths[split].append(tokens)
                return True

            for path in files:
                per_file[str(path)] = read_one_file(path, settings, profile, stats, write)
            for example in profile_examples(profile, str(profile_path), stats):
                write(example)
        (staging / PROFILE_FILE).write_text(profile_path.read_text(encoding="utf-8"), encoding="utf-8")
        report = build_report(settings, profile, profile_path, per_file, stats, lengths)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def read_one_file(path: Path, settings: PrepareSettings, profile: BrandProfile, stats: PairStats, write) -> dict:
    counts = {"conversations": 0, "faq_entries": 0, "pairs": 0}
    for record in read_file(path, settings.read_options):
        if isinstance(record, Conversation):
            counts["conversations"] += 1
            examples = list(conversation_examples(record, profile, stats, settings.context_turns))
        else:
            counts["faq_entries"] += 1
            examples = [e for e in [faq_example(record, profile, stats)] if e is not None]
        counts["pairs"] += sum(write(example) for example in examples)
    return counts


def build_report(settings, profile, profile_path, per_file, stats: PairStats, lengths: LengthTracker) -> dict:
    def reasons(counter):
        return {reason: {"count": n, "first_at": stats.first_source[reason]} for reason, n in counter.most_common()}

    return {
        "inputs": per_file,
        "brand_profile": {"name": profile.name, "path": str(profile_path)},
        "records_read": {"conversations": stats.conversations, "faq_entries": stats.faq_entries},
        "pairs_written": {"train": len(lengths.lengths["train"]), "validation": len(lengths.lengths["validation"])},
        "skipped": {
            "conversations": reasons(stats.skipped_conversations),
            "agent_turns": reasons(stats.skipped_turns),
            "examples": reasons(stats.skipped_examples),
        },
        "tokens": {"train": lengths.summary("train"), "validation": lengths.summary("validation")},
        "settings": {
            "validation_fraction": settings.validation_fraction,
            "seed": settings.seed,
            "context_turns": settings.context_turns,
            "max_tokens": settings.max_tokens,
            "base_model": settings.base_model or "smollm2-135m-instruct",
        },
    }


def format_report(report: dict) -> str:
    lines = [
        f"Read {report['records_read']['conversations']} conversations and "
        f"{report['records_read']['faq_entries']} FAQ entries from {len(report['inputs'])} file(s).",
        f"Wrote {report['pairs_written']['train']} training and {report['pairs_written']['validation']} validation pairs.",
    ]
    for kind, label in (("conversations", "conversations"), ("agent_turns", "agent turns"), ("examples", "pairs")):
        for reason, info in report["skipped"][kind].items():
            lines.append(f"  skipped {info['count']} {label}: {reason} (first at {info['first_at']})")
    train = report["tokens"]["train"]
    if train.get("examples"):
        lines.append(
            f"Tokens per training pair: min {train['min']}, median {train['median']}, "
            f"p95 {train['p95']}, max {train['max']}; {train['tokens']} in all."
        )
    if not report["pairs_written"]["validation"]:
        lines.append("Note: the validation set is empty (too little data); training will run without validation.")
    return "\n".join(lines)
