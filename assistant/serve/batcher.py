"""Generating for several requests at once.

On a CPU (and a GPU) one decoding step costs about the same for a few sequences as for one:
the weights are read once per step either way. Measured on the demo run with 2 cores, 8
greedy replies in one batch came out 5.3x faster in total than one. So the batcher's worker
thread takes the oldest waiting request plus every waiting request that can share its
batch (same sampling settings, see Generation.batch_key; up to max_batch), and runs them in
one generate() call: left-padded prompts, each row with its own LoRA adapter or none
(PEFT's mixed-adapter batches, `adapter_names`), its own token limit, stop and cancellation.
A request that arrives while a batch runs waits for the next one.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from ..generation import BASE_ADAPTER


class RowStreamer(BaseStreamer):
    """Sends each row's new token to its request, up to and including its end-of-turn token
    or its own token limit; what generate() pads finished rows with is not passed on."""

    def __init__(self, jobs: list, stop_ids: set[int]):
        self.jobs, self.stop_ids = jobs, stop_ids
        self.counts = [0] * len(jobs)
        self.done = [False] * len(jobs)
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() first passes the prompts
            self.prompt_seen = True
            return
        for row, token in enumerate(value.view(-1).tolist()):
            if self.done[row]:
                continue
            self.jobs[row].tokens.put([token])
            self.counts[row] += 1
            if token in self.stop_ids or self.counts[row] >= self.jobs[row].settings.max_new_tokens:
                self.done[row] = True

    def end(self) -> None:
        for job in self.jobs:
            job.tokens.put(None)


class RowsFinished(StoppingCriteria):
    """Per row: its own token limit reached, or its request cancelled (client gone, or a stop
    sequence seen). generate() stops when every row is finished."""

    def __init__(self, jobs: list, prompt_width: int):
        self.jobs, self.prompt_width = jobs, prompt_width

    def __call__(self, input_ids, scores, **_):
        import torch

        generated = input_ids.shape[1] - self.prompt_width
        return torch.tensor([job.cancelled.is_set() or generated >= job.settings.max_new_tokens for job in self.jobs],
                            device=input_ids.device)


class Batcher:
    def __init__(self, chat, max_batch: int = 8, gather_seconds: float = 0.05):
        self.chat, self.max_batch = chat, max_batch
        # Requests of a burst arrive a few milliseconds apart; waiting this long for company
        # before starting a batch costs one request 50 ms and spares the rest a whole turn.
        self.gather_seconds = gather_seconds if max_batch > 1 else 0.0
        self.waiting: deque = deque()
        self.ready = threading.Condition()
        threading.Thread(target=self.loop, name="assistant-batcher", daemon=True).start()

    def submit(self, job) -> None:
        with self.ready:
            self.waiting.append(job)
            self.ready.notify()

    def next_batch(self) -> list:
        """The oldest request and the waiting ones that can share its batch, in arrival order;
        the others keep their places."""
        with self.ready:
            while not self.waiting:
                self.ready.wait()
            deadline = time.monotonic() + self.gather_seconds
            while len(self.waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self.ready.wait(left)
            first = self.waiting.popleft()
            batch = [first]
            key = first.batch_key()
            if key is not None:
                for job in list(self.waiting):
                    if len(batch) == self.max_batch:
                        break
                    if job.batch_key() == key:
                        self.waiting.remove(job)
                        batch.append(job)
            return batch

    def loop(self) -> None:
        while True:
            batch = self.next_batch()
            live = [job for job in batch if not job.cancelled.is_set()]
            for job in batch:
                if job not in live:
                    job.tokens.put(None)  # gone before its turn came
            if live:
                self.run(live)

    def run(self, jobs: list) -> None:
        import torch

        chat = self.chat
        started = time.perf_counter()
        for job in jobs:
            job.queue_ms = round((started - job.submitted) * 1000, 1)
            job.batch_size = len(jobs)
        streamer = RowStreamer(jobs, set(chat.stop_ids))
        try:
            batch = chat.tokenizer.pad({"input_ids": [job.prompt_ids for job in jobs]}, padding_side="left",
                                       return_tensors="pt")
            settings = jobs[0].settings
            kwargs = chat._generate_kwargs(settings)
            kwargs["max_new_tokens"] = max(job.settings.max_new_tokens for job in jobs)
            if chat.has_adapter:
                kwargs["adapter_names"] = [job.served.adapter or BASE_ADAPTER for job in jobs]
            criteria = StoppingCriteriaList([RowsFinished(jobs, batch["input_ids"].shape[1])])
            with chat.lock, torch.inference_mode():
                if settings.seed is not None:
                    torch.manual_seed(settings.seed)
                chat.model.generate(**batch, streamer=streamer, stopping_criteria=criteria, **kwargs)
        except BaseException as exc:  # reported to every request of the batch
            for job in jobs:
                job.error = exc
        finally:
            streamer.end()
