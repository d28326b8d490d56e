"""Turning chat messages into model inputs with a loss mask on the assistant replies only.

Each training example is OpenAI-shaped: `{"messages": [system, user, assistant, ...]}`.
An assistant message is a training target unless it carries `"weight": 0` (OpenAI's own
convention, so the same file trains hosted models the same way); earlier agent turns kept
as context have weight 0.

The mask is computed on the rendered text, not by guessing token ids: for each target,
the rendered prefix up to it (with the generation prompt) and the rendering including it
give its character span; the reply and its end-of-turn token are labelled, the newline the
template puts after the end-of-turn token is not. Tokens are then labelled by their
character offsets. This works for any chat template whose rendering of a conversation
prefix is a prefix of the whole rendering, and fails loudly for one that is not.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = -100  # the label value transformers' loss skips


def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        plain, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def is_target(message: dict) -> bool:
    return message["role"] == "assistant" and message.get("weight", 1) != 0


def end_of_turn_token(tokenizer) -> str:
    return tokenizer.eos_token


def target_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The full rendered text and the character spans (start, end) of each target reply,
    each span ending just after the reply's end-of-turn token."""
    text = render(tokenizer, messages)
    eot = end_of_turn_token(tokenizer)
    spans = []
    for i, message in enumerate(messages):
        if not is_target(message):
            continue
        prefix = render(tokenizer, messages[:i], add_generation_prompt=True)
        through = render(tokenizer, messages[: i + 1])
        if not (text.startswith(prefix) and text.startswith(through)):
            raise ValueError("chat template is not prefix-stable; cannot mask assistant turns")
        start = len(prefix)
        end = through.rfind(eot, start)
        if end < 0:
            raise ValueError(f"chat template does not end assistant turns with {eot!r}")
        spans.append((start, end + len(eot)))
    return text, spans


@dataclass
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def tokenize_example(tokenizer, messages: list[dict]) -> TokenizedExample:
    """Token ids and labels (IGNORE_INDEX outside target replies) for one example."""
    text, spans = target_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        inside = any(start >= s and end <= e for s, e in spans)
        labels.append(token_id if inside else IGNORE_INDEX)
    return TokenizedExample(input_ids=list(encoded["input_ids"]), labels=labels)


def count_tokens(tokenizer, messages: list[dict]) -> int:
    return len(tokenizer(render(tokenizer, messages), add_special_tokens=False)["input_ids"])
