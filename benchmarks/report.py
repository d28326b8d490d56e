"""Shared by the benchmarks that write BENCHMARKS.md: the machine line and section replacement."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from assistant.device import cpu_flags

REPO = Path(__file__).resolve().parents[1]


# The widest matrix instructions a CPU has, best first: they set its matmul peak and whether
# bf16 is native (so whether `assistant train` trains in bf16 or fp32 there).
MATMUL_ISAS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_class() -> str:
    """The CPU's model and its widest matrix instructions, e.g. "AMD EPYC (AVX-512 BF16)":
    machines sold under one name differ in these, and so in every training figure."""
    flags = cpu_flags()
    isa = next((label for flag, label in MATMUL_ISAS if flag in flags), platform.machine())
    return f"{cpu_model()} ({isa})"


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores visible, Python {platform.python_version()}"


def write_section(heading: str, text: str, path: Path = REPO / "BENCHMARKS.md") -> None:
    """Replace the section starting at `heading` (up to the next "## ") in BENCHMARKS.md,
    or append it."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    line = f"\n{heading}\n"  # the whole heading line: one heading may begin another
    if line in current:
        start = current.index(line) + 1
        end = current.find("\n## ", start + len(heading))
        current = current[:start] + current[end + 1:] if end != -1 else current[:start]
    path.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def publish(heading: str, text: str, write: bool) -> None:
    """Print a benchmark's section, and with `write` put it into BENCHMARKS.md."""
    print()
    print(text)
    if write:
        write_section(heading, text)
