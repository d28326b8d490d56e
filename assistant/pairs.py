"""From records to instruction pairs (OpenAI chat examples) shaped by a brand profile.

A conversation gives one example per agent turn: the brand system prompt, up to
`context_turns` preceding messages (starting at a customer message), and the agent turn as
the target. Earlier agent turns stay in the context with `"weight": 0` so they are not
trained twice. A FAQ entry gives one single-turn example. Anything that does not become an
example is counted under a reason in `PairStats`; nothing disappears unreported.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from .brand import BrandProfile
from .records import Conversation, FaqEntry, Message, SourceRef


@dataclass
class Example:
    messages: list[dict]
    source: SourceRef
    group: str  # the conversation or FAQ id: the unit of the train/validation split

    def to_json(self) -> dict:
        return {"messages": self.messages}


@dataclass
class PairStats:
    conversations: int = 0
    faq_entries: int = 0
    skipped_conversations: Counter = field(default_factory=Counter)
    skipped_turns: Counter = field(default_factory=Counter)
    skipped_examples: Counter = field(default_factory=Counter)
    first_source: dict = field(default_factory=dict)  # reason -> first place it happened

    def skip(self, counter: Counter, reason: str, source: SourceRef) -> None:
        counter[reason] += 1
        self.first_source.setdefault(reason, str(source))


def merge_consecutive(messages: list[Message]) -> list[Message]:
    """Join a speaker's back-to-back messages, as a chat template expects alternation."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = Message(message.role, f"{merged[-1].content}\n{message.content}")
        else:
            merged.append(message)
    return merged


def conversation_examples(
    conversation: Conversation, profile: BrandProfile, stats: PairStats, context_turns: int = 6
) -> Iterator[Example]:
    stats.conversations += 1
    source = conversation.source
    dialogue = [m for m in conversation.messages if m.role != "system" and m.content.strip()]
    if not dialogue:
        stats.skip(stats.skipped_conversations, "empty conversation", source)
        return
    roles = {m.role for m in dialogue}
    if "assistant" not in roles:
        stats.skip(stats.skipped_conversations, "no agent turn (customer only)", source)
        return
    if "user" not in roles:
        stats.skip(stats.skipped_conversations, "one-sided (agent only)", source)
        return
    dialogue = merge_consecutive(dialogue)
    for index, message in enumerate(dialogue):
        if message.role != "assistant":
            continue
        context = dialogue[max(0, index - context_turns) : index]
        while context and context[0].role != "user":
            context = context[1:]
        if not context:
            stats.skip(stats.skipped_turns, "agent turn before any customer message", source)
            continue
        example = _build_example(profile, context, message.content, source, conversation.id, stats)
        if example is not None:
            yield example


def faq_example(entry: FaqEntry, profile: BrandProfile, stats: PairStats) -> Example | None:
    stats.faq_entries += 1
    if not entry.question.strip() or not entry.answer.strip():
        stats.skip(stats.skipped_examples, "FAQ entry with empty question or answer", entry.source)
        return None
    context = [Message("user", entry.question.strip())]
    return _build_example(profile, context, entry.answer, entry.source, f"faq:{entry.id}", stats)


def profile_examples(profile: BrandProfile, profile_path: str, stats: PairStats) -> Iterator[Example]:
    """The profile's example replies are curated brand-voice pairs: train on them too."""
    for i, pair in enumerate(profile.example_replies, start=1):
        source = SourceRef(profile_path, 0)
        context = [Message("user", pair.user)]
        example = _build_example(profile, context, pair.assistant, source, f"profile:{i}", stats)
        if example is not None:
            yield example


def _build_example(
    profile: BrandProfile,
    context: list[Message],
    reply: str,
    source: SourceRef,
    group: str,
    stats: PairStats,
) -> Example | None:
    banned = profile.banned_phrases_in(reply)
    if banned and profile.on_banned_phrase == "drop":
        stats.skip(stats.skipped_examples, f"target uses banned phrase '{banned[0]}'", source)
        return None
    messages = [{"role": "system", "content": profile.system_prompt}]
    for m in context:
        if m.role == "assistant":
            messages.append({"role": "assistant", "content": profile.with_sign_off(m.content), "weight": 0})
        else:
            messages.append({"role": m.role, "content": m.content})
    messages.append({"role": "assistant", "content": profile.with_sign_off(reply.strip())})
    return Example(messages=messages, source=source, group=group)


def is_validation(group: str, fraction: float, seed: int) -> bool:
    """Deterministic split by conversation: a hash of the group id, never random state,
    so every example of a conversation lands on the same side, run after run."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
