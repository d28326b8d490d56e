"""Hardware facts: which device to use and whether bf16 is fast there."""

from __future__ import annotations

from functools import cache


@cache
def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 matmul (AVX-512 BF16 / AMX), where bf16 autocast is
    about 1.4-1.7x faster than fp32; elsewhere bf16 is emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = info.read()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def bf16_supported() -> bool:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_fast_bf16()


def default_dtype():
    import torch

    return torch.bfloat16 if bf16_supported() else torch.float32
