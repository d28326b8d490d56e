"""The plain data types that flow from readers into pair building.

Readers yield `Conversation` and `FaqEntry` objects; every object remembers where it
came from (`SourceRef`) so that anything dropped later can be reported by file and line.
Asked to go on past bad records (`ReadOptions(on_bad_record="reject")`), they yield a
`Rejected` in place of a record they cannot read, so it can go to the rejects file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class SourceRef:
    """Where a record starts: the file and its 1-based line (CSV: the row's line)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Message:
    role: str  # one of ROLES
    content: str


@dataclass
class Conversation:
    """One multi-turn chat log. `id` is stable across runs (used for the split)."""

    id: str
    messages: list[Message]
    source: SourceRef
    metadata: dict = field(default_factory=dict)


@dataclass
class FaqEntry:
    """One question with its answer."""

    id: str
    question: str
    answer: str
    source: SourceRef
    metadata: dict = field(default_factory=dict)


@dataclass
class Rejected:
    """An input record that could not be read (invalid JSON, wrong shape, unknown speaker)."""

    source: SourceRef
    reason: str
    text: str  # the record as it appears in the file, for the rejects file
