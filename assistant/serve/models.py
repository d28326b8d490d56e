"""The served models: one base model in memory, every run's adapter loaded onto it.

A request names a model: a run (its LoRA adapter) or "base" (no adapter). Requests are
generated in batches by batcher.py, each row with its own adapter; a request that arrives
while a batch runs waits for the next batch, in arrival order.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import AssistantError
from ..generation import ChatModel, GenerationSettings
from .stops import StopScanner

BASE_NAME = "base"


class UnknownModel(LookupError):
    pass


class PromptTooLong(ValueError):
    pass


@dataclass(frozen=True)
class ServedModel:
    name: str
    adapter: str | None  # PEFT adapter name; None serves the base model
    system_prompt: str
    created: int
    description: str


def open_runs(run_dirs: list[Path]) -> tuple[list, str]:
    """The runs to serve and their one shared base model, or a one-line reason why not."""
    from ..rundir import RunDir

    runs = [RunDir.open(path) for path in run_dirs]
    names = [run.path.resolve().name for run in runs]
    for name in names:
        if name == BASE_NAME or names.count(name) > 1:
            raise AssistantError(f"--run {name}: model names come from run folder names and must be unique "
                                 f"and not '{BASE_NAME}'; serve a copy under another folder name")
    bases = {run.base_model_path() for run in runs}
    if len(bases) > 1:
        raise AssistantError(f"the runs were trained on different base models ({', '.join(sorted(bases))}); "
                             "one server shares one base model, start one server per base")
    return runs, bases.pop()


class ModelPool:
    def __init__(self, chat: ChatModel, served: dict[str, ServedModel], max_batch: int = 8):
        from .batcher import Batcher

        self.chat = chat
        self.served = served
        self.batcher = Batcher(chat, max_batch)

    @classmethod
    def from_runs(cls, run_dirs: list[Path], max_batch: int = 8, dtype=None) -> "ModelPool":
        from peft import PeftModel

        from ..base_model import load_model, load_tokenizer

        runs, base_path = open_runs(run_dirs)
        model = None
        served = {}
        for run in runs:
            name = run.path.resolve().name
            if model is None:
                model = PeftModel.from_pretrained(load_model(base_path, dtype), run.adapter, adapter_name=name)
            else:
                model.load_adapter(run.adapter, adapter_name=name)
            created = int(run.summary_file.stat().st_mtime)
            served[name] = ServedModel(name, name, run.profile().system_prompt, created,
                                       f"{run.summary().get('base_model', 'base')} + LoRA adapter of run {name}")
        first = served[runs[0].path.resolve().name]
        served[BASE_NAME] = ServedModel(BASE_NAME, None, first.system_prompt, first.created,
                                        f"the base model without any adapter ({runs[0].summary().get('base_model', base_path)})")
        chat = ChatModel(model, load_tokenizer(base_path), first.system_prompt, has_adapter=True)
        return cls(chat, served, max_batch)

    def get(self, name: str) -> ServedModel:
        if name not in self.served:
            raise UnknownModel(name)
        return self.served[name]

    def prompt_ids(self, served: ServedModel, turns: list[dict]) -> list[int]:
        """The chat template over the request's messages; the model's brand system prompt
        goes first unless the request brings a system message of its own."""
        if not any(turn["role"] == "system" for turn in turns):
            turns = [{"role": "system", "content": served.system_prompt}, *turns]
        return self.chat.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=True,
                                                       return_dict=True)["input_ids"]

    def new_token_budget(self, prompt_tokens: int, requested: int | None, default: int) -> int:
        room = self.chat.context_limit() - prompt_tokens
        wanted = requested if requested is not None else min(default, room)
        if wanted > room or room <= 0:
            raise PromptTooLong(
                f"this model's context is {self.chat.context_limit()} tokens; the messages take {prompt_tokens} "
                f"and {wanted} more were requested for the reply. Shorten the messages or max_tokens."
            )
        return wanted


class Generation:
    """One request's reply. Iterating submits it to the pool's batcher and yields text
    pieces; afterwards finish_reason, completion_tokens, queue_ms and batch_size are set.
    close() stops it early (the client left)."""

    def __init__(self, pool: ModelPool, served: ServedModel, prompt_ids: list[int], settings: GenerationSettings,
                 stops: list[str]):
        self.pool, self.served, self.prompt_ids, self.settings = pool, served, prompt_ids, settings
        self.scanner = StopScanner(stops)
        self.cancelled = threading.Event()
        self.tokens: queue.Queue = queue.Queue()  # lists of new token ids; None at the end
        self.error: BaseException | None = None
        self.submitted = 0.0
        self.finish_reason: str | None = None
        self.completion_tokens = 0
        self.queue_ms: float | None = None
        self.batch_size = 0

    def close(self) -> None:
        self.cancelled.set()

    def batch_key(self) -> tuple | None:
        """Requests with equal keys can share a batch: one generate() call has one set of
        sampling settings. A seeded request runs alone, so its seed alone decides its reply."""
        if self.settings.seed is not None:
            return None
        sampled = self.settings.temperature > 0
        return (sampled, self.settings.temperature if sampled else 0, self.settings.top_p if sampled else 0,
                self.settings.repetition_penalty)

    def __iter__(self) -> Iterator[str]:
        self.submitted = time.perf_counter()
        self.pool.batcher.submit(self)
        try:
            yield from self.decode()
        finally:
            self.cancelled.set()  # also when the consumer stops early: its row stops
        if self.error is not None:
            raise self.error

    def decode(self) -> Iterator[str]:
        tokenizer, stop_ids = self.pool.chat.tokenizer, set(self.pool.chat.stop_ids)
        tokens: list[int] = []
        decoded = ""
        while (ids := self.tokens.get()) is not None:
            if self.scanner.stopped or self.finish_reason:
                continue  # drain what was generated before the stop took effect
            for token in ids:
                if token in stop_ids:
                    self.finish_reason = "stop"
                    break
                tokens.append(token)
            self.completion_tokens = len(tokens)
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            if text.endswith("\ufffd") and not self.finish_reason:
                continue  # a character split across tokens: wait for its other bytes
            piece, decoded = text[len(decoded):], text
            released = self.scanner.feed(piece)
            if self.scanner.stopped:
                self.finish_reason = "stop"
                self.cancelled.set()
            if released:
                yield released
        rest = tokenizer.decode(tokens, skip_special_tokens=True)[len(decoded):]
        if rest and not self.scanner.stopped:
            if released := self.scanner.feed(rest):
                yield released
        if tail := self.scanner.flush():
            yield tail
        if self.finish_reason is None:
            self.finish_reason = "length" if self.completion_tokens >= self.settings.max_new_tokens else "stop"
