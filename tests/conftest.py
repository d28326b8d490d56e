"""Shared fixtures: the real tokenizer and a tiny randomly initialised Llama built from a config.

Unit tests train and generate with the tiny model (seconds); tests marked `slow` use the real
embedded SmolLM2-135M-Instruct end to end.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.compiling import has_cxx_compiler

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs the unit tests in one worker per core: one thread each (and in the
    # processes they start), or a worker's OpenMP threads spin waiting on a busy core.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

needs_cxx = pytest.mark.skipif(not has_cxx_compiler(), reason="no C++ compiler for torch.compile")


@pytest.fixture(scope="session")
def base_model_path() -> str:
    """The cached plain-model directory of the embedded base model (converted once)."""
    from assistant.base_model import resolve_base_model

    return resolve_base_model(None)


@pytest.fixture(scope="session")
def tokenizer(base_model_path):
    from assistant.base_model import load_tokenizer

    return load_tokenizer(base_model_path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    """A 2-layer Llama with the real vocabulary and chat template, random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the repository")
    return SHARED_DATA


@pytest.fixture
def gguf_parses():
    """Counts the GGUFReaders actually constructed (each one parses the whole file)."""
    from assistant.gguf_reading import counted_parses

    with counted_parses() as parsed:
        yield parsed


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_tiny_run(root: Path, tiny_model_dir: str) -> Path:
    """Prepare the demo FAQ and train the tiny model for 2 steps: a finished run in seconds."""
    from assistant.config import TrainConfig
    from assistant.prepare import PrepareSettings, prepare
    from assistant.training import train

    prepare(PrepareSettings(inputs=[REPO / "demo" / "data" / "faq.csv"], profile="acme_coffee", out=root / "data"))
    run = root / "runs" / "tiny"
    train(root / "data", run, TrainConfig(base_model=tiny_model_dir, max_steps=2, batch_size=4, lora_r=4, lora_alpha=8))
    return run


def strengthen_adapter(run: Path, scale: float = 0.1) -> None:
    """Replace the run's LoRA weights with random ones. After two training steps LoRA's B
    matrices are still almost zero, so base and tuned would be indistinguishable and a test
    that lost the adapter would still pass."""
    import torch
    from safetensors.torch import load_file, save_file

    weights_file = run / "adapter" / "adapter_model.safetensors"
    generator = torch.Generator().manual_seed(1)
    weights = {k: torch.randn(v.shape, generator=generator) * scale for k, v in load_file(weights_file).items()}
    save_file(weights, weights_file)


def start_uvicorn(app):
    """Serve an ASGI app on a free port in a thread; returns (server, thread, base url)."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{server.config.port}"
