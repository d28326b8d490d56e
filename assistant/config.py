"""Training hyperparameters: defaults < YAML config file < command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .yaml_models import read_yaml_mapping, validate


class TrainConfig(BaseModel):
    """Every knob of `assistant train`. Unknown keys are errors so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

    base_model: str | None = Field(None, description="Model dir, .gguf file or hub id; default embedded SmolLM2-135M-Instruct.")
    epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: run all epochs).")
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_seq_len: int = Field(1024, ge=16, description="Longer examples are truncated (prepare already fits them).")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    # Dropout on every adapted layer's input costs ~30% of CPU training speed (measured);
    # off by default, early stopping guards against overfitting instead.
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    eval_steps: int | None = Field(None, ge=1, description="Validate every N steps; default once per epoch.")
    early_stopping_patience: int = Field(2, ge=0, description="Evaluations without improvement before stopping; 0 = off.")
    seed: int = 42
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    group_by_length: bool = Field(True, description="Batch examples of similar length to cut padding.")
    padding_free: bool = Field(False, description="Flatten each batch into one sequence, examples kept apart by position ids (fastest with flash attention on a GPU).")
    attention: Literal["auto", "eager", "sdpa", "flash_attention_2"] = Field(
        "auto", description="Attention kernel; auto picks the fastest measured for the device and example lengths.")
    compile: bool | Literal["auto"] = Field(
        "auto", description="Compile each decoder layer with torch.compile: faster steps after a one-time compile, "
        "cached on disk. auto: on for single-process CPU runs long enough to gain, fewer steps once the cache holds the model's kernels (see compiling.py).")
    gradient_checkpointing: bool = Field(
        False, description="Recompute each decoder layer's activations in backward instead of keeping them: "
        "about a third more compute for far less memory, for long examples or 1B+ base models on a GPU.")
    logging_steps: int = Field(5, ge=1)
    threads: int | None = Field(None, ge=1, description="CPU threads for torch; default all cores.")


def load_train_config(path: Path | None, overrides: dict) -> TrainConfig:
    """Merge a YAML file and flag overrides (None values mean 'not given')."""
    data = read_yaml_mapping(path, "train config") if path else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(TrainConfig, data, str(path) if path else "train options")
