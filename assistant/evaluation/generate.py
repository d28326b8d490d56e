"""Batched greedy replies to whole conversations, base (adapter off) or tuned (on).

Single-turn cases go through `ChatModel.generate_batch`; multi-turn ones through
`generate_histories`, which mirrors it but builds each prompt from a message list with
`ChatModel.prompt_ids`. Cases are batched shortest-first (less padding), and the replies
come back in the cases' order.
"""

from __future__ import annotations

from ..generation import GENERATION_BATCH, ChatModel, GenerationSettings
from .cases import Case


def generate_histories(
    chat: ChatModel, histories: list[list[dict]], settings: GenerationSettings, tuned: bool,
    batch_size: int = GENERATION_BATCH,
) -> list[str]:
    """One reply per conversation (each ending with a user message), left-padded in batches."""
    import torch

    replies: list[str] = []
    for start in range(0, len(histories), batch_size):
        chunk = [chat.prompt_ids(history, settings.max_new_tokens) for history in histories[start : start + batch_size]]
        batch = chat.tokenizer.pad({"input_ids": chunk}, padding_side="left", return_tensors="pt")
        batch = {k: v.to(chat.model.device) for k, v in batch.items()}
        with chat.lock, chat.adapter(tuned), torch.inference_mode():
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            output = chat.model.generate(**batch, **chat._generate_kwargs(settings))
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        replies += [t.strip() for t in chat.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return replies


def generate_replies(
    chat: ChatModel, cases: list[Case], settings: GenerationSettings, tuned: bool,
    batch_size: int = GENERATION_BATCH,
) -> list[str]:
    """The replies to every case, in the cases' order."""
    order = sorted(range(len(cases)), key=lambda i: sum(len(m["content"]) for m in cases[i].history))
    ordered = [cases[i] for i in order]
    if all(case.single_turn for case in ordered):
        replies = chat.generate_batch([case.prompt for case in ordered], settings, tuned=tuned, batch_size=batch_size)
    else:
        replies = generate_histories(chat, [case.history for case in ordered], settings, tuned, batch_size)
    result = [""] * len(cases)
    for position, index in enumerate(order):
        result[index] = replies[position]
    return result
