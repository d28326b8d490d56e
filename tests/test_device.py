"""Which dtype runs where: training follows the training device, everything else the CPU."""

import torch

from assistant import device
from assistant.config import TrainConfig
from assistant.training import use_bf16


def test_models_run_on_the_cpu_take_its_dtype_even_beside_a_bf16_gpu(monkeypatch):
    """On a GPU node whose CPU lacks native bf16, chat, eval and serving (which stay on the
    CPU) load fp32, while training (which moves to the GPU) still uses bf16."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset("fpu sse2 avx2 fma".split()))
    assert device.default_dtype() == torch.float32
    assert use_bf16(TrainConfig())
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset("avx2 avx512f avx512_bf16".split()))
    assert device.default_dtype() == torch.bfloat16


def test_without_a_gpu_training_and_chat_agree_on_the_cpus_dtype(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for flags, dtype in (("avx2 fma", torch.float32), ("avx512f avx512_bf16", torch.bfloat16)):
        monkeypatch.setattr(device, "cpu_flags", lambda flags=flags: frozenset(flags.split()))
        assert device.default_dtype() == dtype
        assert use_bf16(TrainConfig()) is (dtype == torch.bfloat16)
