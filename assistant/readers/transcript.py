"""Plain-text transcripts: "Speaker: text" lines, conversations separated by blank lines
or by a delimiter line ('---' when the file uses it).

Only names the speaker map knows start a message. Inside a conversation an unknown
"Word: text" line is ordinary text ("Note: ...", "Order ID: 42") continuing the previous
message; at the start of a conversation there is no previous message, so it is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..records import Conversation, Message, Rejected, SourceRef
from .options import ReadOptions
from .speakers import build_speaker_map, resolve, unknown_speaker
from .text import empty_error, iter_lines, show

SPEAKER_LINE = re.compile(r"^([A-Za-z][\w .'-]{0,30}):(?:\s|$)")
EXPECTED = "'Speaker: text' lines, conversations separated by blank lines or '---'"
DEFAULT_DELIMITER = "---"


def _uses_dash_delimiter(path: Path) -> bool:
    """A cheap streaming pre-pass: does any line consist of just '---'?"""
    return any(line.strip() == DEFAULT_DELIMITER for line in iter_lines(path))


class _Builder:
    """Collects the lines of one conversation."""

    def __init__(self, path: Path, line: int, error: InputError | None = None):
        self.path, self.line = path, line
        self.turns: list[tuple[str, list[str]]] = []  # (role, lines of the message)
        self.error = error  # a conversation that cannot be read is collected, then rejected
        self.raw: list[str] = []

    def start(self, role: str, text: str) -> None:
        self.turns.append((role, [text]))

    def continue_(self, text: str) -> None:
        self.turns[-1][1].append(text)

    def build(self, options: ReadOptions) -> Conversation | Rejected:
        if self.error is not None:
            return options.reject(self.error, "\n".join(self.raw))
        messages = [Message(role, "\n".join(lines).strip()) for role, lines in self.turns]
        return Conversation(f"{self.path.stem}:{self.line}", messages, SourceRef(str(self.path), self.line))


def _split_speaker(line: str, speakers: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(speaker name or None, role or None, text after the prefix)."""
    match = SPEAKER_LINE.match(line)
    if not match:
        return None, None, line
    name = match.group(1)
    return name, resolve(speakers, name), line[match.end():].strip()


def read_transcript(path: Path, options: ReadOptions) -> Iterator[Conversation | Rejected]:
    speakers = build_speaker_map(options.speaker_map)
    if options.delimiter is not None:
        delimiter = options.delimiter.strip()
    else:
        delimiter = DEFAULT_DELIMITER if _uses_dash_delimiter(path) else None
    current: _Builder | None = None
    any_text = False
    for lineno, raw in enumerate(iter_lines(path), start=1):
        line = raw.rstrip("\r\n").rstrip()
        stripped = line.strip()
        any_text = any_text or bool(stripped)
        if stripped == delimiter or (delimiter is None and not stripped):
            if current is not None:
                yield current.build(options)
            current = None
            continue
        if current is None:
            if not stripped:  # blank lines before a conversation (delimiter mode)
                continue
            current = _first_line(path, lineno, stripped, speakers, options)
            current.raw.append(line)
            continue
        current.raw.append(line)
        if current.error is not None:
            continue
        name, role, text = _split_speaker(line.lstrip(), speakers)
        if role is not None:
            current.start(role, text)
        else:
            current.continue_(line)
    if current is not None:
        yield current.build(options)
    if not any_text:
        raise empty_error(path, EXPECTED)


def _first_line(path: Path, lineno: int, line: str, speakers: dict[str, str], options: ReadOptions) -> _Builder:
    name, role, text = _split_speaker(line, speakers)
    error = None
    if name is None:
        got = show(line, 40)
        error = InputError(path, lineno, f"expected 'Speaker: text' at the start of a conversation, got '{got}'")
    elif role is None:
        error = InputError(path, lineno, unknown_speaker(name, speakers))
    if error is not None:
        options.raise_unless_rejecting(error)
        return _Builder(path, lineno, error)
    builder = _Builder(path, lineno)
    builder.start(role, text)
    return builder
