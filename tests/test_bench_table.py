"""benchmarks/speed_table.py: MFU is measured against the peak of the precision a run trained in."""

from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from speed_table import mfu, steady_mfu, training_notes  # noqa: E402


def figures(precision: str) -> dict:
    run = {"flops": 100e12, "runtime_s": 1000.0, "tokens": 200_000, "steady_tokens_per_s": 250.0, "steps": 40,
           "precision": precision, "compiled": False, "tokens_per_s": 200.0, "attention": "eager",
           "padding_share": 0.04, "padding_share_random_order": 0.25}
    trl = {**run, "precision": "bf16", "bf16": True, "gradient_checkpointing": True, "tokens_per_s": 50.0}
    return {"peak_bf16": 50.0, "peak_fp32": 250.0, "steps": 40, "ours": run, "trl": trl,
            "ours_warm": dict(run), "compiled_first": {**run, "runtime_s": 1100.0}}


def test_a_fp32_run_is_measured_against_the_fp32_peak():
    f = figures("fp32")
    assert mfu(f, "ours") == 100e12 / 1000 / 250e9  # 40%, not 200% of the emulated bf16 peak
    assert steady_mfu(f, "ours") == 100e12 / 200_000 * 250 / 250e9
    assert mfu(f, "trl") == 100e12 / 1000 / 50e9  # TRL's bf16 autocast against the bf16 peak
    notes = "\n".join(training_notes(f))
    assert "`assistant train`: fp32; TRL: bf16" in notes and "**40.0%** (NOT met)" in notes
    assert "no native bf16" in notes


def test_a_bf16_run_is_measured_against_the_bf16_peak():
    f = figures("bf16")
    assert mfu(f, "ours") == 100e12 / 1000 / 50e9
    assert "no native bf16" not in "\n".join(training_notes(f))
