"""`QuickChatModel`: `ChatModel`'s streamed replies (`stream`, `reply`, `prompt_ids`) from
the plain-PyTorch decoder, the `tokenizers` library and the model's jinja chat template.

Each reply is generated the way `ChatModel` has transformers' `generate` do it: the same
prompt ids, stop tokens and logits processing (repetition penalty over prompt and reply,
then for sampling temperature, top-k 50, top-p, one multinomial draw from the global torch
generator), so a seeded reply is the same either way.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ..errors import AssistantError
from ..generation import GenerationSettings, fit_prompt
from .llama import (LlamaDecoder, Unsupported, adapter_unsupported_reason, generation_unsupported_reason,
                    load_checkpoint, merge_lora, unsupported_reason)
from .tokenizer import ChatTokenizer

TOP_K = 50  # transformers' default top-k for sampling, which ChatModel leaves in place


class QuickChatModel:
    def __init__(self, decoder: LlamaDecoder, tokenizer: ChatTokenizer, system_prompt: str, has_adapter: bool,
                 top_k: int = TOP_K):
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.stop_ids = tokenizer.stop_ids
        self.system_prompt = system_prompt
        self.has_adapter = has_adapter
        self.top_k = top_k

    @classmethod
    def open(cls, model_dir: str | Path, system_prompt: str, adapter_dir: Path | None = None) -> "QuickChatModel":
        """The model in `model_dir` (with `adapter_dir`'s LoRA merged in); Unsupported when
        this path would not give transformers' replies, AssistantError for unreadable files."""
        from ..device import default_dtype

        model_dir = Path(model_dir)
        config = read_config(model_dir / "config.json", required=True)
        generation = read_config(model_dir / "generation_config.json", required=False)
        adapter = read_config(adapter_dir / "adapter_config.json", required=True) if adapter_dir else {}
        reason = (unsupported_reason(config) or generation_unsupported_reason(generation)
                  or (adapter_unsupported_reason(adapter) if adapter_dir else None))
        if reason:
            raise Unsupported(reason)
        if not (model_dir / "tokenizer.json").is_file():
            raise Unsupported(f"{model_dir} has no tokenizer.json")
        with errors_naming(model_dir / "tokenizer.json"):
            tokenizer = ChatTokenizer(model_dir)
        with errors_naming(model_dir):
            weights = load_checkpoint(model_dir, default_dtype())
        if adapter_dir is not None:
            with errors_naming(adapter_dir):
                merge_lora(weights, adapter_dir)
        with errors_naming(model_dir):
            decoder = LlamaDecoder(config, weights)
        top_k = generation.get("top_k")  # as transformers: unset means its default, 0 means no top-k
        return cls(decoder, tokenizer, system_prompt, adapter_dir is not None, TOP_K if top_k is None else top_k)

    # -- prompts (as ChatModel.prompt_ids) -------------------------------------------------

    def prompt_ids(self, history: list[dict], max_new_tokens: int, system_prompt: str | None = None) -> list[int]:
        import jinja2

        try:
            return fit_prompt(self.tokenizer.encode_chat, system_prompt or self.system_prompt, history,
                              self.decoder.context_limit, max_new_tokens)
        except jinja2.TemplateError as exc:
            raise AssistantError(f"the model's chat template refused the conversation ({exc})") from None

    # -- generation ------------------------------------------------------------------------

    def stream(self, history: list[dict], settings: GenerationSettings | None = None, tuned: bool = True) -> Iterator[str]:
        """Yield the reply's text piece by piece; `tuned` has no effect (the adapter, if
        any, is merged into the weights at load)."""
        settings = settings or GenerationSettings()
        reply: list[int] = []
        shown = ""
        for token in self.generate(self.prompt_ids(history, settings.max_new_tokens), settings):
            reply.append(token)
            text = self.tokenizer.decode(reply)
            if len(text) > len(shown) and not text.endswith("\ufffd"):  # hold back a half-decoded character
                yield text[len(shown):]
                shown = text
        text = self.tokenizer.decode(reply)
        if text != shown:
            yield text[len(shown):]

    def reply(self, history: list[dict], settings: GenerationSettings | None = None, tuned: bool = True) -> str:
        return "".join(self.stream(history, settings, tuned)).strip()

    def generate(self, prompt: list[int], settings: GenerationSettings) -> Iterator[int]:
        """The reply's token ids, ending with the stop token when one comes."""
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        seen = torch.tensor([prompt])
        step_input, cache = seen, []
        for _ in range(settings.max_new_tokens):
            token = next_token(self.decoder.next_token_logits(step_input, cache), seen, settings, self.top_k)
            yield token
            if token in self.stop_ids:
                return
            step_input = torch.tensor([[token]])
            seen = torch.cat([seen, step_input], dim=1)


def next_token(logits: torch.Tensor, seen: torch.Tensor, settings: GenerationSettings, top_k: int = TOP_K) -> int:
    """The next token from fp32 `logits` [1, vocab] after the ids `seen` [1, T]: the best
    processed score when greedy, else one draw from the processed scores' softmax."""
    scores = processed_scores(logits, seen, settings, top_k)
    if settings.temperature <= 0:
        return int(torch.argmax(scores, dim=-1))
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, num_samples=1).squeeze(1))


def processed_scores(logits: torch.Tensor, seen: torch.Tensor, settings: GenerationSettings,
                     top_k: int = TOP_K) -> torch.Tensor:
    """`logits` as transformers' RepetitionPenalty, then (sampling only) Temperature, TopK
    and TopP logits processors leave them, in that order."""
    scores = logits
    if settings.repetition_penalty != 1.0:
        padded = torch.nn.functional.pad(scores, (0, 1))
        ids = seen.clamp(max=scores.shape[-1])
        score = torch.gather(padded, 1, ids)
        score = torch.where(score < 0, score * settings.repetition_penalty, score / settings.repetition_penalty)
        scores = padded.scatter(1, ids, score)[..., :scores.shape[-1]]
    if settings.temperature <= 0:
        return scores
    if settings.temperature != 1.0:
        scores = scores / settings.temperature
    if top_k:
        kth_best = torch.topk(scores, min(top_k, scores.shape[-1]))[0][..., -1, None]
        scores = scores.masked_fill(scores < kth_best, -float("inf"))
    if settings.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        below = sorted_scores.softmax(dim=-1).cumsum(dim=-1) <= (1 - settings.top_p)
        below[..., -1:] = 0
        scores = scores.masked_fill(below.scatter(1, order, below), -float("inf"))
    return scores


def read_config(path: Path, required: bool) -> dict:
    """A JSON settings file as a dict ({} when absent and not required)."""
    if not required and not path.is_file():
        return {}
    with errors_naming(path):
        return json.loads(path.read_text(encoding="utf-8"))


@contextmanager
def errors_naming(path: Path):
    """Any failure reading `path` as one line naming it (safetensors, tokenizers and jinja
    each raise their own error types)."""
    try:
        yield
    except Unsupported:
        raise
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AssistantError(f"{path}: cannot load for chat ({reason[:200]})") from None
