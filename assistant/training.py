"""`assistant train`: a LoRA adapter on the base model with the transformers Trainer.

Read top to bottom:
  1. load the prepared pairs and tokenize them, loss on assistant replies only
  2. load the base model and wrap it with a PEFT LoRA adapter
  3. configure the Trainer: bf16 autocast where fast, validation each epoch (or N steps),
     early stopping, best checkpoint kept, metrics logged as JSON lines
  4. train (optionally resuming), then save the best adapter and the run's records
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .atomic import staged_directory, write_text_atomic
from .compiling import cache_is_warm, compile_decoder_layers, compile_for, graph_key, mark_cache_warm
from .config import TrainConfig
from .errors import AssistantError, InputError
from .rundir import RunDir

logger = logging.getLogger(__name__)

DATA_FILES = ("train.jsonl", "validation.jsonl")


# 1. data ---------------------------------------------------------------------------------

def load_pairs(path: Path) -> list[list[dict]]:
    """The examples of one split; each must be {"messages": [...]} as prepare writes.
    An empty file is an empty split (prepare writes one when data is too small)."""
    from .readers.jsonio import iter_jsonl

    if path.stat().st_size == 0:
        return []
    examples = []
    for line_number, record in iter_jsonl(path, "chat examples from 'assistant prepare'"):
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in messages
        ):
            raise InputError(path, line_number, 'expected {"messages": [...]} with an assistant reply')
        examples.append(messages)
    return examples


def tokenize_pairs(pairs: list[list[dict]], tokenizer, max_seq_len: int, path: Path) -> list[dict]:
    from .chat_format import IGNORE_INDEX, tokenize_example

    dataset = []
    for line_number, messages in enumerate(pairs, start=1):
        try:
            example = tokenize_example(tokenizer, messages)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, line_number, f"cannot format example ({exc})") from None
        ids, labels = example.input_ids[:max_seq_len], example.labels[:max_seq_len]
        if all(label == IGNORE_INDEX for label in labels):
            raise InputError(path, line_number, f"no reply tokens within max_seq_len={max_seq_len}")
        dataset.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return dataset


def load_dataset_split(data_dir: Path, name: str, tokenizer, config: TrainConfig) -> list[dict]:
    path = data_dir / name
    if not path.is_file():
        raise AssistantError(f"{path}: not found (expected the output folder of 'assistant prepare')")
    return tokenize_pairs(load_pairs(path), tokenizer, config.max_seq_len, path)


# 2. model --------------------------------------------------------------------------------

def lora_model(base_path: str, config: TrainConfig, attention: str, compile_layers: bool = False):
    import torch
    from peft import LoraConfig, get_peft_model

    from .base_model import load_model
    from .grouped_attention import use_grouped_attention
    from .lora_kernel import fuse_lora_layers

    # The frozen base weights load in bf16 when training in bf16 (measured on a CPU with
    # native bf16: 264 tokens/s against 160 for fp32 weights under the Trainer's autocast);
    # PEFT keeps the trainable LoRA weights in fp32, so the optimizer still updates full
    # precision. `precision: fp32` loads them in fp32 on any hardware.
    model = load_model(base_path, dtype=torch.bfloat16 if use_bf16(config) else torch.float32, attention=attention)
    use_grouped_attention(model)  # eager attention without repeating keys and values per query head
    model.config.use_cache = False  # a KV cache is for generation; training would build one per step
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    if use_bf16(config):
        # PEFT casts each adapter's input to the adapter's fp32 dtype, and autocast casts it
        # straight back to bf16 for the matmul: two copies of every activation per adapted
        # layer (4% of a CPU step, measured). Under autocast the matmul casts anyway.
        for module in model.modules():
            if hasattr(module, "cast_input_dtype_enabled"):
                module.cast_input_dtype_enabled = False
    if compile_layers:
        compile_decoder_layers(model, _cuda_available())  # compiling fuses the adapters' extra work itself
    else:
        fuse_lora_layers(model)  # adapters accumulate into the base matmul: 1.11x forward+backward on CPU
    return model


def attention_for(config: TrainConfig, rows: list[dict]) -> str:
    """The attention kernel for training on these tokenized rows: as configured, or the
    fastest measured for this device and the longest row.

    On a GPU, flash-attention 2 when it is installed (it also runs padding-free batches
    without materialising a mask), else PyTorch's SDPA. On CPU, measured on SmolLM2-135M
    LoRA training steps (forward and backward, bf16 autocast), tokens/s eager vs SDPA:
    397 vs 348 for 8 rows of 112 tokens, 346 vs 331 for 2 of 448, 230 vs 283 for 1 of 1,024.
    """
    from .device import flash_attention_2_usable

    if config.attention != "auto":
        return config.attention
    if _cuda_available():
        return "flash_attention_2" if flash_attention_2_usable() else "sdpa"
    longest = max((len(row["input_ids"]) for row in rows), default=0)
    return "eager" if longest <= 512 else "sdpa"


# 3. trainer ------------------------------------------------------------------------------

def use_bf16(config: TrainConfig) -> bool:
    from .device import bf16_supported

    return config.precision == "bf16" or (config.precision == "auto" and bf16_supported())


def training_arguments(config: TrainConfig, run: RunDir, has_validation: bool):
    from transformers import TrainingArguments

    evaluate = "no" if not has_validation else ("steps" if config.eval_steps else "epoch")
    save = evaluate if has_validation else "epoch"
    args = TrainingArguments(
        output_dir=str(run.checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        bf16=use_bf16(config),
        eval_strategy=evaluate,
        eval_steps=config.eval_steps,
        save_strategy=save,
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=has_validation,
        metric_for_best_model="eval_loss" if has_validation else None,
        greater_is_better=False,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        # padded batches count their attention mask; a flattened (padding-free) batch has no
        # mask and no padding, and counting "not the pad id" there would drop every
        # end-of-turn token wherever pad and end-of-turn are one token (SmolLM2)
        include_num_input_tokens_seen="all" if config.padding_free else "non_padding",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        use_cpu=not _cuda_available(),
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every LoRA weight is used each step; the search costs a graph walk
        # transformers checkpoints non-reentrantly, which reaches the adapters inside each
        # layer although the frozen embeddings' output needs no gradient
        activation_checkpointing=config.gradient_checkpointing,
    )
    if args.n_gpu > 1:
        # Started without a launcher on a machine with several GPUs, the Trainer would wrap
        # the model in nn.DataParallel, whose replicas share the first GPU's fused LoRA
        # layers and the output-layer hook's whole-batch mask. Train on one GPU instead;
        # `accelerate launch` / `torchrun` use them all (docs/scaling.md).
        logger.warning("%d GPUs visible but no launcher: training on one (use accelerate launch or torchrun for all)",
                       args.n_gpu)
        args._n_gpu = 1
    return args


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def build_trainer(model, tokenizer, train_set, validation_set, config: TrainConfig, run: RunDir, args=None):
    from transformers import EarlyStoppingCallback

    from .callbacks import MetricsLogger
    from .reply_trainer import ReplyTrainer

    callbacks = [MetricsLogger(run.metrics)]
    if validation_set and config.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    return ReplyTrainer(
        model=model,
        args=args or training_arguments(config, run, bool(validation_set)),
        train_dataset=train_set,
        eval_dataset=validation_set or None,
        data_collator=batch_collator(tokenizer, config, model.config._attn_implementation),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def batch_collator(tokenizer, config: TrainConfig, attention: str):
    """Padded batches (labels padded with -100, so padding never adds loss), or with
    `padding_free` one flattened sequence per batch whose position ids restart at each
    example; SDPA and eager attention then build a block-diagonal mask from them and
    flash-attention gets the sequence boundaries, so examples never see each other.

    Padded lengths round up to a multiple of 8 on CUDA only, where tensor cores want aligned
    shapes; on a CPU that buys nothing and adds about 3 points of padding (make bench)."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if config.padding_free:
        return DataCollatorWithFlattening(return_flash_attn_kwargs=attention == "flash_attention_2")
    multiple = 8 if _cuda_available() else None
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, pad_to_multiple_of=multiple)


# 4. the whole run ------------------------------------------------------------------------

def prepare_run_dir(run: RunDir, resume: bool, overwrite: bool) -> None:
    if run.path.exists() and any(run.path.iterdir()) and not resume:
        if not overwrite:
            raise AssistantError(
                f"{run.path}: run directory exists (use --resume to continue it or --overwrite to replace it)"
            )
        shutil.rmtree(run.path)
    if resume and not run.checkpoints.is_dir():
        raise AssistantError(f"{run.path}: nothing to resume (no checkpoints/ in it)")
    run.path.mkdir(parents=True, exist_ok=True)


def train(data_dir: Path, run_dir: Path, config: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict:
    """Train and save the run. Under `accelerate launch` or `torchrun` every process runs
    this; only the main one writes the run directory, logs and progress bar, and the
    others return its summary too (all processes see the same global figures)."""
    import torch
    from transformers import set_seed

    from .base_model import load_tokenizer, resolve_base_model

    run = RunDir(Path(run_dir))
    data_dir = Path(data_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    processes = process_state()
    # Each node's first process converts a GGUF base model into that node's cache once, and
    # the node's other processes then read the cached copy.
    with processes.local_main_process_first():
        base_path = resolve_base_model(config.base_model)
    tokenizer = load_tokenizer(base_path)
    train_set = load_dataset_split(data_dir, "train.jsonl", tokenizer, config)
    validation_set = load_dataset_split(data_dir, "validation.jsonl", tokenizer, config)
    if not train_set:
        raise AssistantError(f"{data_dir / 'train.jsonl'}: no training examples")
    if processes.is_main_process:
        prepare_run_dir(run, resume, overwrite)
        if not resume:
            run.metrics.unlink(missing_ok=True)
    processes.wait_for_everyone()

    attention = attention_for(config, train_set + validation_set)
    compiled_graph = graph_key(config, base_path, attention, use_bf16(config))
    compiled = compile_for(config, len(train_set), processes.num_processes, cache_is_warm(compiled_graph),
                           _cuda_available())
    # The Trainer's arguments before the model: under DeepSpeed ZeRO-3 creating them is what
    # makes from_pretrained load each process's shard instead of the whole model.
    args = training_arguments(config, run, bool(validation_set))
    model = lora_model(base_path, config, attention, compiled)
    trainer = build_trainer(model, tokenizer, train_set, validation_set, config, run, args)
    result = trainer.train(resume_from_checkpoint=True if resume else None)

    summary = run_summary(config, base_path, data_dir, trainer, result, len(train_set), len(validation_set))
    summary["compiled"] = compiled
    weights = gathered_state_dict(trainer)
    if processes.is_main_process:
        with staged_directory(run.adapter) as staging:
            trainer.accelerator.unwrap_model(trainer.model).save_pretrained(staging, state_dict=weights)
        write_run_records(run, config, data_dir, summary)
        if compiled:
            mark_cache_warm(compiled_graph)  # later runs of this model compile from the cache
        if summary["tokens_per_second"]:
            from .speed import record_speed  # the dataset card's time estimates use the real figure

            record_speed(base_path, summary["tokens_per_second"], f"the training run {run.path}")
    processes.wait_for_everyone()
    return summary


def gathered_state_dict(trainer) -> dict | None:
    """The whole model's state dict where processes hold shards of its weights (FSDP,
    DeepSpeed): every process takes part in gathering it. None where each process holds
    whole weights, and save_pretrained reads the model itself."""
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        return trainer.accelerator.get_state_dict(trainer.model)
    return None


def process_state():
    """accelerate's view of the launch: one process, or one of several started by
    `accelerate launch` / `torchrun` (gloo on CPUs, NCCL on GPUs)."""
    from accelerate import PartialState

    return PartialState(cpu=not _cuda_available())


def run_summary(config, base_path, data_dir, trainer, result, n_train, n_validation) -> dict:
    import peft
    import torch
    import transformers

    from . import __version__

    state = trainer.state
    runtime = result.metrics.get("train_runtime", 0.0)
    tokens = state.num_input_tokens_seen
    return {
        "base_model": config.base_model or "smollm2-135m-instruct",
        "base_model_path": base_path,
        "data": str(data_dir.resolve()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_examples": n_train,
        "validation_examples": n_validation,
        "steps": state.global_step,
        "processes": trainer.accelerator.num_processes,
        "epochs": round(state.epoch or 0.0, 2),
        "best_eval_loss": state.best_metric,
        "train_loss": result.training_loss,
        "train_runtime_s": round(runtime, 1),
        "trained_tokens": tokens,
        "tokens_per_second": round(tokens / runtime, 1) if runtime else None,
        "precision": "bf16" if use_bf16(config) else "fp32",
        "versions": {
            "assistant": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "python": platform.python_version(),
        },
    }


def write_run_records(run: RunDir, config: TrainConfig, data_dir: Path, summary: dict) -> None:
    import yaml

    from .plotting import plot_loss_curve
    from .prepare import PROFILE_FILE, REPORT_FILE

    write_text_atomic(run.config, yaml.safe_dump(config.model_dump(), sort_keys=False))
    for name, target in ((PROFILE_FILE, run.profile_file), (REPORT_FILE, run.prepare_report)):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, target)
    plot_loss_curve(run.metrics, run.loss_curve)
    write_text_atomic(run.summary_file, json.dumps(summary, indent=2) + "\n")
