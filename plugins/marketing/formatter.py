"""The marketing formatter: product briefs and campaign requests to copywriting pairs.

Product briefs (the shared Magento data) already hold the brief in the question ("Write the
product description for this item.\nProduct name: ...\nCategory: ..."); only catalog
internals are dropped. Campaign requests carry their brief in separate keys (`channel`,
`product`, `audience`, `brief`, ...): the prompt is the request followed by one
"Key: value" line per key, so the channel is always written "Channel: <name>", which the
length evaluator reads back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from assistant.pairs import conversation_pairs, faq_pairs
from assistant.plugin_types import FormatContext, Pair, Skip
from assistant.records import Conversation, FaqEntry

# Brief keys in the order a copywriter reads them.
BRIEF_KEYS = ("channel", "product", "audience", "brief", "offer", "tone", "call_to_action", "deadline", "keywords")
# Catalog fields that say nothing a shopper reads ("url key: chaz-kangeroo-hoodie").
INTERNAL_LINE = re.compile(r"^\s*(?:url key|visibility|sku|entity id|attribute set)\s*:.*$\n?", re.IGNORECASE | re.MULTILINE)


def _value(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def brief_lines(metadata: dict) -> list[str]:
    lines = [f"{key.replace('_', ' ').capitalize()}: {_value(metadata[key])}"
             for key in BRIEF_KEYS if metadata.get(key) not in (None, "", [])]
    attributes = metadata.get("attributes")
    if isinstance(attributes, dict):  # product attributes: {"material": "Wool", ...}
        lines += [f"{name}: {_value(value)}" for name, value in attributes.items() if _value(value)]
    return lines


def format_marketing(record: Conversation | FaqEntry, context: FormatContext) -> Iterator[Pair | Skip]:
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
        return
    question = INTERNAL_LINE.sub("", record.question).strip()
    lines = brief_lines(record.metadata)
    if lines:
        question = "\n".join([question, *lines])
    yield from faq_pairs(replace(record, question=question))
