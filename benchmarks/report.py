"""Shared by the benchmarks that write BENCHMARKS.md: the machine line and section replacement."""

from __future__ import annotations

import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}"


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
