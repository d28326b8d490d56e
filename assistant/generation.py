"""Generating replies: streamed for chat, batched for comparisons.

One `ChatModel` holds the base model with the run's LoRA adapter attached. Base replies
come from the same object with the adapter switched off (PEFT's `disable_adapter`), so
base and tuned never need two models in memory.

Tuned replies generated on their own (chat, eval, `reply`, `generate_batch`) run on the
adapted layers' weights merged with their LoRA update, swapped in for the duration: an
unmerged adapter adds two small matmuls and three casts to every adapted layer for every
token, which on a CPU costs a quarter of the generation speed (benchmarks/speed.py
measures both). The merged weights are built on first use (the adapted layers' size once
more in memory). Mixed batches, where base and tuned rows share a forward pass (the
side-by-side app, `assistant serve`), keep the unmerged adapter, which can tell rows apart.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import AssistantError

# Replies generated at once. A decoding step reads every weight whatever the batch, so on a
# CPU a step of 28 rows costs less than two of 8: tuned replies of a 10-step demo run to the
# 28 held-out questions (greedy, up to 120 new tokens, 2 AVX2 cores) took 43.5 s in one batch
# against 90.6 s in batches of 8, identical. A batch waits for its longest reply; 32 holds
# the demo's questions.
GENERATION_BATCH = 32  # generate_batch's default, and `assistant eval`'s and `compare`'s --batch-size
BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch (adapter_names)


def reply_stop_ids(tokenizer) -> list[int]:
    """Token ids that end a reply: the end-of-turn token, and a new turn's start token, which
    must never appear inside one (so generation stops instead of inventing the next turn)."""
    stops = {tokenizer.eos_token_id}
    start_id = tokenizer.convert_tokens_to_ids("<|im_start|>")
    if isinstance(start_id, int) and start_id != tokenizer.unk_token_id:
        stops.add(start_id)
    return sorted(i for i in stops if i is not None)


def fit_prompt(encode, system_prompt: str, history: list[dict], context: int, max_new_tokens: int) -> list[int]:
    """`encode([system, *turns])`'s token ids, dropping the oldest turns until they and
    the reply fit in the model's `context`; a single message too long to fit is refused."""
    budget = context - max_new_tokens
    turns = list(history)
    while True:
        ids = encode([{"role": "system", "content": system_prompt}, *turns])
        if len(ids) <= budget:
            return ids
        if len(turns) <= 1:
            raise AssistantError(f"message too long: {len(ids)} tokens, the model's context allows {budget} "
                                 f"with {max_new_tokens} new tokens")
        turns = turns[2:] if len(turns) > 2 else turns[-1:]


@dataclass
class GenerationSettings:
    max_new_tokens: int = 200
    temperature: float = 0.0  # 0 = greedy, deterministic
    top_p: float = 0.9
    repetition_penalty: float = 1.1  # small models loop without it
    seed: int | None = None


def feed_output_layer_contiguous(model) -> None:
    """Hand the output layer a freshly laid-out copy of its input (a few KB per step).

    Generation's first step slices the last position's hidden states ([batch, 1, d] out of
    [batch, T, d]) for the vocabulary projection. For such a strided input and a frozen bf16
    weight (PEFT freezes the output layer), torch's matmul does not fold the input into a
    matrix: it runs a batched matmul that copies the whole transposed weight, 54 MB for
    SmolLM2's 49k vocabulary, on every prompt. Measured with benchmarks/app_memory.py: the
    app's peak memory 843 MB without this and 739 MB with it, against 709 MB for one plain
    model. A standard layout takes the plain matmul. Idempotent: several ChatModels may wrap
    one model."""
    import torch

    layer = model.get_output_embeddings()
    if layer is None or getattr(layer, "_assistant_contiguous_input", False):
        return

    def relayout(_module, args):
        hidden = args[0]
        return (torch.empty_like(hidden, memory_format=torch.contiguous_format).copy_(hidden), *args[1:])

    layer.register_forward_pre_hook(relayout)
    layer._assistant_contiguous_input = True


class ChatModel:
    def __init__(self, model, tokenizer, system_prompt: str, has_adapter: bool):
        self.model = model.eval()
        feed_output_layer_contiguous(self.model)
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.has_adapter = has_adapter
        self.stop_ids = reply_stop_ids(tokenizer)
        self.lock = threading.Lock()  # one generation at a time per model object
        self._merged: list[tuple] | None = None  # (layer, merged weight), built on first tuned use

    @classmethod
    def from_run(cls, run_dir: str | Path) -> "ChatModel":
        from peft import PeftModel

        from .base_model import load_model, load_tokenizer
        from .rundir import RunDir

        run = RunDir.open(run_dir)
        base_path = run.base_model_path()
        tokenizer = load_tokenizer(base_path)
        model = PeftModel.from_pretrained(load_model(base_path), run.adapter)
        return cls(model, tokenizer, run.profile().system_prompt, has_adapter=True)

    @classmethod
    def from_base(cls, base_model: str | None, system_prompt: str) -> "ChatModel":
        from .base_model import load_model, load_tokenizer, resolve_base_model

        path = resolve_base_model(base_model)
        return cls(load_model(path), load_tokenizer(path), system_prompt, has_adapter=False)

    # -- prompts ---------------------------------------------------------------------------

    def context_limit(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def prompt_ids(self, history: list[dict], max_new_tokens: int, system_prompt: str | None = None) -> list[int]:
        """Token ids of system + history + generation prompt (see `fit_prompt`)."""
        def encode(messages: list[dict]) -> list[int]:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                      return_dict=True)["input_ids"]

        return fit_prompt(encode, system_prompt or self.system_prompt, history, self.context_limit(), max_new_tokens)

    # -- generation ------------------------------------------------------------------------

    def _generate_kwargs(self, settings: GenerationSettings) -> dict:
        kwargs = {
            "max_new_tokens": settings.max_new_tokens,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": settings.repetition_penalty,
        }
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    @contextlib.contextmanager
    def adapter(self, enabled: bool):
        """Run as the tuned model (adapter merged into the weights) or the base model.
        Callers hold `self.lock`, so no other generation sees the swapped weights."""
        if not self.has_adapter:
            yield
            return
        with self.model.disable_adapter():
            if not enabled:
                yield
                return
            swaps = self.merged_weights()
            originals = [layer.weight.data for layer, _ in swaps]
            try:
                for layer, merged in swaps:
                    layer.weight.data = merged
                yield
            finally:
                for (layer, _), original in zip(swaps, originals):
                    layer.weight.data = original

    def merged_weights(self) -> list[tuple]:
        """(base layer, its weight plus the active adapter's update) for every adapted
        layer; the sum is taken in fp32 and rounded once to the weight's dtype."""
        import torch
        from peft.tuners.lora import LoraLayer

        if self._merged is None:
            merged = []
            with torch.no_grad():
                for module in self.model.modules():
                    if not isinstance(module, LoraLayer):
                        continue
                    base = module.get_base_layer()
                    update = sum(module.get_delta_weight(name).float() for name in module.active_adapters)
                    merged.append((base, (base.weight.float() + update).to(base.weight.dtype)))
            self._merged = merged
        return self._merged

    def stream(self, history: list[dict], settings: GenerationSettings | None = None, tuned: bool = True) -> Iterator[str]:
        """Yield the reply's text piece by piece as it is generated."""
        import torch
        from transformers import TextIteratorStreamer

        settings = settings or GenerationSettings()
        ids = self.prompt_ids(history, settings.max_new_tokens)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        inputs = torch.tensor([ids])
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self.lock, self.adapter(tuned), torch.inference_mode():
                    if settings.seed is not None:
                        torch.manual_seed(settings.seed)
                    self.model.generate(
                        input_ids=inputs,
                        attention_mask=torch.ones_like(inputs),
                        streamer=streamer,
                        **self._generate_kwargs(settings),
                    )
            except BaseException as exc:  # surfaced in the consuming thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if errors:
            raise errors[0]

    def reply(self, history: list[dict], settings: GenerationSettings | None = None, tuned: bool = True) -> str:
        return "".join(self.stream(history, settings, tuned)).strip()

    def generate_batch(
        self, prompts: list[str], settings: GenerationSettings | None = None, tuned: bool = True,
        batch_size: int = GENERATION_BATCH,
    ) -> list[str]:
        """Single-turn replies to many prompts, left-padded in batches."""
        import torch

        settings = settings or GenerationSettings()
        replies: list[str] = []
        for start in range(0, len(prompts), batch_size):
            chunk = [self.prompt_ids([{"role": "user", "content": p}], settings.max_new_tokens) for p in prompts[start : start + batch_size]]
            # Left padding: a decoder-only model continues from the right end of each row.
            batch = self.tokenizer.pad({"input_ids": chunk}, padding_side="left", return_tensors="pt")
            with self.lock, self.adapter(tuned), torch.inference_mode():
                if settings.seed is not None:
                    torch.manual_seed(settings.seed)
                output = self.model.generate(**batch, **self._generate_kwargs(settings))
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            replies += [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        return replies
