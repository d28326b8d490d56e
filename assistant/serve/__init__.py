"""`assistant serve`: tuned assistants behind an OpenAI-compatible chat API.

  GET  /v1/models              the served models: one per run (named after its folder) and "base"
  POST /v1/chat/completions    OpenAI chat completions, whole or streamed (server-sent events)
  GET  /health                 liveness, no key needed

All models share one base model in memory (models.py) and requests are generated in
batches (batcher.py); the HTTP layer is api.py, the request log monitor.py. Bound to
127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from ..generation import GenerationSettings
from .api import create_api
from .models import ModelPool
from .monitor import RequestLog


def create_server(run_dirs: list[Path], api_key: str | None = None, log_path: Path | None = None,
                  defaults: GenerationSettings | None = None, echo=print, max_batch: int = 8, dtype=None):
    pool = ModelPool.from_runs([Path(p) for p in run_dirs], max_batch, dtype)
    return create_api(pool, RequestLog(log_path, echo), api_key, defaults)


def serve(run_dirs: list[Path], host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          log_path: Path | None = None, defaults: GenerationSettings | None = None, max_batch: int = 8) -> None:
    import uvicorn

    app = create_server(run_dirs, api_key, log_path, defaults, max_batch=max_batch)
    names = ", ".join(app.state.pool.served)
    print(f"Serving {names} at http://{host}:{port}/v1 (OpenAI chat API; Ctrl-C to stop)"
          + (f"; request log: {log_path}" if log_path else ""), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
