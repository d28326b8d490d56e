"""Trainer callbacks: metrics as JSON lines, written by the main process only."""

from __future__ import annotations

import json
import math
from pathlib import Path

from transformers import TrainerCallback


class MetricsLogger(TrainerCallback):
    """Appends every log event (train loss, eval loss and perplexity) to a JSONL file."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), **logs}
        if "eval_loss" in logs:
            record["eval_perplexity"] = math.exp(min(logs["eval_loss"], 50))
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
