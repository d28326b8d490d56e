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
from .llama import LlamaDecoder, adapter_unsupported_reason, load_checkpoint, merge_lora, unsupported_reason

TOP_K = 50  # transformers' default top-k for sampling, which ChatModel leaves in place
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class Unsupported(Exception):
    """This model, tokenizer or adapter is not one the quick-start path reproduces."""


class QuickChatModel:
    def __init__(self, decoder: LlamaDecoder, model_dir: Path, system_prompt: str, has_adapter: bool):
        from tokenizers import Tokenizer

        settings = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        self.special = {name: token_text(settings.get(name)) for name in SPECIAL_TOKENS if settings.get(name)}
        self.template = chat_template(model_dir, settings)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.decoder = decoder
        self.system_prompt = system_prompt
        self.has_adapter = has_adapter
        stops = [self.tokenizer.token_to_id(t) for t in (self.special.get("eos_token"), "<|im_start|>") if t]
        self.stop_ids = sorted({i for i in stops if i is not None})
        if not self.stop_ids:
            raise Unsupported("the tokenizer names no end-of-turn token")

    @classmethod
    def open(cls, model_dir: str | Path, system_prompt: str, adapter_dir: Path | None = None) -> "QuickChatModel":
        """The model in `model_dir` (with `adapter_dir`'s LoRA merged in), or Unsupported."""
        from ..device import default_dtype

        model_dir = Path(model_dir)
        for needed in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            if not (model_dir / needed).is_file():
                raise Unsupported(f"{model_dir} has no {needed}")
        with errors_naming(model_dir / "config.json"):
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        reason = unsupported_reason(config)
        if reason is None and adapter_dir is not None:
            with errors_naming(adapter_dir / "adapter_config.json"):
                reason = adapter_unsupported_reason(
                    json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8")))
        if reason:
            raise Unsupported(reason)
        with errors_naming(model_dir):
            weights = load_checkpoint(model_dir, default_dtype())
        if adapter_dir is not None:
            with errors_naming(adapter_dir):
                merge_lora(weights, adapter_dir)
        with errors_naming(model_dir):
            return cls(LlamaDecoder(config, weights), model_dir, system_prompt, has_adapter=adapter_dir is not None)

    # -- prompts (as ChatModel.prompt_ids) -------------------------------------------------

    def prompt_ids(self, history: list[dict], max_new_tokens: int, system_prompt: str | None = None) -> list[int]:
        return fit_prompt(self.encode_chat, system_prompt or self.system_prompt, history,
                          self.decoder.context_limit, max_new_tokens)

    def encode_chat(self, messages: list[dict]) -> list[int]:
        text = self.template.render(messages=messages, add_generation_prompt=True, tools=None, documents=None,
                                    **self.special)
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    # -- generation ------------------------------------------------------------------------

    def stream(self, history: list[dict], settings: GenerationSettings | None = None, tuned: bool = True) -> Iterator[str]:
        """Yield the reply's text piece by piece; `tuned` has no effect (the adapter, if
        any, is merged into the weights at load)."""
        settings = settings or GenerationSettings()
        reply: list[int] = []
        shown = ""
        for token in self.generate(self.prompt_ids(history, settings.max_new_tokens), settings):
            reply.append(token)
            text = self.tokenizer.decode(reply, skip_special_tokens=True)
            if len(text) > len(shown) and not text.endswith("\ufffd"):  # hold back a half-decoded character
                yield text[len(shown):]
                shown = text
        text = self.tokenizer.decode(reply, skip_special_tokens=True)
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
            token = next_token(self.decoder.next_token_logits(step_input, cache), seen, settings)
            yield token
            if token in self.stop_ids:
                return
            step_input = torch.tensor([[token]])
            seen = torch.cat([seen, step_input], dim=1)


def next_token(logits: torch.Tensor, seen: torch.Tensor, settings: GenerationSettings) -> int:
    """The next token from fp32 `logits` [1, vocab] after the ids `seen` [1, T]: the best
    processed score when greedy, else one draw from the processed scores' softmax."""
    scores = processed_scores(logits, seen, settings)
    if settings.temperature <= 0:
        return int(torch.argmax(scores, dim=-1))
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, num_samples=1).squeeze(1))


def processed_scores(logits: torch.Tensor, seen: torch.Tensor, settings: GenerationSettings) -> torch.Tensor:
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
    top_k = min(TOP_K, scores.shape[-1])
    scores = scores.masked_fill(scores < torch.topk(scores, top_k)[0][..., -1, None], -float("inf"))
    if settings.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        below = sorted_scores.softmax(dim=-1).cumsum(dim=-1) <= (1 - settings.top_p)
        below[..., -1:] = 0
        scores = scores.masked_fill(below.scatter(1, order, below), -float("inf"))
    return scores


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


def token_text(value) -> str:
    """A special token as tokenizer_config.json gives it: a string or {"content": ...}."""
    return value["content"] if isinstance(value, dict) else str(value)


def chat_template(model_dir: Path, settings: dict):
    """The model's chat template compiled the way transformers compiles it (sandboxed,
    trim_blocks, lstrip_blocks, loop controls, its tojson and raise_exception)."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    file = model_dir / "chat_template.jinja"
    source = file.read_text(encoding="utf-8") if file.is_file() else settings.get("chat_template")
    if not isinstance(source, str) or "{% generation" in source:
        raise Unsupported("no single plain chat template")

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)
