"""The run directory: everything one training run produced, readable by chat, eval and app.

  adapter/              the LoRA adapter in PEFT format (PeftModel.from_pretrained loads it)
  config.yaml           the resolved training config
  brand_profile.yaml    the brand profile the data was prepared with
  prepare_report.json   the report of the data preparation
  metrics.jsonl         one JSON object per logged step / evaluation
  loss_curve.png        train and validation loss
  run.json              summary; written last, so its presence marks a finished run
  checkpoints/          Trainer checkpoints, for --resume
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .brand import BrandProfile, load_profile
from .errors import AssistantError


@dataclass(frozen=True)
class RunDir:
    path: Path

    adapter = property(lambda self: self.path / "adapter")
    config = property(lambda self: self.path / "config.yaml")
    profile_file = property(lambda self: self.path / "brand_profile.yaml")
    prepare_report = property(lambda self: self.path / "prepare_report.json")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    loss_curve = property(lambda self: self.path / "loss_curve.png")
    summary_file = property(lambda self: self.path / "run.json")
    checkpoints = property(lambda self: self.path / "checkpoints")

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """A finished run, or a one-line error saying what is missing."""
        run = cls(Path(path))
        if not run.path.is_dir():
            raise AssistantError(f"{run.path}: run directory not found")
        if not run.summary_file.is_file():
            raise AssistantError(
                f"{run.path}: not a finished run (no run.json; train into it, or --resume an interrupted run)"
            )
        if not (run.adapter / "adapter_config.json").is_file():
            raise AssistantError(f"{run.adapter}: adapter missing (expected adapter_config.json)")
        return run

    def summary(self) -> dict:
        try:
            return json.loads(self.summary_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AssistantError(f"{self.summary_file}: unreadable run summary ({exc})") from None

    def profile(self) -> BrandProfile:
        return load_profile(self.profile_file)

    def base_model_path(self) -> str:
        """The local base model the run was trained on; resolved again from its name when the
        run was copied from another machine and the recorded path does not exist here."""
        summary = self.summary()
        path = summary["base_model_path"]
        if Path(path).exists():
            return path
        from .base_model import resolve_base_model

        return resolve_base_model(summary.get("base_model"))
