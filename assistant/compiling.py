"""torch.compile for training: when it pays, where its cache lives, and compiling the layers.

A compiled step is faster on 2 CPU cores (make bench runs): 1.07-1.30x in fp32 on an Intel
Xeon without native bf16, 1.06-1.09x in bf16 on an AMD EPYC with it. Compiling costs time once
per machine: the first compiled run spends 25-50 s compiling and comes out ahead of a plain
run after 58-243 steps in fp32 and 156-166 in bf16. The compiled kernels are cached on disk, so
later runs only trace one layer and load its kernels (a few seconds) and come out ahead
after 13-39 steps in fp32 and 5-9 in bf16.
`compile: auto` therefore compiles a long run (COLD_PAYS_FROM_STEPS) on a machine that has not
compiled this model yet, and any run of WARM_PAYS_FROM_STEPS or more once it has.

"Has compiled this model" is a marker file written after a compiled training run finishes,
inside the compile cache itself (so wiping the cache wipes the marker), keyed by what shapes
the compiled graph: torch version, the base model's config, and the adapter and precision
settings. A stale marker costs one slower run (torch compiles again), never a wrong result.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path

from .config import TrainConfig
from .errors import AssistantError

COLD_PAYS_FROM_STEPS = 300  # measured break-even 58-243 steps (nine make bench runs), with margin
WARM_PAYS_FROM_STEPS = 40  # measured break-even 5-39 steps (nine make bench runs)
WARM_MARKERS = "assistant-compiled"
# Bumped when the code the compiled layer traces changes (2: grouped eager attention), so a
# marker left by the old graph no longer counts as a warm cache.
LAYER_CODE_VERSION = 2


def compile_cache_dir() -> Path:
    """torch's compile cache (TORCHINDUCTOR_CACHE_DIR): the user's setting, else a folder in
    the project cache, which unlike torch's default under /tmp survives a reboot."""
    from .home import assistant_home

    configured = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    return Path(configured) if configured else assistant_home() / "torch-compile"


def use_compile_cache() -> None:
    """Point torch at compile_cache_dir(): it reads TORCHINDUCTOR_CACHE_DIR each time it compiles."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(compile_cache_dir())


def graph_key(config: TrainConfig, base_path: str, attention: str, bf16: bool) -> str:
    """What the compiled decoder layer depends on, hashed: a run with the same key reuses the
    cached kernels."""
    import torch

    config_file = Path(base_path) / "config.json"
    model_config = config_file.read_text(encoding="utf-8") if config_file.is_file() else base_path
    settings = {
        "torch": torch.__version__,
        "layer_code": LAYER_CODE_VERSION,
        "model": model_config,
        "attention": attention,
        "bf16": bf16,
        "lora": [config.lora_r, config.lora_alpha, config.lora_dropout, config.target_modules],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def cache_is_warm(key: str) -> bool:
    return (compile_cache_dir() / WARM_MARKERS / key).is_file()


def mark_cache_warm(key: str) -> None:
    """Called after a compiled run finished: its kernels are in the cache now."""
    markers = compile_cache_dir() / WARM_MARKERS
    markers.mkdir(parents=True, exist_ok=True)
    (markers / key).touch()


def planned_steps(config: TrainConfig, train_rows: int, processes: int) -> int:
    if config.max_steps > 0:
        return config.max_steps
    batches = math.ceil(train_rows / (config.batch_size * processes))
    return math.ceil(math.ceil(batches / config.grad_accum) * config.epochs)


def compile_for(config: TrainConfig, train_rows: int, processes: int, warm: bool, cuda: bool) -> bool:
    """Whether to compile the decoder layers: as configured, or with `auto` on single-process
    CPU runs that gain (see the module docstring) where a C++ compiler is installed. (On GPUs
    and under data-parallel launches the gain is not measured here, so auto leaves compiling
    to `compile: true`.)"""
    if config.compile != "auto":
        return config.compile
    if cuda or processes > 1 or not has_cxx_compiler():
        return False
    steps = planned_steps(config, train_rows, processes)
    return steps >= (WARM_PAYS_FROM_STEPS if warm else COLD_PAYS_FROM_STEPS)


def has_cxx_compiler() -> bool:
    """torch.compile on CPU generates C++ and builds it with the system compiler."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def compile_decoder_layers(model, cuda: bool) -> None:
    """torch.compile each decoder layer in place ("regional" compilation): the layers share
    one compiled graph, so compiling costs one layer's worth, not the model's, and the
    elementwise work around the matmuls (norms, rotary, SiLU, LoRA scaling, casts) is fused.
    Dynamic shapes, because length-grouped batches change length every step. In place, so
    parameter names, the saved adapter and checkpoints are those of the plain model."""
    if not cuda and not has_cxx_compiler():
        raise AssistantError("compile: true needs a C++ compiler on CPU (g++, or $CXX); install one or leave compile off")
    use_compile_cache()
    layer_classes = set(getattr(model.get_base_model(), "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise AssistantError(f"compile: true: no decoder layers found in {type(model.get_base_model()).__name__}")
    import torch._dynamo

    # With dynamic=True torch also traces Python float attributes (RMSNorm's epsilon, the LoRA
    # and attention scalings) as symbols, fails to turn them into tensors, and traces the whole
    # layer a second time with them as constants; the discarded attempt also misses the
    # AOTAutograd cache. They are constants of the model: specialising them up front makes one
    # trace, and a warm-cache run's first step went from 21.9 s to 12.6-14.3 s (an eager first
    # step takes about 12 s: SmolLM2-135M, 2 cores).
    torch._dynamo.config.specialize_float = True
    for layer in layers[1:] if input_is_frozen(model) else layers:
        layer.compile(dynamic=True)


def input_is_frozen(model) -> bool:
    """Whether the first decoder layer's input (the input embeddings' output) needs no gradient.
    torch.compile guards on requires_grad, so a compiled first layer would be a second graph,
    traced and compiled on its own for 1/L of the work (a training run's first step, warm
    cache: 27.7 s with it, 21.9 s without, SmolLM2-135M, 2 cores); left eager, all compiled
    layers share one graph."""
    embeddings = model.get_input_embeddings()
    return embeddings is not None and not any(p.requires_grad for p in embeddings.parameters())
