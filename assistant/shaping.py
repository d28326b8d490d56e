"""Formatter output to written examples: the brand's shaping, the plugins' filters, and
fitting each example under the token limit. Used by `prepare`."""

from __future__ import annotations

import statistics

from .brand import BrandProfile
from .chat_format import count_tokens
from .errors import AssistantError
from .pairs import Example, PairStats, shape_example
from .plugin_types import FormatContext, Pair, Skip
from .records import SourceRef


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

    def examples(self, items, source: SourceRef, group: str, record_content=None):
        """`record_content` (the record's messages) goes to the rejects file when the
        formatter skips the whole conversation."""
        for item in items:
            shaped = item if isinstance(item, Skip) else shape_example(item, self.profile, source, group)
            content = record_content if isinstance(shaped, Skip) and shaped.scope == "conversation" else None
            if not isinstance(shaped, Skip):
                reason = self.registry.filter_reason(shaped.messages, self.profile, self.domain)
                content = shaped.messages
                shaped = Skip(reason, "record") if reason else shaped
            if isinstance(shaped, Skip):
                self.stats.skip(shaped, source, content)
            else:
                yield shaped
