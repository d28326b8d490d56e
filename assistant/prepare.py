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

import yaml

from .atomic import staged_directory
from .brand import BrandProfile, load_profile, resolve_profile_path
from .chat_format import count_tokens
from .errors import AssistantError
from .pairs import Example, PairStats, is_validation, profile_pairs, record_group, shape_example
from .plugin_types import FormatContext, Pair, Skip
from .readers import ReadOptions, iter_input_files, read_file
from .records import SourceRef

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
    formatter: str = "default"


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
                stats.skip(Skip(f"longer than {self.max_tokens} tokens", "record"), example.source)
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


class PairShaper:
    """Formatter output to written examples: brand shaping, then the plugins' filters."""

    def __init__(self, settings: PrepareSettings, profile: BrandProfile, stats: PairStats):
        from .plugins import registry

        self.registry = registry()
        self.formatter = self.registry.formatter(settings.formatter)
        self.domain = self.formatter.domain
        system_prompt = self.registry.system_prompt(profile, self.domain)
        self.profile = profile.model_copy(update={"system_prompt": system_prompt})
        self.context = FormatContext(profile=self.profile, context_turns=settings.context_turns)
        self.stats = stats

    def pairs(self, record):
        try:
            for item in self.formatter.format(record, self.context):
                if not isinstance(item, (Pair, Skip)):
                    raise TypeError(f"yielded {type(item).__name__}, expected Pair or Skip")
                yield item
        except AssistantError:
            raise
        except Exception as exc:  # a plugin's bug: name it and the record it failed on
            plugin = self.registry.plugin_of("formatter", self.formatter.name)
            raise AssistantError(
                f"{record.source}: formatter '{self.formatter.name}' (plugin '{plugin}') failed: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def examples(self, items, source: SourceRef, group: str):
        for item in items:
            shaped = item if isinstance(item, Skip) else shape_example(item, self.profile, source, group)
            if not isinstance(shaped, Skip):
                reason = self.registry.filter_reason(shaped.messages, self.profile, self.domain)
                shaped = Skip(reason, "record") if reason else shaped
            if isinstance(shaped, Skip):
                self.stats.skip(shaped, source)
            else:
                yield shaped


def prepare(settings: PrepareSettings) -> dict:
    from .base_model import load_tokenizer, resolve_base_model

    profile_path = resolve_profile_path(settings.profile)
    stats = PairStats()
    shaper = PairShaper(settings, load_profile(profile_path), stats)
    files = iter_input_files(settings.inputs)
    tokenizer = load_tokenizer(resolve_base_model(settings.base_model))
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
                per_file[str(path)] = read_one_file(path, settings, shaper, write)
            for group, pair in profile_pairs(shaper.profile):
                for example in shaper.examples([pair], SourceRef(str(profile_path), 0), group):
                    write(example)
        # The profile as used: its system prompt includes the plugins' contributions, so
        # training, chat and eval all see the same one.
        (staging / PROFILE_FILE).write_text(
            yaml.safe_dump(shaper.profile.model_dump(), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        report = build_report(settings, shaper, profile_path, per_file, stats, lengths)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def read_one_file(path: Path, settings: PrepareSettings, shaper: PairShaper, write) -> dict:
    counts = {"conversations": 0, "faq_entries": 0, "pairs": 0}
    for record in read_file(path, settings.read_options):
        shaper.stats.count(record)
        counts["faq_entries" if hasattr(record, "question") else "conversations"] += 1
        examples = shaper.examples(shaper.pairs(record), record.source, record_group(record))
        counts["pairs"] += sum(write(example) for example in examples)
    return counts


def build_report(settings, shaper: PairShaper, profile_path, per_file, stats: PairStats, lengths: LengthTracker) -> dict:
    def reasons(scope):
        counter = stats.skipped[scope]
        return {reason: {"count": n, "first_at": stats.first_source[reason]} for reason, n in counter.most_common()}

    return {
        "inputs": per_file,
        "brand_profile": {"name": shaper.profile.name, "path": str(profile_path)},
        "formatter": shaper.formatter.name,
        "domain": shaper.domain,
        "system_prompt": shaper.profile.system_prompt,
        "records_read": {"conversations": stats.conversations, "faq_entries": stats.faq_entries},
        "pairs_written": {"train": len(lengths.lengths["train"]), "validation": len(lengths.lengths["validation"])},
        "skipped": {
            "conversations": reasons("conversation"),
            "agent_turns": reasons("turn"),
            "examples": reasons("record"),
        },
        "tokens": {"train": lengths.summary("train"), "validation": lengths.summary("validation")},
        "settings": {
            "validation_fraction": settings.validation_fraction,
            "seed": settings.seed,
            "context_turns": settings.context_turns,
            "max_tokens": settings.max_tokens,
            "base_model": settings.base_model or "smollm2-135m-instruct",
            "formatter": shaper.formatter.name,
            "domain": shaper.domain,
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
