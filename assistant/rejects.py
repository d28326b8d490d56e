"""The rejects file: everything read that did not become a training pair, and why.

One JSON line per rejected item, in input order (prepare works in small batches of records;
lines are held per batch and written sorted by their line in the file):

    {"source":"logs/chats.jsonl:17","kind":"record","reason":"invalid JSON (...)",
     "content":"{\"messages\": [..."}

kind:     "record" (could not be read), "conversation" (a whole record kept out: empty,
          one-sided, exact duplicate), "turn" (one agent turn: canned boilerplate, or an
          agent turn before any customer message), "example" (one pair: too long, banned
          phrase, a plugin's veto, near duplicate).
content:  what was rejected, already cleaned and redacted like the training data (a
          record that could not be read is redacted as plain text), so the rejects file
          never holds personal data the training files would not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, BinaryIO

from .jsonl import dumps_line

KINDS = ("record", "conversation", "turn", "example")
REJECTS_FILE = "rejects.jsonl"


class RejectsLog:
    def __init__(self, handle: BinaryIO | None):
        self.handle = handle
        self.pending: list[tuple[int, bytes]] = []
        self.counts: dict[str, Counter] = {kind: Counter() for kind in KINDS}
        self.first_at: dict[tuple[str, str], str] = {}

    def add(self, kind: str, reason: str, source: Any, content: Any = None, **detail) -> None:
        """Count one rejected item and write its line; `detail` adds fields (duplicate_of)."""
        self.counts[kind][reason] += 1
        if (kind, reason) not in self.first_at:
            self.first_at[(kind, reason)] = str(source)
        if self.handle is not None:
            line = {"source": str(source), "kind": kind, "reason": reason, **detail}
            if content is not None:
                line["content"] = content
            self.pending.append((getattr(source, "line", 0), dumps_line(line)))

    def flush(self) -> None:
        """Write the held lines in file order (the sort is stable: ties keep their order)."""
        if self.handle is not None:
            self.handle.writelines(text for _, text in sorted(self.pending, key=lambda item: item[0]))
        self.pending.clear()

    def total(self, kind: str | None = None) -> int:
        kinds = [kind] if kind else KINDS
        return sum(sum(self.counts[k].values()) for k in kinds)

    def summary(self, kind: str) -> dict:
        return {
            reason: {"count": n, "first_at": self.first_at[(kind, reason)]}
            for reason, n in self.counts[kind].most_common()
        }
