"""Formatter output to written examples: the brand's shaping, the plugins' filters, and
fitting each example under the token limit. Used by `prepare`."""

from __future__ import annotations

import re
import statistics

import regex  # transformers' own dependency; unlike re it knows \p{L} and \p{N}

from .brand import BrandProfile
from .chat_format import count_tokens
from .errors import AssistantError
from .pairs import Example, PairStats, shape_example
from .plugin_types import FormatContext, Pair, Skip
from .records import SourceRef


class TokenCounter:
    """Tokens of a chat example without rendering the chat template for each one.

    A ChatML-style template wraps every message in the same markers, so an example's
    length is the sum of its messages' token counts plus a fixed cost per message and
    role. Those costs are measured once against the real template; if the template is
    not additive that way, every count falls back to rendering. Message counts are kept
    for the current record only (its examples share messages), so memory stays flat.
    The test suite checks the sum against the rendered count on real data.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        self.cache: dict[str, int] = {}
        self.pieces = PieceCounter(self.backend) if PieceCounter.applies(self.backend) else None
        self.role_cost = self._calibrate()

    def _encode(self, texts: list[str]) -> list[int]:
        if self.pieces is not None:
            return self.pieces.count_many(texts)
        if self.backend is not None:
            return [len(e.ids) for e in self.backend.encode_batch_fast(texts, add_special_tokens=False)]
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _calibrate(self) -> dict[str, int] | None:
        def exact(messages):
            return count_tokens(self.tokenizer, messages)

        try:
            system = {"role": "system", "content": "Be brief."}
            base = exact([system])
            cost = {"system": base - self._encode(["Be brief."])[0]}
            for role in ("user", "assistant"):
                cost[role] = exact([system, {"role": role, "content": "Hello there"}]) - base - self._encode(["Hello there"])[0]
            probe = [system, {"role": "user", "content": "Is 12 ok?\nYes, café."}, {"role": "assistant", "content": "Sure: «ok» 🙂"}]
            return cost if self._sum(probe, cost) == exact(probe) else None
        except Exception:  # a template that needs alternation or more: render every time
            return None

    def _sum(self, messages: list[dict], cost: dict[str, int]) -> int:
        cache, total = self.cache, 0
        try:
            for m in messages:  # the common case: every message counted by prime()
                total += cache[m["content"]] + cost[m["role"]]
            return total
        except KeyError:
            missing = [m["content"] for m in messages if m["content"] not in cache]
            cache.update(zip(missing, self._encode(missing)))
            return sum(cache[m["content"]] + cost[m["role"]] for m in messages)

    def count(self, messages: list[dict]) -> int:
        if self.role_cost is None:
            return count_tokens(self.tokenizer, messages)
        return self._sum(messages, self.role_cost)

    def prime(self, examples: list[Example]) -> None:
        """Start a new record: forget the last one's messages and tokenize this one's in
        one call (a call costs far more than the few texts in it). System prompts stay."""
        system = {m["content"]: self.cache.get(m["content"]) for e in examples for m in e.messages[:1]}
        self.cache = {text: n for text, n in system.items() if n is not None}
        # An example's context is earlier examples' last exchanges: the system prompt and each
        # example's last two messages cover the record (count() adds anything they miss).
        texts = list(dict.fromkeys(m["content"] for e in examples for m in e.messages[-2:]))
        missing = [text for text in texts if text not in self.cache]
        if missing and self.role_cost is not None:
            self.cache.update(zip(missing, self._encode(missing)))


class PieceCounter:
    """Token counts for byte-level BPE tokenizers (GPT-2 style, as SmolLM2's), 3-5x
    faster than the tokenizer itself on one core.

    Why by hand: the tokenizer splits text with the GPT-2 regex and then runs BPE on each
    piece; chat text repeats the same pieces ("Thanks", " order", " your") endlessly, so
    counting each distinct piece once and remembering it skips nearly all the work. For
    splitting, GPT2 is the tokenizer's own regex (GPT2_ASCII is the same on ASCII text, and
    faster). Text that may hold special tokens goes to the tokenizer, and counts are
    checked against it on the first 500 texts and every 1,000th after; one disagreement
    turns this off for good.
    """

    GPT2_ASCII = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")
    GPT2 = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
    NON_ASCII = re.compile(r"[^\x00-\x7f]")
    MAX_PIECES = 200_000  # bounded memory: the cache starts over when full

    def __init__(self, backend):
        self.backend = backend
        self.cache: dict[str, int] = {}  # piece -> tokens
        self.heads: dict[str, int] = {}  # a text's first space-separated word -> tokens
        self.tails: dict[str, int] = {}  # a later word -> tokens of " " + word
        self.checked = 0
        self.enabled = True
        self.newline = len(backend.encode("\n", add_special_tokens=False).ids)
        self.digits_apart = self._digits_are_apart()

    @staticmethod
    def applies(backend) -> bool:
        pre = getattr(backend, "pre_tokenizer", None)
        return (backend is not None and backend.normalizer is None and type(pre).__name__ == "ByteLevel"
                and getattr(pre, "use_regex", False) and not getattr(pre, "add_prefix_space", True))

    def _exact(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.backend.encode_batch_fast(texts, add_special_tokens=False)]

    def _count(self, text: str) -> int:
        if text.isprintable():
            return self._count_line(text)
        if "\n" in text and "\n\n" not in text and " \n" not in text and "\n " not in text:
            # A newline between two non-spaces is a piece of its own, so lines count apart.
            lines = text.split("\n")
            if all(map(str.isprintable, lines)):
                return sum(map(self._count_line, lines)) + (len(lines) - 1) * self.newline
        return self._count_pieces(text)

    def _count_line(self, text: str) -> int:
        if "  " in text:
            return self._count_pieces(text)
        # Single spaces are the only whitespace, so every space starts a piece and no
        # piece spans one: the count is the first word's plus each " word"'s, and whole
        # space-separated words repeat even more than pieces do.
        words = text.split(" ")
        try:
            return self.heads[words[0]] + sum(map(self.tails.__getitem__, words[1:]))
        except KeyError:
            return self._count_words(words)

    def _count_words(self, words: list[str]) -> int:
        if len(self.heads) + len(self.tails) >= self.MAX_PIECES:
            self.heads.clear()
            self.tails.clear()
        if words[0] not in self.heads:
            self.heads[words[0]] = self._count_pieces(words[0])
        for word in words[1:]:
            if word not in self.tails:
                self.tails[word] = self._count_pieces(" " + word)
        return self.heads[words[0]] + sum(map(self.tails.__getitem__, words[1:]))

    def _count_pieces(self, text: str) -> int:
        # The ASCII regex splits exactly like GPT2 unless a non-ASCII letter or digit is
        # present (a dash, curly quote or emoji falls in the same class in both).
        ascii_split = text.isascii() or not any(c.isalnum() for c in self.NON_ASCII.findall(text))
        pieces = (self.GPT2_ASCII if ascii_split else self.GPT2).findall(text)
        try:
            return sum(map(self.cache.__getitem__, pieces))  # the common case: all known
        except KeyError:
            pass
        if len(self.cache) >= self.MAX_PIECES:
            self.cache.clear()
        for piece in pieces:
            if piece not in self.cache:
                self.cache[piece] = self._piece_tokens(piece)
        return sum(map(self.cache.__getitem__, pieces))

    def _piece_tokens(self, piece: str) -> int:
        digits = piece[1:] if piece[:1] == " " else piece
        if self.digits_apart and len(digits) > 1 and digits.isascii() and digits.isdigit():
            # Order numbers, amounts and dates are new pieces all the time; with no
            # multi-digit tokens, each digit after the first is a token of its own.
            if digits is piece:
                return len(digits)
            first = " " + digits[0]
            if first not in self.cache:
                self.cache[first] = self._piece_tokens(first)
            return self.cache[first] + len(digits) - 1
        return len(self.backend.encode(piece, add_special_tokens=False).ids)

    def _digits_are_apart(self) -> bool:
        """True if no token holds two digits (with or without the leading-space mark Ġ):
        then BPE never merges digits, and a run of n digits is n tokens."""
        for token in self.backend.get_vocab():
            rest = token[1:] if token[:1] == "Ġ" else token
            if len(rest) >= 2 and rest.isascii() and rest.isdigit():
                return False
        return True

    def count_many(self, texts: list[str]) -> list[int]:
        if not self.enabled:
            return self._exact(texts)
        counts = [self._count(t) if "<|" not in t else None for t in texts]
        slow = [t for t, n in zip(texts, counts) if n is None]
        exact = iter(self._exact(slow) if slow else [])
        counts = [next(exact) if n is None else n for n in counts]
        self.checked += len(texts)
        if self.checked <= 500 or self.checked % 1000 < len(texts):
            if counts != self._exact(texts):
                self.enabled = False
                return self._exact(texts)
        return counts


class LengthTracker:
    """Token lengths per split, and fitting examples under the token limit."""

    def __init__(self, tokenizer, max_tokens: int):
        self.counter, self.max_tokens = TokenCounter(tokenizer), max_tokens
        self.lengths: dict[str, list[int]] = {"train": [], "validation": []}

    def fit(self, example: Example, stats: PairStats) -> tuple[Example | None, int]:
        """Drop the oldest context turns until the example fits; (None, n) if even the
        last customer message and the reply are too long."""
        messages = example.messages
        while True:
            tokens = self.counter.count(messages)
            if tokens <= self.max_tokens:
                example.messages = messages
                return example, tokens
            first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
            later_user = next((i for i, m in enumerate(messages) if m["role"] == "user" and i > first_user), None)
            if later_user is None:
                stats.skip(Skip(f"longer than {self.max_tokens} tokens", "record"), example.source, example.messages)
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
    """Formatter output to examples: brand shaping, then the plugins' filters."""

    def __init__(self, formatter_name: str, context_turns: int, profile: BrandProfile, stats: PairStats):
        from .plugins import registry

        self.registry = registry()
        self.formatter = self.registry.formatter(formatter_name)
        self.domain = self.formatter.domain
        system_prompt = self.registry.system_prompt(profile, self.domain)
        self.profile = profile.model_copy(update={"system_prompt": system_prompt})
        self.context = FormatContext(profile=self.profile, context_turns=context_turns)
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

    def examples(self, items, source: SourceRef, group: str, record_content=lambda: None):
        """`record_content()` (the record's messages, built only when needed) goes to the
        rejects file when the formatter skips the whole conversation."""
        for item in items:
            shaped = item if isinstance(item, Skip) else shape_example(item, self.profile, source, group)
            content = None
            if isinstance(shaped, Skip) and shaped.scope == "conversation":
                content = record_content()
            if not isinstance(shaped, Skip):
                reason = self.registry.filter_reason(shaped.messages, self.profile, self.domain)
                content = shaped.messages
                shaped = Skip(reason, "record") if reason else shaped
            if isinstance(shaped, Skip):
                self.stats.skip(shaped, source, content)
            else:
                yield shaped
