"""`assistant app`: the browser app. Base and tuned side by side, blind votes, the evaluation.

One base model in memory serves both panes: the tuned side runs with the run's LoRA adapter,
the base side with it switched off, in the same batch (see dual.py).
"""

from __future__ import annotations

from pathlib import Path

from ..brand import BUILTIN_PROFILE_DIR, load_profile
from ..errors import AssistantError
from .handlers import AppHandlers
from .runs import ModelCache, find_runs
from .votes import VoteStore, default_db_path

RUN_PROFILE = "(the run's own profile)"


def profile_choices(run: Path) -> dict[str, str]:
    """Profile label -> system prompt; the run's own profile first (empty: use the run's)."""
    choices = {RUN_PROFILE: ""}
    for path in sorted(BUILTIN_PROFILE_DIR.glob("*.yaml")):
        try:
            choices[path.stem] = load_profile(path).system_prompt
        except AssistantError:
            continue
    return choices


def create_app(run: str | Path, runs_dir: str | Path = "runs", votes_db: str | Path | None = None):
    from .ui import build_app

    run, runs_dir = Path(run), Path(runs_dir)
    store = VoteStore(votes_db or default_db_path(runs_dir))
    try:
        runs = find_runs(runs_dir, include=run)
    except AssistantError:
        runs = []  # the broken run is shown as an error page by build_app
    handlers = AppHandlers(ModelCache(), store, profile_choices(run))
    app = build_app(handlers, runs, str(run), "assistant: base vs tuned")
    # One generation at a time on the shared model; the rest wait in the queue and see their place.
    app.queue(default_concurrency_limit=1, max_size=64)
    return app


def parse_auth(value: str | None):
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("--auth: expected USER:PASSWORD")
    return (user, password)


def launch(run, runs_dir="runs", host="127.0.0.1", port=7860, auth=None, share=False, votes_db=None, block=True):
    from .ui import CSS, THEME

    app = create_app(run, runs_dir, votes_db)
    app.launch(server_name=host, server_port=port, auth=parse_auth(auth), share=share, css=CSS, theme=THEME,
               prevent_thread_lock=not block, quiet=not block)
    return app
