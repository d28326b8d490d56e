"""`assistant prepare`: logs and FAQs in, chat-format JSONL train/validation files out.

Streams: records are read, curated, turned into examples and written one at a time, so
memory stays flat however large the input. Output goes to a staging folder swapped into
place at the end, so a failed run leaves no half-written output.

Each record goes: read -> cleaned, canned turns out, personal data redacted, exact
duplicates out (`curation`) -> formatter pairs -> brand shaping and plugin filters
(`shaping`) -> near duplicates out -> fitted under the token limit -> train or validation.

Output folder:
  train.jsonl, validation.jsonl   OpenAI fine-tuning shape: {"messages": [...]}
  rejects.jsonl                   everything that did not become a pair, with source and reason
  brand_profile.yaml              the profile used (training and chat read the system prompt here)
  prepare_report.json             counts, redactions, duplicates, rejects, token-length stats
  dataset_card.md, token_lengths.png   the data set described for people
"""

from __future__ import annotations

import gc
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .atomic import staged_directory
from .brand import load_profile, resolve_profile_path
from .curation import Curator, message_list
from .jsonl import dumps_line
from .pairs import Example, PairStats, is_validation, profile_pairs, record_group
from .readers import ReadOptions, iter_input_files, read_file
from .records import Rejected, SourceRef
from .rejects import REJECTS_FILE, RejectsLog
from .shaping import LengthTracker, PairShaper

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
    redact: bool = True
    deduplicate: bool = True
    strict: bool = False  # fail on the first record that cannot be read, instead of rejecting it
    card: bool = True  # write dataset_card.md and token_lengths.png


class Writer:
    """Fits examples under the token limit and writes them to their split."""

    def __init__(self, settings: PrepareSettings, outputs: dict, lengths: LengthTracker, stats: PairStats):
        self.settings, self.outputs, self.lengths, self.stats = settings, outputs, lengths, stats
        self._last_group, self._last_split = None, "train"

    def split_of(self, group: str) -> str:
        """The example's split; curated profile replies always teach."""
        if group != self._last_group:  # a record's examples come one after another: hash once
            validation = is_validation(group, self.settings.validation_fraction, self.settings.seed)
            self._last_group = group
            self._last_split = "validation" if validation and not group.startswith("profile:") else "train"
        return self._last_split

    def __call__(self, example: Example) -> bool:
        fitted, tokens = self.lengths.fit(example, self.stats)
        if fitted is None:
            return False
        split = self.split_of(fitted.group)
        self.outputs[split].write(dumps_line(fitted.to_json()))
        self.lengths.lengths[split].append(tokens)
        return True


def prepare(settings: PrepareSettings) -> dict:
    from .base_model import load_tokenizer, resolve_base_model
    from .plugins import registry
    from .prepare_report import build_report

    profile_path = resolve_profile_path(settings.profile)
    profile = load_profile(profile_path)
    stats = PairStats()
    shaper = PairShaper(settings.formatter, settings.context_turns, profile, stats)
    files = iter_input_files(settings.inputs)
    base_path = resolve_base_model(settings.base_model)
    tokenizer = load_tokenizer(base_path)
    lengths = LengthTracker(tokenizer, settings.max_tokens)
    read_options = ReadOptions(**{**vars(settings.read_options), "on_bad_record": "raise" if settings.strict else "reject"})
    per_file: dict[str, dict] = {}
    with staged_directory(settings.out) as staging:
        with (  # binary: `dumps_line` gives UTF-8 JSON lines
            open(staging / "train.jsonl", "wb") as train,
            open(staging / "validation.jsonl", "wb") as validation,
            open(staging / REJECTS_FILE, "wb") as rejects_file,
        ):
            stats.rejects = rejects = RejectsLog(rejects_file)
            patterns = list(registry().pii_patterns.values()) if settings.redact else None
            curator = Curator(profile, rejects, patterns, settings.deduplicate)
            write = Writer(settings, {"train": train, "validation": validation}, lengths, stats)
            started = time.perf_counter()
            with fewer_collections():
                for path in files:
                    per_file[str(path)] = read_one_file(path, read_options, shaper, curator, write)
            seconds = time.perf_counter() - started
            for group, pair in profile_pairs(shaper.profile):
                for example in shaper.examples([pair], SourceRef(str(profile_path), 0), group):
                    write(example)
            rejects.flush()
        # The profile as used: its system prompt includes the plugins' contributions, so
        # training, chat and eval all see the same one.
        (staging / PROFILE_FILE).write_text(
            yaml.safe_dump(shaper.profile.model_dump(), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        report = build_report(settings, shaper, profile_path, per_file, stats, lengths, curator, seconds)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        if settings.card:
            from .dataset_card import write_dataset_card

            write_dataset_card(staging, report, lengths, base_path)
    return report


@contextmanager
def fewer_collections(first_generation: int = 20_000):
    """Python's cyclic garbage collector tuned for the streaming loop (6-10% faster, measured).

    The loop allocates millions of short-lived dicts and strings, and each full collection
    walks every tracked object, including the hundreds of thousands that the tokenizer's
    imports (torch, transformers) left behind. `gc.freeze()` moves those out of the
    collector's sight, and a larger first generation collects less often. Records build no
    reference cycles, so memory stays flat (benchmarks/prepare_scale.py measures it).
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(first_generation, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


BATCH_RECORDS = 256  # near-duplicate hashing is vectorised over this many records' pairs


def read_one_file(path: Path, options: ReadOptions, shaper: PairShaper, curator: Curator, write: Writer) -> dict:
    counts = {"conversations": 0, "faq_entries": 0, "messages": 0, "unreadable": 0, "pairs": 0}
    pending: list[list[Example]] = []  # each record's examples, in input order
    for item in read_file(path, options):
        if isinstance(item, Rejected):
            counts["unreadable"] += 1
            curator.unreadable(item)
            continue
        is_faq = hasattr(item, "question")
        counts["faq_entries" if is_faq else "conversations"] += 1
        counts["messages"] += 2 if is_faq else len(item.messages)
        record = curator.record(item)
        if record is not None:
            pending.append(list(shaper.examples(shaper.pairs(record), record.source, record_group(record),
                                                lambda: message_list(record))))
        if len(pending) >= BATCH_RECORDS:
            counts["pairs"] += write_batch(pending, shaper, curator, write)
    counts["pairs"] += write_batch(pending, shaper, curator, write)
    return counts


def write_batch(pending: list[list[Example]], shaper: PairShaper, curator: Curator, write: Writer) -> int:
    """Near duplicates out (in input order, so the first of twins stays), then each
    record's pairs fitted and written; the rejects so far go out in input order."""
    flags = iter(curator.near_duplicates([e.messages for examples in pending for e in examples]))
    written = 0
    for examples in pending:
        kept = []
        for example in examples:
            if next(flags):
                shaper.stats.skip_near_duplicate(example)
            else:
                kept.append(example)
        write.lengths.counter.prime(kept)
        written += sum(write(example) for example in kept)
    pending.clear()
    shaper.stats.rejects.flush()
    return written
