"""Hardware facts: which device to use and whether bf16 is fast there."""

from __future__ import annotations

from functools import cache


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo; empty where there is none (macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 matmul (AVX-512 BF16 / AMX), where bf16 autocast is
    about 1.4-1.7x faster than fp32; elsewhere bf16 is emulated and slower."""
    return not cpu_flags().isdisjoint({"avx512_bf16", "amx_bf16"})


def bf16_supported() -> bool:
    import torch

    if torch.cuda.is_available():
        # Native bf16 only (Ampere and later): by default torch also answers True for GPUs
        # that emulate it (V100, T4), where bf16 runs slower than fp16 or fp32.
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_fast_bf16()


def flash_attention_2_usable() -> bool:
    """flash-attn 2 installed in a version transformers accepts, on a GPU it supports
    (compute capability 8.0 and up: Ampere, Ada, Hopper). `find_spec` alone would also pick
    it on an older GPU, or a broken build, and fail at model load."""
    import torch
    from transformers.utils import is_flash_attn_2_available

    return (torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
            and is_flash_attn_2_available())


def default_dtype():
    """The dtype of a model run on the CPU: chat, the app, eval, serving, the quick start.
    Only training moves to a GPU, and picks its own (training.use_bf16); on a GPU node
    whose CPU lacks native bf16, a bf16 model on that CPU would be emulated, many times
    slower than fp32."""
    import torch

    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
