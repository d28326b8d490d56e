"""Input readers: chat logs and FAQs in several file formats -> Conversation / FaqEntry.

Every reader streams (JSON Lines, CSV and transcripts are read line by line; only .json
documents and Markdown are small enough to read whole) and every problem with a file
surfaces as a one-line `InputError` naming the file and line, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import AssistantError, InputError
from ..records import Conversation, FaqEntry
from .chat_jsonl import faq_keys, read_chat_jsonl, read_faq_json, read_sharegpt
from .csv_files import read_csv_log, read_faq_table, open_table
from .columns import (
    ANSWER_KEYS, CONVERSATION_KEYS, QUESTION_KEYS, SPEAKER_KEYS, TEXT_KEYS, find_column,
)  # fmt: skip
from .jsonio import iter_json_document, iter_jsonl
from .markdown_faq import read_markdown_faq
from .options import FORMATS, ReadOptions
from .speakers import DEFAULT_SPEAKER_MAP
from .text import show
from .transcript import read_transcript

__all__ = [
    "DEFAULT_SPEAKER_MAP", "FORMATS", "ReadOptions",
    "detect_format", "iter_input_files", "read_file", "read_inputs",
]  # fmt: skip

USABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".txt", ".md")
# Files shipped beside data sets (licences, provenance notes) are not chat logs; a
# directory scan skips them so `assistant ... data/` does not fail on LICENSE.txt.
NOT_DATA_STEMS = {"license", "licence", "readme", "source", "notice", "copying", "changelog",
                  "authors", "citation"}  # fmt: skip

Record = Conversation | FaqEntry


def _tabular(path: Path) -> bool:
    return path.suffix.lower() == ".tsv"


_READERS: dict[str, Callable[[Path, ReadOptions], Iterator[Record]]] = {
    "chat-jsonl": read_chat_jsonl,
    "sharegpt": read_sharegpt,
    "faq-json": read_faq_json,
    "csv-log": lambda p, o: read_csv_log(p, o, tab=_tabular(p)),
    "faq-csv": lambda p, o: read_faq_table(p, o, tab=_tabular(p)),
    "faq-tsv": lambda p, o: read_faq_table(p, o, tab=True),
    "transcript": read_transcript,
    "faq-md": read_markdown_faq,
}
assert set(_READERS) == set(FORMATS)


def _cannot_tell(path: Path, line: int | None, why: str, candidates: Iterable[str] = FORMATS) -> InputError:
    hint = ", ".join(candidates)
    return InputError(path, line, f"cannot tell the format ({why}); pass --format one of {hint}")


def _json_format(path: Path, line: int, record: Any, options: ReadOptions) -> str:
    """The format of a JSON file, judged by the keys of its first record."""
    json_formats = ("chat-jsonl", "sharegpt", "faq-json")
    if not isinstance(record, dict):
        raise _cannot_tell(path, line, "expected JSON objects, got something else", json_formats)
    if "messages" in record:
        return "chat-jsonl"
    if "conversations" in record:
        return "sharegpt"
    if None not in faq_keys(record, options):
        return "faq-json"
    keys = show(", ".join(map(str, record)), 200) or "none"
    why = (f"found keys: {keys}; expected 'messages' for chat-jsonl, 'conversations' for sharegpt, "
           f"or question and answer keys for faq-json")
    raise _cannot_tell(path, line, why, json_formats)


def _table_format(path: Path, options: ReadOptions) -> str:
    table = open_table(path, _tabular(path))
    if table.names is None:
        raise InputError(path, None, "file is empty (expected a header row, then one record per row)")
    table.close()
    names = table.names
    log = [(options.conversation_column, CONVERSATION_KEYS), (options.speaker_column, SPEAKER_KEYS),
           (options.text_column, TEXT_KEYS)]
    if all(find_column(names, wanted, keys) is not None for wanted, keys in log):
        return "csv-log"
    faq = [(options.question_column, QUESTION_KEYS), (options.answer_column, ANSWER_KEYS)]
    if all(find_column(names, wanted, keys) is not None for wanted, keys in faq):
        return "faq-tsv" if _tabular(path) else "faq-csv"
    why = (f"found columns: {show(', '.join(names), 200)}; expected conversation, speaker and text columns "
           f"for a chat log, or question and answer columns for an FAQ")
    raise _cannot_tell(path, table.header_line, why, ("csv-log", "faq-tsv" if _tabular(path) else "faq-csv"))


def detect_format(path: Path, options: ReadOptions | None = None) -> str:
    """The format of `path`, from its extension and a look at its first record."""
    path, options = Path(path), options or ReadOptions()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        records = (iter_jsonl(path, "JSON objects, one per line") if suffix == ".jsonl"
                   else iter_json_document(path, "a JSON array of objects"))
        first = next(records, None)
        records.close()
        if first is None:
            raise InputError(
                path, None, "the JSON document holds no records (expected a JSON array of objects)"
            )
        return _json_format(path, first[0], first[1], options)
    if suffix in (".csv", ".tsv"):
        return _table_format(path, options)
    if suffix == ".txt":
        return "transcript"
    if suffix in (".md", ".markdown"):
        return "faq-md"
    why = f"unknown extension '{show(suffix) or '(none)'}'; expected .jsonl, .json, .csv, .tsv, .txt or .md"
    raise _cannot_tell(path, None, why)


def read_file(path: Path, options: ReadOptions | None = None) -> Iterator[Record]:
    """Stream the conversations or FAQ entries of one file."""
    options = options or ReadOptions()
    options.validate()
    path = Path(path)
    if path.is_dir():
        raise InputError(path, None, "is a directory, expected a file")
    fmt = options.format or detect_format(path, options)
    yield from _READERS[fmt](path, options)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _usable(path: Path) -> bool:
    return path.suffix.lower() in USABLE_SUFFIXES and path.stem.lower() not in NOT_DATA_STEMS


def _scan_dir(directory: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # prune .git, .cache, ...
        found += [Path(root, f) for f in files if not f.startswith(".") and _usable(Path(f))]
    if not found:
        raise AssistantError(
            f"{directory}: no usable input files (expected .jsonl, .json, .csv, .tsv, .txt or .md files)"
        )
    return sorted(found)


def iter_input_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files to read: directories expanded recursively (sorted, hidden entries skipped)."""
    result: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            candidates = _scan_dir(path)
        elif path.exists():
            candidates = [path]
        else:
            raise AssistantError(f"{path}: no such file or directory")
        result += [p for p in candidates if p not in result]
    return result


def read_inputs(paths: Iterable[str | Path], options: ReadOptions | None = None) -> Iterator[Record]:
    """Every record of every input file, file by file."""
    files = iter_input_files(paths)
    for path in files:
        yield from read_file(path, options)
