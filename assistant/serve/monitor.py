"""The request log: one JSON line per request, and a one-line summary on the console.

Only sizes and timings are recorded, never message text: the log is safe to ship to a
monitoring system without carrying customers' words with it.
"""

from __future__ import annotations

import json
import threading
import time as clock
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable


@dataclass
class RequestRecord:
    request_id: str
    model: str | None
    stream: bool
    status: int = 200
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    latency_ms: float = 0.0
    time_to_first_token_ms: float | None = None
    queue_ms: float | None = None  # waiting for the model while other requests generated
    batch: int | None = None  # requests generated together with this one, itself included
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    started: float = field(default_factory=clock.perf_counter, repr=False)

    def first_token(self) -> None:
        if self.time_to_first_token_ms is None:
            self.time_to_first_token_ms = round((clock.perf_counter() - self.started) * 1000, 1)

    def finish(self) -> None:
        self.latency_ms = round((clock.perf_counter() - self.started) * 1000, 1)

    def as_json(self) -> str:
        record = asdict(self)
        record.pop("started")
        return json.dumps(record, ensure_ascii=False)

    def summary(self) -> str:
        seconds = self.latency_ms / 1000
        rate = f" ({self.completion_tokens / seconds:.1f} tok/s)" if self.completion_tokens and seconds else ""
        outcome = self.finish_reason or self.error or ""
        mode = "stream" if self.stream else "whole"
        return (f"{self.time[:19].replace('T', ' ')} {self.status} {self.model or '-'} {mode} "
                f"{self.prompt_tokens}+{self.completion_tokens} tok {seconds:.2f} s{rate} {outcome}").rstrip()


class RequestLog:
    def __init__(self, path: Path | None, echo: Callable[[str], None] | None = print):
        self.path, self.echo = path, echo
        self.lock = threading.Lock()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: RequestRecord) -> None:
        record.finish()
        with self.lock:
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(record.as_json() + "\n")
            if self.echo is not None:
                self.echo(record.summary())
