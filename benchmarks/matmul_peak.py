"""The matmul peak MFU divides by, measured on the device training runs on.

On a GPU node the Trainer trains on the GPU, so the peak must be the GPU's: timed with CUDA
events around a run of matmuls (the CPU clock would time only the kernel launches), on
matrices large enough to fill the GPU. On a CPU, square and training-shaped matmuls on all
threads.
"""

from __future__ import annotations

import time

# Smallest first: a shape is skipped when one matmul of it would take longer than
# MAX_SECONDS_PER_MATMUL at the best rate so far (emulated bf16 on an AVX2 CPU runs at about
# 1 GFLOP/s, where one 4096-cubed matmul takes two minutes; the small shapes measure it).
CPU_SHAPES = ((1024, 576, 1536), (1024, 1536, 576), (2048, 2048, 2048), (4096, 4096, 4096))
MAX_SECONDS_PER_MATMUL = 2.0
GPU_SHAPES = ((16384, 576, 1536), (16384, 1536, 576), (8192, 8192, 8192), (16384, 16384, 16384))


def training_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def device_name(device: str) -> str | None:
    """The GPU's name for the benchmark's heading and machine line; None on a CPU."""
    import torch

    return torch.cuda.get_device_name(0) if device == "cuda" else None


def matmul_peak(dtype_name: str, device: str | None = None, shapes=None, repeats: int = 5) -> float:
    """Best GFLOP/s of one matmul in this dtype on `device` (the training device by default)."""
    import torch

    device = device or training_device()
    shapes = shapes or (GPU_SHAPES if device == "cuda" else CPU_SHAPES)
    dtype = getattr(torch, dtype_name)
    best = 0.0
    for m, k, n in shapes:
        if best and 2 * m * k * n / (best * 1e9) > MAX_SECONDS_PER_MATMUL:
            continue
        a = torch.randn(m, k, dtype=dtype, device=device)
        b = torch.randn(k, n, dtype=dtype, device=device)
        for _ in range(2):  # warm-up: library initialisation, kernel choice
            a @ b
        for _ in range(repeats):
            best = max(best, 2 * m * k * n / seconds_per_matmul(a, b, device) / 1e9)
    return best


def seconds_per_matmul(a, b, device: str) -> float:
    import torch

    if device != "cuda":
        started = time.perf_counter()
        a @ b
        return time.perf_counter() - started
    runs = 10  # one launch takes microseconds; time a run of them between two events
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(runs):
        a @ b
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / runs
