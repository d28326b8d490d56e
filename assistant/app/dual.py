"""Base and tuned replies generated together, streamed token by token.

PEFT's mixed-batch inference runs one batch in which each row names its adapter
("__base__" switches LoRA off for that row), so one model in memory and one forward pass
per step serve both panes; neither waits for the other.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

from transformers.generation.streamers import BaseStreamer

from ..generation import BASE_ADAPTER, ChatModel, GenerationSettings



class RowStreamer(BaseStreamer):
    """Collects generated token ids per batch row and publishes the decoded texts."""

    def __init__(self, tokenizer, rows: int, stop_ids: list[int]):
        self.tokenizer, self.stop_ids = tokenizer, set(stop_ids)
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.finished = [False] * rows
        self.updates: queue.Queue = queue.Queue()
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # the first call carries the prompt ids
            self.prompt_seen = True
            return
        for row, token in enumerate(value.view(-1).tolist()):
            if self.finished[row]:
                continue
            if token in self.stop_ids:
                self.finished[row] = True
            else:
                self.tokens[row].append(token)
        self.updates.put([self.tokenizer.decode(t, skip_special_tokens=True) for t in self.tokens])

    def end(self) -> None:
        self.updates.put(None)


def stream_pair(
    chat: ChatModel,
    histories: tuple[list[dict], list[dict]],
    tuned: tuple[bool, bool],
    settings: GenerationSettings,
    system_prompt: str | None = None,
    stop: threading.Event | None = None,
) -> Iterator[list[str]]:
    """Yield [text of row 0, text of row 1] as tokens arrive; row i uses the adapter when
    tuned[i]. `stop` ends generation early (the stop button)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    ids = [chat.prompt_ids(h, settings.max_new_tokens, system_prompt) for h in histories]
    batch = chat.tokenizer.pad({"input_ids": ids}, padding_side="left", return_tensors="pt")
    streamer = RowStreamer(chat.tokenizer, len(ids), chat.stop_ids)
    kwargs = chat._generate_kwargs(settings)
    if chat.has_adapter:
        kwargs["adapter_names"] = [chat.model.active_adapter if t else BASE_ADAPTER for t in tuned]

    class Stopped(StoppingCriteria):
        def __call__(self, input_ids, scores, **_):
            return bool(stop is not None and stop.is_set())

    errors: list[BaseException] = []

    def run() -> None:
        try:
            with chat.lock, torch.inference_mode():
                if settings.seed is not None:
                    torch.manual_seed(settings.seed)
                chat.model.generate(**batch, streamer=streamer, stopping_criteria=StoppingCriteriaList([Stopped()]), **kwargs)
        except BaseException as exc:  # re-raised in the consuming thread
            errors.append(exc)
            streamer.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    texts = ["", ""]
    while (update := streamer.updates.get()) is not None:
        texts = update
        yield texts
    thread.join()  # generate() returns just after end(); let it finish before we do
    if errors:
        raise errors[0]
    yield texts
