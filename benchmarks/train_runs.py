"""One training run for benchmarks/speed.py, in its own process (its peak memory is its own).

    python benchmarks/train_runs.py ours          DATA_DIR RUN_DIR STEPS
    python benchmarks/train_runs.py ours-compiled DATA_DIR RUN_DIR STEPS
    python benchmarks/train_runs.py ours-eager    DATA_DIR RUN_DIR STEPS
    python benchmarks/train_runs.py trl           DATA_DIR RUN_DIR STEPS
    python benchmarks/train_runs.py trl-fp32      DATA_DIR RUN_DIR STEPS

`ours` is `assistant train` with the demo settings (demo/train.yaml; `compile: auto`, which
compiles depending on the run's length and the compile cache), `ours-compiled` the same
with `compile: true`, `ours-eager` with `compile: false`; `trl` is TRL's
SFTTrainer with its defaults on the same base model, data, LoRA settings, batch size and
number of steps, and `trl-fp32` the same with bf16 off (TRL turns bf16 on by default even on a
CPU that only emulates it, where `assistant train` trains in fp32: this compares like with
like there). Both count trained tokens the same way (non-padding input tokens, the
Trainer's own counter). Prints one JSON line: tokens, runtime, padding share of the
batches, model FLOPs and peak resident memory.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO_SETTINGS = yaml.safe_load((REPO / "demo" / "train.yaml").read_text())
STEADY_FROM = 10  # steps; the steady-state rate leaves out the first ones


def padding_share(dataloader) -> float:
    """Padding tokens over all tokens the model computes, across every batch of an epoch."""
    padded = real = 0
    for batch in dataloader:
        mask = batch.get("attention_mask")
        total = batch["input_ids"].numel()
        n_real = int(mask.sum()) if mask is not None else total
        real += n_real
        padded += total - n_real
    return padded / max(padded + real, 1)


def model_flops(model, rows: list[dict], logits_at: str) -> float:
    """Model FLOPs of one pass over `rows` with a frozen base and LoRA adapters:
        per token      4 N_frozen (forward 2N, backward to the activations 2N; frozen
                       weights need no weight gradient) + 6 N_lora (forward, both gradients)
        per logit row  4 d V (the output layer, forward and backward to the hidden state),
                       at labelled positions only when the loss computes only those
                       (`logits_at="labels"`), at every position otherwise
        attention      6 L d T(T+1) per example of T tokens (causal QK^T and AV: 2 d T(T+1)
                       forward per layer, twice that backward)
    where N_frozen counts the decoder's linear weights (embedding lookups are not matmuls)."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    head_dim = getattr(config, "head_dim", None) or d // config.num_attention_heads
    d_attn = head_dim * config.num_attention_heads
    frozen = lora = 0
    for name, param in model.named_parameters():
        if "lora_" in name:
            lora += param.numel()
        elif param.dim() == 2 and ".layers." in name:
            frozen += param.numel()
    flops = 0.0
    for row in rows:
        tokens = len(row["input_ids"])
        if logits_at == "labels":
            logit_rows = sum(1 for label in row["labels"][1:] if label != -100)
        else:
            logit_rows = tokens
        flops += (4 * frozen + 6 * lora) * tokens + 4 * d * vocab * logit_rows
        flops += 6 * layers * d_attn * tokens * (tokens + 1)
    return flops


def steady_tokens_per_s(logs: list[dict], from_step: int = STEADY_FROM) -> float | None:
    """Trained tokens per second between the first log at or after `from_step` and the
    last one: the rate once warm-up (and, with compile, compiling) is over."""
    timed = [r for r in logs if "train_runtime" in r and "num_input_tokens_seen" in r and r.get("step", 0) >= from_step]
    if len(timed) < 2 or timed[-1]["train_runtime"] <= timed[0]["train_runtime"]:
        return None
    return ((timed[-1]["num_input_tokens_seen"] - timed[0]["num_input_tokens_seen"])
            / (timed[-1]["train_runtime"] - timed[0]["train_runtime"]))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_gpu_peak() -> None:
    """Start the GPU's peak-memory count afresh (on CUDA), so that it is training's alone."""
    import gc

    import torch

    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def gpu_peak() -> dict:
    """On CUDA, training's memory is the GPU's: its peak allocated by tensors since
    reset_gpu_peak(), beside the host's RSS."""
    import torch

    return {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20} if torch.cuda.is_available() else {}


def run_ours(data_dir: Path, run_dir: Path, steps: int, compile_layers: bool | str = "auto") -> dict:
    """`assistant train` itself (the engine's `train`), after measuring its batches."""
    from assistant.config import TrainConfig
    from assistant.training import train

    config = TrainConfig(**{**DEMO_SETTINGS, "max_steps": steps, "compile": compile_layers})
    figures = batch_figures(data_dir, run_dir, config)
    reset_gpu_peak()  # batch_figures' model is gone
    summary = train(data_dir, run_dir, config, overwrite=True)
    logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {
        "steady_tokens_per_s": steady_tokens_per_s(logs),
        "tokens": summary["trained_tokens"],
        "runtime_s": summary["train_runtime_s"],
        "steps": summary["steps"],
        "epochs": summary["epochs"],
        "compiled": summary["compiled"],
        "precision": summary["precision"],
        **figures,
        "peak_rss_mb": peak_rss_mb(),
        **gpu_peak(),
    }


def batch_figures(data_dir: Path, run_dir: Path, config) -> dict:
    """Padding share of the batches `assistant train` makes (length-grouped) and of
    random-order batches, the attention kernel it picks, and the epoch's model FLOPs."""
    import gc

    from assistant.base_model import load_tokenizer, resolve_base_model
    from assistant.rundir import RunDir
    from assistant.training import attention_for, build_trainer, load_dataset_split, lora_model

    base = resolve_base_model(None)
    tokenizer = load_tokenizer(base)
    rows = load_dataset_split(data_dir, "train.jsonl", tokenizer, config)
    model = lora_model(base, config, attention_for(config, rows))
    trainer = build_trainer(model, tokenizer, rows, [], config, RunDir(run_dir / "batches"))
    figures = {"padding_share": padding_share(trainer.get_train_dataloader())}
    trainer.args.train_sampling_strategy = "random"
    figures["padding_share_random_order"] = padding_share(trainer.get_train_dataloader())
    figures["attention"] = model.config._attn_implementation
    figures["flops"] = model_flops(model, rows, logits_at="labels")
    del trainer, model
    gc.collect()
    return figures


def run_trl(data_dir: Path, run_dir: Path, steps: int, bf16: bool | None = None) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from assistant.base_model import load_model, resolve_base_model
    from assistant.device import bf16_supported
    from assistant.training import load_pairs

    conversations = [[{"role": m["role"], "content": m["content"]} for m in messages]
                     for messages in load_pairs(data_dir / "train.jsonl")]
    lora = LoraConfig(r=DEMO_SETTINGS["lora_r"], lora_alpha=DEMO_SETTINGS["lora_alpha"],
                      lora_dropout=DEMO_SETTINGS["lora_dropout"], target_modules=DEMO_SETTINGS["target_modules"],
                      task_type="CAUSAL_LM")
    args = SFTConfig(  # TRL's defaults, except what the comparison fixes and what CPUs need
        output_dir=str(run_dir), max_steps=steps, per_device_train_batch_size=DEMO_SETTINGS["batch_size"],
        use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no",
        include_num_input_tokens_seen="non_padding", seed=DEMO_SETTINGS["seed"],
        **({} if bf16 is None else {"bf16": bf16}),
    )
    # The same bf16 base model object TRL would load from the path (dtype "auto"; fp32 where
    # bf16 is emulated, as ours); our converted config names no architecture, which TRL's
    # loader needs.
    dtype = torch.bfloat16 if bf16_supported() else torch.float32
    trainer = SFTTrainer(model=load_model(resolve_base_model(None), dtype=dtype), args=args,
                         train_dataset=Dataset.from_list([{"messages": c} for c in conversations]), peft_config=lora)
    padding = padding_share(trainer.get_train_dataloader())
    result = trainer.train()
    rows = [{"input_ids": r["input_ids"], "labels": r["input_ids"]} for r in trainer.train_dataset]
    return {
        "steady_tokens_per_s": steady_tokens_per_s(trainer.state.log_history),
        "tokens": trainer.state.num_input_tokens_seen,
        "runtime_s": result.metrics["train_runtime"],
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "padding_share": padding,
        "gradient_checkpointing": args.gradient_checkpointing,
        "bf16": args.bf16,
        "precision": "bf16" if args.bf16 else "fp32",
        "flops": model_flops(trainer.model, rows, logits_at="all"),
        "peak_rss_mb": peak_rss_mb(),
        **gpu_peak(),
    }


def main() -> None:
    which, data_dir, run_dir, steps = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    runs = {"ours": run_ours, "ours-compiled": lambda *a: run_ours(*a, compile_layers=True),
            "ours-eager": lambda *a: run_ours(*a, compile_layers=False), "trl": run_trl,
            "trl-fp32": lambda *a: run_trl(*a, bf16=False)}
    result = runs[which](data_dir, run_dir, steps)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
