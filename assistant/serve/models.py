"""The served models: one base model in memory, every run's adapter loaded onto it.

A request names a model; the run's adapter is switched on for it (PEFT's set_adapter), or
all adapters off for the base model (disable_adapter). Requests take turns on the model
(one generation at a time, in arrival order as far as the lock gives it); the rest wait.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from transformers.generation.streamers import BaseStreamer

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
    def __init__(self, chat: ChatModel, served: dict[str, ServedModel]):
        self.chat = chat
        self.served = served

    @classmethod
    def from_runs(cls, run_dirs: list[Path]) -> "ModelPool":
        from peft import PeftModel

        from ..base_model import load_model, load_tokenizer

        runs, base_path = open_runs(run_dirs)
        model = None
        served = {}
        for run in runs:
            name = run.path.resolve().name
            if model is None:
                model = PeftModel.from_pretrained(load_model(base_path), run.adapter, adapter_name=name)
            else:
                model.load_adapter(run.adapter, adapter_name=name)
            created = int(run.summary_file.stat().st_mtime)
            served[name] = ServedModel(name, name, run.profile().system_prompt, created,
                                       f"{run.summary().get('base_model', 'base')} + LoRA adapter of run {name}")
        first = served[runs[0].path.resolve().name]
        served[BASE_NAME] = ServedModel(BASE_NAME, None, first.system_prompt, first.created,
                                        f"the base model without any adapter ({runs[0].summary().get('base_model', base_path)})")
        chat = ChatModel(model, load_tokenizer(base_path), first.system_prompt, has_adapter=True)
        return cls(chat, served)

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

    @contextlib.contextmanager
    def use(self, served: ServedModel):
        if served.adapter is None:
            with self.chat.model.disable_adapter():
                yield
        else:
            self.chat.model.set_adapter(served.adapter)
            yield


class TokenQueue(BaseStreamer):
    """Hands generated token ids from the generating thread to the request's thread."""

    def __init__(self):
        self.items: queue.Queue = queue.Queue()
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() first passes the prompt
            self.prompt_seen = True
            return
        self.items.put(value.view(-1).tolist())

    def end(self) -> None:
        self.items.put(None)


class Generation:
    """One request's reply: iterate for text pieces; afterwards finish_reason,
    completion_tokens and queue_ms are set. close() stops generation early (client gone)."""

    def __init__(self, pool: ModelPool, served: ServedModel, prompt_ids: list[int], settings: GenerationSettings,
                 stops: list[str]):
        self.pool, self.served, self.prompt_ids, self.settings = pool, served, prompt_ids, settings
        self.scanner = StopScanner(stops)
        self.cancelled = threading.Event()
        self.finish_reason: str | None = None
        self.completion_tokens = 0
        self.queue_ms: float | None = None

    def close(self) -> None:
        self.cancelled.set()

    def __iter__(self) -> Iterator[str]:
        streamer = TokenQueue()
        errors: list[BaseException] = []
        thread = threading.Thread(target=self.generate, args=(streamer, errors), daemon=True)
        thread.start()
        try:
            yield from self.decode(streamer)
        finally:
            self.cancelled.set()  # also when the consumer stops early: free the model
            thread.join()
        if errors:
            raise errors[0]

    def generate(self, streamer: TokenQueue, errors: list) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancelled = self.cancelled

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **_):
                return cancelled.is_set()

        chat, waiting = self.pool.chat, time.perf_counter()
        try:
            with chat.lock:
                self.queue_ms = round((time.perf_counter() - waiting) * 1000, 1)
                if cancelled.is_set():
                    return
                with self.pool.use(self.served), torch.inference_mode():
                    if self.settings.seed is not None:
                        torch.manual_seed(self.settings.seed)
                    inputs = torch.tensor([self.prompt_ids])
                    chat.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), streamer=streamer,
                                        stopping_criteria=StoppingCriteriaList([Cancelled()]),
                                        **chat._generate_kwargs(self.settings))
        except BaseException as exc:  # re-raised in the request's thread
            errors.append(exc)
        finally:
            streamer.end()

    def decode(self, streamer: TokenQueue) -> Iterator[str]:
        tokenizer, stop_ids = self.pool.chat.tokenizer, set(self.pool.chat.stop_ids)
        tokens: list[int] = []
        decoded = ""
        while (ids := streamer.items.get()) is not None:
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
