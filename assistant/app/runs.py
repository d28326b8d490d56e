"""Finding runs for the run picker, and the app's per-process model cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError
from ..rundir import RunDir


@dataclass(frozen=True)
class RunInfo:
    path: str
    label: str  # "name · base model · data · date"


def describe(run: RunDir) -> RunInfo:
    summary = run.summary()
    data = Path(summary.get("data", "?")).name
    date = summary.get("created", "?")[:16].replace("T", " ")
    return RunInfo(str(run.path), f"{run.path.name} · {summary.get('base_model', '?')} · data {data} · {date}")


def find_runs(runs_dir: Path, include: Path | None = None) -> list[RunInfo]:
    """Finished runs directly under `runs_dir` (newest first), plus `include` if given."""
    candidates = [p for p in Path(runs_dir).glob("*/run.json")] if Path(runs_dir).is_dir() else []
    runs = {}
    for summary_file in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            runs[str(summary_file.parent)] = describe(RunDir.open(summary_file.parent))
        except AssistantError:
            continue  # unfinished or broken runs are not offered
    if include is not None and str(include) not in runs:
        runs = {str(include): describe(RunDir.open(include)), **runs}
    return list(runs.values())


class ModelCache:
    """One ChatModel (base model + one run's adapter) in memory at a time, shared by all
    sessions; switching runs replaces it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.path: str | None = None
        self.model = None

    def get(self, run_path: str):
        from ..generation import ChatModel

        with self.lock:
            if self.path != run_path:
                self.model = None  # free the old one before loading the next
                self.model = ChatModel.from_run(run_path)
                self.path = run_path
            return self.model
