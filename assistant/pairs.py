"""From records to instruction pairs (OpenAI chat examples) shaped by a brand profile.

Two steps. A formatter (the default one is here; plugins add domain ones) turns a record
into `Pair`s (context + reply) and `Skip`s (a reason). `shape_example` then applies the
brand: system prompt first, sign-off appended, earlier agent turns kept with `"weight": 0`
so they are not trained twice, banned phrases dropped. Every `Skip` is counted in
`PairStats` with the first place it happened; nothing disappears unreported.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from .brand import BrandProfile
from .plugin_types import FormatContext, Pair, Skip
from .records import Conversation, FaqEntry, Message, SourceRef
from .rejects import RejectsLog


@dataclass
class Example:
    messages: list[dict]
    source: SourceRef
    group: str  # the conversation or FAQ id: the unit of the train/validation split

    def to_json(self) -> dict:
        return {"messages": self.messages}


SCOPE_KIND = {"conversation": "conversation", "turn": "turn", "record": "example"}  # Skip scope -> rejects kind


@dataclass
class PairStats:
    """Every skip, counted in the rejects log (prepare gives it the rejects file, so each
    one is also written out with its content)."""

    rejects: RejectsLog = field(default_factory=lambda: RejectsLog(None))

    @property
    def skipped(self) -> dict[str, Counter]:
        """Skips counted by scope and reason."""
        return {scope: self.rejects.counts[kind] for scope, kind in SCOPE_KIND.items()}

    @property
    def first_source(self) -> dict[str, str]:
        """Reason -> the first place it happened."""
        return {reason: where for (_, reason), where in self.rejects.first_at.items()}

    def skip_near_duplicate(self, example: "Example") -> None:
        self.skip(Skip("near duplicate of an earlier example", "record"), example.source, example.messages)

    def skip(self, item: Skip, source: SourceRef, content=None) -> None:
        self.rejects.add(SCOPE_KIND[item.scope], item.reason, source, content)


# -- the default formatter ---------------------------------------------------------------

def default_format(record: Conversation | FaqEntry, context: FormatContext) -> Iterator[Pair | Skip]:
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
    else:
        yield from faq_pairs(record)


def merge_consecutive(messages: list[Message]) -> list[Message]:
    """Join a speaker's back-to-back messages, as a chat template expects alternation."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = Message(message.role, f"{merged[-1].content}\n{message.content}")
        else:
            merged.append(message)
    return merged


def usable_dialogue(conversation: Conversation) -> list[Message] | Skip:
    """The conversation's non-empty user/agent messages, or why it cannot teach anything."""
    dialogue = [m for m in conversation.messages if m.role != "system" and m.content.strip()]
    roles = {m.role for m in dialogue}
    if not dialogue:
        return Skip("empty conversation", "conversation")
    if "assistant" not in roles:
        return Skip("no agent turn (customer only)", "conversation")
    if "user" not in roles:
        return Skip("one-sided (agent only)", "conversation")
    return merge_consecutive(dialogue)


def conversation_pairs(conversation: Conversation, context_turns: int = 6) -> Iterator[Pair | Skip]:
    """One pair per agent turn, with up to `context_turns` earlier messages as context."""
    dialogue = usable_dialogue(conversation)
    if isinstance(dialogue, Skip):
        yield dialogue
        return
    for index, message in enumerate(dialogue):
        if message.role != "assistant":
            continue
        context = dialogue[max(0, index - context_turns) : index]
        while context and context[0].role != "user":
            context = context[1:]
        if not context:
            yield Skip("agent turn before any customer message", "turn")
            continue
        yield Pair(context=context, reply=message.content)


def faq_pairs(entry: FaqEntry) -> Iterator[Pair | Skip]:
    if not entry.question.strip() or not entry.answer.strip():
        yield Skip("FAQ entry with empty question or answer", "record")
        return
    yield Pair(context=[Message("user", entry.question.strip())], reply=entry.answer)


# -- brand shaping -----------------------------------------------------------------------

def record_group(record: Conversation | FaqEntry) -> str:
    return record.id if isinstance(record, Conversation) else f"faq:{record.id}"


def shape_example(pair: Pair, profile: BrandProfile, source: SourceRef, group: str) -> Example | Skip:
    reply = pair.reply.strip()
    banned = profile.banned_phrases_in(reply)
    if banned and profile.on_banned_phrase == "drop":
        return Skip(f"target uses banned phrase '{banned[0]}'", "record")
    messages = [{"role": "system", "content": profile.system_prompt}]
    for m in pair.context:
        if m.role == "assistant":
            messages.append({"role": "assistant", "content": profile.with_sign_off(m.content), "weight": 0})
        else:
            messages.append({"role": m.role, "content": m.content})
    messages.append({"role": "assistant", "content": profile.with_sign_off(reply)})
    return Example(messages=messages, source=source, group=group)


def profile_pairs(profile: BrandProfile) -> Iterator[tuple[str, Pair]]:
    """The profile's example replies are curated brand-voice pairs: train on them too."""
    for i, example in enumerate(profile.example_replies, start=1):
        yield f"profile:{i}", Pair(context=[Message("user", example.user)], reply=example.assistant)


def is_validation(group: str, fraction: float, seed: int) -> bool:
    """Deterministic split by conversation: a hash of the group id, never random state,
    so every example of a conversation lands on the same side, run after run."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
