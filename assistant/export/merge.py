"""The run's LoRA adapter folded into the base weights (PEFT's merge_and_unload).

The merge is done in float32 and, by default, stored in float32: the merged model then
reproduces base+adapter exactly. Storing it in bf16 (--dtype bfloat16, half the size) rounds
each merged weight to 8 significant bits, which is coarser than the adapter's change to many
of them; on the demo run that moved logits by up to 0.5 and changed one of three greedy
probe replies after its first sentence (docs/deploy.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssistantError

PROBE_PROMPTS = (
    "Hi! What can you help me with?",
    "My order arrived damaged. What should I do?",
    "Can I change my delivery address after ordering?",
)


@dataclass
class MergedRun:
    name: str  # file-name-safe run name
    model: object  # the merged plain transformers model, float32
    tokenizer: object
    system_prompt: str
    base_model: str  # as recorded by the run ("smollm2-135m-instruct", a path, a hub id)
    base_path: Path  # the local base model directory the run was trained on
    dtype: str  # the dtype the HF export is stored in
    reference: object = field(default=None)  # verify.Probe of base+adapter before merging


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def load_merged(run_dir: str | Path, dtype: str | None = None, probe: bool = True) -> MergedRun:
    import torch
    from peft import PeftModel

    from ..base_model import load_model, load_tokenizer
    from ..rundir import RunDir
    from .verify import probe_model

    run = RunDir.open(run_dir)
    summary = run.summary()
    base_path = run.base_model_path()
    tokenizer = load_tokenizer(base_path)
    system_prompt = run.profile().system_prompt
    peft_model = PeftModel.from_pretrained(load_model(base_path, dtype=torch.float32), run.adapter)
    peft_model.eval()
    reference = probe_model(peft_model, tokenizer, system_prompt) if probe else None
    model = peft_model.merge_and_unload()
    return MergedRun(
        name=safe_name(run.path.resolve().name),
        model=model,
        tokenizer=tokenizer,
        system_prompt=system_prompt,
        base_model=str(summary.get("base_model") or base_path),
        base_path=Path(base_path),
        dtype=dtype or "float32",
        reference=reference,
    )


def save_hf(merged: MergedRun, folder: Path) -> None:
    """A plain Hugging Face model directory: safetensors, config, generation config and the
    tokenizer with its chat template."""
    import torch

    dtype = getattr(torch, merged.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise AssistantError(f"--dtype {merged.dtype!r}: expected float32, bfloat16 or float16")
    model = merged.model.to(dtype)
    try:
        model.save_pretrained(folder)
    finally:
        merged.model.to(torch.float32)  # the GGUF writer and the verification read float32
    merged.tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text(model_card(merged), encoding="utf-8")


def model_card(merged: MergedRun) -> str:
    return (
        f"# {merged.name}\n\n"
        f"LoRA fine-tune of `{merged.base_model}` made with `assistant`, merged into the base "
        f"weights ({merged.dtype}).\n\n"
        "Load it with plain transformers:\n\n"
        "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "model = AutoModelForCausalLM.from_pretrained(PATH)\n"
        "tokenizer = AutoTokenizer.from_pretrained(PATH)\n```\n\n"
        "It was tuned with this system prompt; send it as the first (system) message:\n\n"
        + "\n".join(f"> {line}" for line in merged.system_prompt.splitlines())
        + "\n"
    )
