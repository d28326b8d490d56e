"""What happens to each record between reading and pair building, and to each example
before it is written: the data-quality steps of `prepare`.

Per record: every message cleaned (`cleaning.clean_text`), canned agent turns taken out
(`cleaning.Boilerplate`), personal data replaced by placeholders consistent across the
conversation (`redaction`), and exact duplicates of earlier records caught (`dedup`).
Per example: near duplicates of earlier examples caught. Everything kept out goes to the
rejects log with its source and reason.
"""

from __future__ import annotations

import re
from collections import Counter

from .brand import BrandProfile
from .cleaning import Boilerplate, clean_text
from .dedup import ExactIndex, NearDuplicateIndex
from .records import Conversation, FaqEntry, Message, Rejected
from .redaction import PiiPattern, Redactor
from .rejects import RejectsLog


def profile_patterns(profile: BrandProfile) -> list[PiiPattern]:
    return [
        PiiPattern(f"profile.{i}", p.type, re.compile(p.regex), description=p.description or "brand profile pattern")
        for i, p in enumerate(profile.redaction.patterns, start=1)
    ]


def message_list(record: Conversation | FaqEntry) -> list[dict]:
    if isinstance(record, Conversation):
        return [{"role": m.role, "content": m.content} for m in record.messages]
    return [{"role": "user", "content": record.question}, {"role": "assistant", "content": record.answer}]


class Curator:
    def __init__(self, profile: BrandProfile, rejects: RejectsLog, patterns: list[PiiPattern] | None,
                 deduplicate: bool = True):
        """`patterns` None turns redaction off (`--no-redact`)."""
        self.rejects = rejects
        self.boilerplate = Boilerplate.build(profile.boilerplate)
        self.redactor = None
        if patterns is not None:
            self.redactor = Redactor([*patterns, *profile_patterns(profile)], keep=profile.redaction.keep)
        self.deduplicate = deduplicate
        self.exact, self.near = ExactIndex(), NearDuplicateIndex()
        self.sign_off = profile.sign_off.strip()
        self.messages_cleaned = 0
        self.duplicates = Counter()

    @property
    def redactions(self) -> Counter:
        return self.redactor.counts if self.redactor else Counter()

    def clean(self, text: str) -> str:
        cleaned = clean_text(text)
        self.messages_cleaned += cleaned != text
        return cleaned

    def unreadable(self, item: Rejected) -> None:
        text = self.redactor.redact(item.text) if self.redactor else item.text
        self.rejects.add("record", item.reason, item.source, text)

    def record(self, record: Conversation | FaqEntry) -> Conversation | FaqEntry | None:
        """The record cleaned and redacted, or None if it is an exact duplicate."""
        redact = self.redactor.conversation() if self.redactor else (lambda text: text)
        if isinstance(record, Conversation):
            messages = []
            for message in record.messages:
                text = redact(self.clean(message.content))
                kind = self.boilerplate.kind(text) if message.role == "assistant" else None
                if kind:
                    self.rejects.add("turn", f"canned agent turn ({kind})", record.source, text)
                else:
                    messages.append(message if text == message.content else Message(message.role, text))
            record = Conversation(record.id, messages, record.source, record.metadata)
        else:
            question, answer = (redact(self.clean(t)) for t in (record.question, record.answer))
            record = FaqEntry(record.id, question, answer, record.source, record.metadata)
        if self.deduplicate and self._exact_duplicate(record):
            return None
        return record

    def _exact_duplicate(self, record) -> bool:
        if isinstance(record, Conversation):
            key = "\n".join(f"{m.role}: {m.content}" for m in record.messages)
        else:
            key = f"user: {record.question}\nassistant: {record.answer}"
        first = self.exact.seen_before(key, record.source.path, record.source.line)
        if first is None:
            return False
        self.duplicates["exact"] += 1
        self.rejects.add("conversation", "exact duplicate of an earlier record", record.source, message_list(record),
                         duplicate_of=first)
        return True

    def near_duplicates(self, examples: list[list[dict]]) -> list[bool]:
        """For each example (in order): is its final exchange a near twin of an earlier
        example's? A flagged one is counted here; the caller rejects it. The brand's
        sign-off is left out: every reply shares it, so it would make any two look alike."""
        if not self.deduplicate:
            return [False] * len(examples)
        texts = []
        for messages in examples:
            last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            reply = messages[-1]["content"]
            if self.sign_off and reply.endswith(self.sign_off):
                reply = reply[: -len(self.sign_off)]
            texts.append(f"{last_user}\n{reply}")
        flags = self.near.seen_before_many(texts)
        self.duplicates["near"] += sum(flags)
        return flags
