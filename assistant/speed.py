"""How fast training runs on this machine, for the dataset card's time estimate.

The best figure is a real run's: `assistant train` records its trained tokens per second
for the base model. Before any run, a short probe measures it the way training runs
(LoRA on the bf16 base where bf16 is fast, the same collator, AdamW steps) on a few of
the prepared examples. Both are kept in $ASSISTANT_HOME/training_speed.json per base
model, so the probe runs once per machine and model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone

from .atomic import write_text_atomic
from .home import assistant_home

PROBE_STEPS, PROBE_BATCH = 3, 4


def _records_path():
    return assistant_home() / "training_speed.json"


def _read_records() -> dict:
    try:
        return json.loads(_records_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record_speed(base_path: str, tokens_per_second: float, source: str) -> dict:
    """Keep this figure for the base model; returns the entry as stored."""
    records = _read_records()
    records[str(base_path)] = entry = {
        "tokens_per_second": round(tokens_per_second, 1),
        "source": source,
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_text_atomic(_records_path(), json.dumps(records, indent=2) + "\n")
    return entry


def training_speed(base_path: str, examples: Callable[[], list[list[dict]]]) -> dict | None:
    """{"tokens_per_second", "source", "measured"} for this base model, probing on
    `examples()` (only called when there is no figure yet); None when it gives none."""
    known = _read_records().get(str(base_path))
    if known:
        return known
    probe_examples = examples()
    if not probe_examples:
        return None
    tokens_per_second = probe(base_path, probe_examples)
    return record_speed(base_path, tokens_per_second, f"a {PROBE_STEPS}-step training probe at prepare time")


def probe(base_path: str, examples: list[list[dict]]) -> float:
    """Trained (non-padding) tokens per second over PROBE_STEPS steps after one warm-up."""
    import contextlib

    import torch

    from .base_model import load_tokenizer
    from .config import TrainConfig
    from .reply_trainer import reply_loss_sum
    from .training import attention_for, batch_collator, lora_model, tokenize_pairs, use_bf16

    config = TrainConfig()
    tokenizer = load_tokenizer(base_path)
    needed = PROBE_BATCH * (PROBE_STEPS + 1)
    rows = tokenize_pairs((examples * needed)[:needed], tokenizer, config.max_seq_len, "probe")
    attention = attention_for(config, rows)
    model = lora_model(base_path, config, attention)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    collator = batch_collator(tokenizer, config, attention)
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device_type)
    tokens, started = 0, 0.0
    for step in range(PROBE_STEPS + 1):
        batch = {k: v.to(device_type) for k, v in collator(rows[step * PROBE_BATCH:(step + 1) * PROBE_BATCH]).items()}
        if step == 1:
            if device_type == "cuda":  # the warm-up step's queued kernels are not the timed steps'
                torch.cuda.synchronize()
            started = time.perf_counter()
        autocast = (torch.autocast(device_type, dtype=torch.bfloat16) if use_bf16(config)
                    else contextlib.nullcontext())
        with autocast:
            loss_sum, n_trained, _ = reply_loss_sum(model, batch)
        (loss_sum / n_trained).backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= 1:
            tokens += int(batch["attention_mask"].sum())
    return tokens / max(time.perf_counter() - started, 1e-9)
