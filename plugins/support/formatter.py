"""The support formatter: multi-turn support logs and FAQs to training pairs.

Pairs come from the project's own `conversation_pairs` (one per agent turn, earlier turns
as context); a pair whose reply is boilerplate becomes a counted `Skip` instead. The
boilerplate turn is still part of the dialogue, so later pairs keep it as context.
"""

from __future__ import annotations

from collections.abc import Iterator

from assistant.pairs import conversation_pairs, faq_pairs
from assistant.plugin_types import FormatContext, Pair, Skip
from assistant.records import Conversation, FaqEntry

from .boilerplate import REASONS, boilerplate_kind


def format_support(record: Conversation | FaqEntry, context: FormatContext) -> Iterator[Pair | Skip]:
    if isinstance(record, FaqEntry):
        yield from faq_pairs(record)
        return
    for item in conversation_pairs(record, context.context_turns):
        kind = boilerplate_kind(item.reply) if isinstance(item, Pair) else None
        yield Skip(REASONS[kind], "turn") if kind else item
