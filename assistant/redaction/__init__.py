"""Personal data out of training data: typed placeholders, consistent within a conversation.

    redactor = Redactor(registry().pii_patterns.values(), keep=["help@acme.example"])
    conversation = redactor.conversation()
    conversation("Mail me at jo@example.com")      -> "Mail me at [EMAIL]"
    conversation("jo@example.com or ann@example.org") -> "[EMAIL] or [EMAIL_2]"

The same value gets the same placeholder throughout one conversation (so a reply that
repeats the customer's e-mail still lines up with it); a second distinct value of a type
gets `[TYPE_2]`, and so on. `Redactor.counts` totals redactions by type for the report.

Patterns come from plugins (`register_pii_patterns`; the built-ins are the core plugin's)
and from the brand profile's `redaction:` section.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ..wordtrie import literal_trie
from .patterns import PiiPattern, digits_of

__all__ = ["PiiPattern", "Redactor", "ConversationRedaction", "Found"]

Found = tuple[int, int, str]  # start, end, type
_DIGIT_RUN = re.compile(r"\d(?:[ .()/-]{0,2}\d)*")
_NOT_DIGITS = str.maketrans("", "", " .()/-")
_NUMERIC_TYPES = {"PHONE", "CARD", "SSN"}


def _digit_count(run: str) -> int:
    return len(run.translate(_NOT_DIGITS))


def longest_digit_run(text: str) -> int:
    """The digits in the longest run of digits split only by up to two of " .()/-"
    ("+44 (20) 7946-0958" has 12)."""
    runs = _DIGIT_RUN.findall(text)
    if not runs:
        return 0
    if "".join(runs).isdigit():  # mostly: plain numbers, nothing between their digits
        return max(map(len, runs))
    return max(map(_digit_count, runs))


class Redactor:
    """Finds PII spans with a set of patterns; overlaps go to the lower priority number,
    then to the longer span. Values in `keep` (the brand's own address, handle, phone
    number) are never redacted."""

    def __init__(self, patterns: Iterable[PiiPattern], keep: Iterable[str] = ()):
        self.patterns = sorted(patterns, key=lambda p: p.priority)
        # Kept values match as written (case aside) or, for numbers, by their digits, so
        # "(555) 014-2200" in the profile also keeps "555-014-2200" in a chat.
        self.keep = {value.strip().lower() for value in keep if value.strip()}
        self.keep_digits = {digits_of(value) for value in keep if len(digits_of(value)) >= 7}
        self.counts: Counter = Counter()
        # Each pattern's pre-test, parsed once: (minimum digit run, required substring, pattern).
        self._tests = [
            (int(p.needs[6:]) if p.needs.startswith("digits") else (1 if p.needs == "digit" else 0),
             p.needs if p.needs in ("@", "://") else "", p)
            for p in self.patterns
        ]
        self._most_digits = max((digits for digits, _, _ in self._tests), default=0)
        self._candidates: dict[tuple[int, bool, bool], list[PiiPattern]] = {}
        keywords = {word for p in self.patterns for word in p.keywords}
        # One scan tells whether any pattern's keyword is in the text (mostly none is).
        self._any_keyword = literal_trie(keywords) if keywords else None

    def _patterns_for(self, text: str) -> list[PiiPattern]:
        """The patterns whose `needs` the text meets, looked up by the few facts they test."""
        facts = (min(longest_digit_run(text), self._most_digits), "@" in text, "://" in text)
        patterns = self._candidates.get(facts)
        if patterns is None:
            digits, at, scheme = facts
            patterns = self._candidates[facts] = [
                pattern for min_digits, substring, pattern in self._tests
                if digits >= min_digits and (not substring or (at if substring == "@" else scheme))
            ]
        return patterns

    def find(self, text: str) -> list[Found]:
        # Cheap facts about the text decide which patterns can match at all: on a million
        # messages, not running a regex is what makes redaction fast.
        lowered, keyword_found = None, None
        candidates = []
        for pattern in self._patterns_for(text):
            if pattern.keywords:
                if keyword_found is None:
                    lowered = text.lower()
                    keyword_found = self._any_keyword.search(lowered) is not None
                if not keyword_found or not any(word in lowered for word in pattern.keywords):
                    continue
            if pattern.prefilter is not None and not pattern.prefilter.search(text):
                continue
            for start, end in pattern.spans(text):
                candidates.append((pattern.priority, start - end, start, end, pattern.type))
        if not candidates:
            return []
        candidates.sort()
        chosen: list[Found] = []
        for _, _, start, end, kind in candidates:
            if self._kept(text[start:end]):
                continue
            if all(end <= s or start >= e for s, e, _ in chosen):
                chosen.append((start, end, kind))
        return sorted(chosen)

    def _kept(self, value: str) -> bool:
        return value.lower() in self.keep or (bool(self.keep_digits) and digits_of(value) in self.keep_digits)

    def conversation(self) -> "ConversationRedaction":
        return ConversationRedaction(self)

    def redact(self, text: str) -> str:
        """One text on its own (a rejected record): placeholders numbered within it."""
        return self.conversation()(text)


class ConversationRedaction:
    """Redacts the messages of one conversation with consistent placeholders."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.placeholders: dict[tuple[str, str], str] = {}
        self.per_type: Counter = Counter()

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, digits_of(value) if kind in _NUMERIC_TYPES else re.sub(r"\s+", "", value).lower())
        if key not in self.placeholders:
            self.per_type[kind] += 1
            n = self.per_type[kind]
            self.placeholders[key] = f"[{kind}]" if n == 1 else f"[{kind}_{n}]"
        return self.placeholders[key]

    def __call__(self, text: str) -> str:
        found = self.redactor.find(text)
        if not found:
            return text
        parts, position = [], 0
        for start, end, kind in found:
            parts += [text[position:start], self.placeholder(kind, text[start:end])]
            position = end
            self.redactor.counts[kind] += 1
        parts.append(text[position:])
        return "".join(parts)
