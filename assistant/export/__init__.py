"""`assistant export`: a run's adapter merged into the base weights, for use without this project.

  --format hf    a standard Hugging Face model directory (safetensors, config, tokenizer with
                 its chat template) that plain `transformers` loads;
  --format gguf  one GGUF file (f16, bf16, q8_0 or f32) with the tokenizer and chat template in
                 its metadata, for llama.cpp, plus an Ollama `Modelfile` carrying the brand
                 system prompt, the chat template and the stop tokens.

Both are written into a staging folder and swapped into place when complete, and both are
checked before that swap: the written model is loaded back (plain transformers, or
transformers' GGUF loader) and its logits and greedy replies are compared with the merged
model in memory (see verify.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import staged_directory
from ..errors import AssistantError
from .merge import MergedRun, load_merged, save_hf
from .verify import Agreement

FORMATS = ("hf", "gguf")
GGUF_TYPES = ("f16", "bf16", "q8_0", "f32")


@dataclass
class ExportResult:
    out: Path
    name: str  # the file-name-safe run name the files and the Modelfile use
    files: list[str]
    agreement: Agreement | None


def export_run(run_dir: str | Path, fmt: str, out: str | Path, gguf_type: str = "f16", dtype: str | None = None,
               verify: bool = True) -> ExportResult:
    if fmt not in FORMATS:
        raise AssistantError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if gguf_type not in GGUF_TYPES:
        raise AssistantError(f"--gguf-type {gguf_type!r}: expected one of {', '.join(GGUF_TYPES)}")
    merged = load_merged(run_dir, dtype=dtype, probe=verify)
    out = Path(out)
    with staged_directory(out) as staging:
        if fmt == "hf":
            agreement = export_hf(merged, staging, verify)
        else:
            agreement = export_gguf(merged, staging, gguf_type, verify)
        provenance = {
            "run": str(Path(run_dir).resolve()),
            "base_model": merged.base_model,
            "format": fmt,
            "gguf_type": gguf_type if fmt == "gguf" else None,
            "system_prompt": merged.system_prompt,
            "verification": asdict(agreement) if agreement else None,
        }
        (staging / "assistant-export.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        files = sorted(p.name for p in staging.iterdir())
    return ExportResult(out, merged.name, files, agreement)


def export_hf(merged: MergedRun, folder: Path, verify: bool) -> Agreement | None:
    save_hf(merged, folder)
    if not verify:
        return None
    from .verify import compare_with_reference, load_hf_export

    return compare_with_reference(merged, load_hf_export(folder))


def export_gguf(merged: MergedRun, folder: Path, gguf_type: str, verify: bool) -> Agreement | None:
    from .gguf_file import write_gguf
    from .modelfile import write_modelfile

    gguf_path = folder / f"{merged.name}-{gguf_type}.gguf"
    write_gguf(merged, gguf_path, gguf_type)
    write_modelfile(merged, gguf_path.name, folder / "Modelfile")
    if not verify:
        return None
    from ..gguf_reading import parsed_once
    from .verify import check_gguf_tokenizer, compare_with_reference, load_gguf_export

    with parsed_once():  # the tokenizer's and the model's config and the weights: one parse, not three
        check_gguf_tokenizer(gguf_path, merged)
        model = load_gguf_export(gguf_path)
    return compare_with_reference(merged, model)
