"""Validation loss and perplexity of the base model and the tuned adapter.

Computed exactly like training computes it: the run's validation pairs tokenized with
labels on the assistant replies only (`tokenize_pairs`), batched by the same
`DataCollatorForSeq2Seq`, the loss summed by training's own `reply_loss_sum` (which
projects only the trained positions onto the vocabulary: on 2 AVX2 cores 16.6-17.8 s
against 21.8-24.6 s for the model's full-vocabulary loss over the demo's validation split,
the same loss to 7 digits); the loss is the mean over every label token of the split,
perplexity = exp(loss).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..chat_format import IGNORE_INDEX
from ..rundir import RunDir
from .cases import validation_file

# Examples per forward pass of the validation loss (the demo's training batch); the loss
# does not depend on it, only the memory of a pass does.
LOSS_BATCH = 8


def max_seq_len(run: RunDir) -> int:
    """The run's training max_seq_len (config.yaml), or the default."""
    import yaml

    from ..config import TrainConfig

    default = TrainConfig.model_fields["max_seq_len"].default
    if not run.config.is_file():
        return default
    try:
        config = yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return default
    value = config.get("max_seq_len") if isinstance(config, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else default


def load_validation_set(run: RunDir, tokenizer) -> list[dict]:
    """The tokenized validation examples; empty when the run has no validation split."""
    from ..training import load_pairs, tokenize_pairs

    path = validation_file(run)
    if path is None or not path.is_file():
        return []
    return tokenize_pairs(load_pairs(path), tokenizer, max_seq_len(run), Path(path))


def dataset_loss(model, tokenizer, dataset: list[dict], batch_size: int = LOSS_BATCH) -> tuple[float, int]:
    """(mean loss per label token, number of label tokens) of a tokenized dataset."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    from ..reply_trainer import reply_loss_sum

    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX, pad_to_multiple_of=8)
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            batch = collator([dict(example) for example in dataset[start : start + batch_size]])
            batch = {k: v.to(device) for k, v in batch.items()}
            # reply_loss_sum predicts labels[:, 1:]: a label at position 0 is never predicted.
            if not (batch["labels"][:, 1:] != IGNORE_INDEX).any():
                continue
            loss_sum, count, _ = reply_loss_sum(model, batch)
            total += float(loss_sum)
            tokens += int(count)
    if tokens == 0:
        raise ValueError("no label tokens in the dataset")
    return total / tokens, tokens


def perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


def validation_loss(chat, run: RunDir, batch_size: int = LOSS_BATCH) -> dict | None:
    """{"examples", "tokens", "base": {"loss", "perplexity"}, "tuned": {...}}, or None
    when the run has no validation examples."""
    dataset = load_validation_set(run, chat.tokenizer)
    if not dataset:
        return None
    result: dict = {"examples": len(dataset), "file": str(validation_file(run))}
    for side, tuned in (("base", False), ("tuned", True)):
        with chat.lock, chat.adapter(tuned):
            loss, tokens = dataset_loss(chat.model, chat.tokenizer, dataset, batch_size)
        result["tokens"] = tokens
        result[side] = {"loss": loss, "perplexity": perplexity(loss)}
    return result
