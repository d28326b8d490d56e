"""benchmarks/speed_table.py: MFU is measured against the peak of the precision a run trained in."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from speed_table import mfu, steady_mfu, training_notes, training_rows  # noqa: E402


def figures(precision: str) -> dict:
    run = {"flops": 100e12, "runtime_s": 1000.0, "tokens": 200_000, "steady_tokens_per_s": 250.0, "steps": 40,
           "precision": precision, "compiled": False, "tokens_per_s": 200.0, "attention": "eager",
           "padding_share": 0.04, "padding_share_random_order": 0.25, "epoch_s": 1000.0, "peak_rss_mb": 4000.0}
    trl = {**run, "precision": "bf16", "bf16": True, "gradient_checkpointing": True, "tokens_per_s": 50.0}
    del trl["compiled"]  # TRL's run reports no compile decision
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


def test_each_kind_of_machine_is_its_own_section(tmp_path):
    from report import write_section
    from speed import SECTION, heading
    from speed_table import where

    cpu = {**figures("bf16"), "accelerator": None, "cpu": "AMD EPYC (AVX-512 BF16)"}
    laptop = {**figures("fp32"), "accelerator": None, "cpu": "AMD EPYC (AVX2)"}
    gpu = {**figures("bf16"), "accelerator": "NVIDIA H100 80GB HBM3", "cpu": "AMD EPYC (AVX-512 BF16)"}
    assert heading(cpu) == f"{SECTION} on AMD EPYC (AVX-512 BF16)"
    assert heading(gpu) == f"{SECTION} on NVIDIA H100 80GB HBM3"
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## prepare at scale\n\nkept\n")
    for round_ in ("one", "two"):
        for f, name in ((gpu, "gpu"), (cpu, "cpu"), (laptop, "laptop")):
            write_section(heading(f), f"{heading(f)}\n\n{name} {round_}\n", path)
    text = path.read_text()
    assert all(text.count(f"{heading(f)}\n") == 1 for f in (cpu, laptop, gpu))
    assert "kept" in text and all(f"{name} two" in text for name in ("gpu", "cpu", "laptop"))
    assert " one" not in text
    assert where(gpu) == "on NVIDIA H100 80GB HBM3" and where({**cpu, "threads": 2}) == "with 2 threads"


def test_the_cpu_class_names_its_widest_matrix_instructions(monkeypatch):
    import report

    monkeypatch.setattr(report, "cpu_model", lambda: "AMD EPYC")
    monkeypatch.setattr(report, "cpu_flags", lambda: frozenset("fpu sse2 avx2 fma avx512f avx512_bf16".split()))
    assert report.cpu_class() == "AMD EPYC (AVX-512 BF16)"
    monkeypatch.setattr(report, "cpu_flags", lambda: frozenset("fpu sse2 avx2 fma".split()))
    assert report.cpu_class() == "AMD EPYC (AVX2)"


def test_the_peak_is_measured_on_the_training_device():
    import torch
    from matmul_peak import matmul_peak, training_device

    assert training_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    gflops = matmul_peak("float32", "cpu", shapes=((64, 64, 64),), repeats=2)
    assert 0 < gflops < 1e5


def test_repeated_runs_report_the_median_run_and_list_every_run():
    from speed import median_run

    runs = [{"tokens_per_s": v, "runtime_s": 48_000 / v} for v in (431.0, 474.0, 452.0)]
    median = median_run(runs)
    assert median["tokens_per_s"] == 452.0 and median["runtime_s"] == 48_000 / 452.0
    assert median["every_tokens_per_s"] == [431.0, 474.0, 452.0]
    assert median_run(runs[:2])["tokens_per_s"] == 431.0  # an even count: the lower middle run
    f = figures("bf16")
    f["ours"]["every_tokens_per_s"], f["ours_warm"]["every_tokens_per_s"] = [448.0, 437.0, 452.0], [431.0, 474.0, 472.0]
    notes = "\n".join(training_notes(f))
    assert "(uncompiled) 448, 437, 452; compile cache warm 431, 474, 472" in notes
    assert "median of 3 runs" in "\n".join(training_rows(f))


def test_trl_trains_with_bf16_off_only_where_emulated_bf16_would_not_finish():
    from speed import trl_run

    assert trl_run({"peak_bf16": 1.2, "peak_fp32": 112.0}) == "trl-fp32"  # AVX2: about 100x slower
    assert trl_run({"peak_bf16": 69.0, "peak_fp32": 308.0}) == "trl"  # AVX-512 without bf16: its default ran
    assert trl_run({"peak_bf16": 435.0, "peak_fp32": 203.0}) == "trl"  # native bf16
    f = figures("fp32")
    f["trl"] = {**f["trl"], "bf16": False, "precision": "fp32"}
    f["peak_bf16"] = 1.2
    notes, rows = "\n".join(training_notes(f)), "\n".join(training_rows(f))
    assert "TRL `SFTTrainer`, defaults but bf16 off |" in rows
    assert "Speed-up over TRL's defaults (bf16 off): **4.00x**" in notes
    assert "bf16 off (its default is on, but this CPU emulates bf16 matmuls at 1.2 GFLOP/s against 250" in notes
    assert mfu(f, "trl") == 100e12 / 1000 / 250e9  # against the fp32 peak it trained in


def test_the_peak_skips_shapes_that_would_take_minutes(monkeypatch):
    import matmul_peak

    timed = []

    def one_gflop_per_second(a, b, device):
        timed.append((a.shape[0], a.shape[1], b.shape[1]))
        return 2 * a.shape[0] * a.shape[1] * b.shape[1] / 1e9

    monkeypatch.setattr(matmul_peak, "seconds_per_matmul", one_gflop_per_second)
    monkeypatch.setattr(matmul_peak, "CPU_SHAPES", ((64, 32, 16), (256, 256, 256), (4096, 4096, 4096)))
    assert matmul_peak.matmul_peak("float32", "cpu", repeats=2) == pytest.approx(1.0)
    assert sorted(set(timed)) == [(64, 32, 16), (256, 256, 256)]  # 4096 cubed: 137 s at this rate


def test_compiling_is_described_as_it_ran():
    """On a CPU `compile: auto` compiles the warm-cache runs; on a GPU it does not, and the
    table must not call those runs compiled."""
    f = figures("bf16")
    f["ours_warm"] = {**f["ours_warm"], "compiled": True, "tokens_per_s": 220.0}
    assert "Compiled, `assistant train` runs at 1.10x" in "\n".join(training_notes(f))
    gpu = figures("bf16")
    gpu["compiled_first"] = {**gpu["compiled_first"], "compiled": True, "tokens_per_s": 180.0}
    notes = "\n".join(training_notes(gpu))
    assert "Compiled, `assistant train`" not in notes
    assert "did not compile the later runs here" in notes and "ran at 0.90x" in notes


def test_a_gpu_runs_memory_row_gives_the_gpus_peak_beside_the_hosts():
    from speed_table import memory

    f = {**figures("bf16"), "memory": {"plain": 700.0, "app": 740.0, "naive": 1000.0}}
    assert "GPU:" not in "\n".join(memory(f))
    f["ours"] = {**f["ours"], "gpu_peak_mb": 1234.0}
    rows = memory(f)
    assert "| `assistant train`, demo epoch | 4000 MB (GPU: 1234 MB peak allocated) | |" in rows
    assert "| TRL `SFTTrainer`, same work | 4000 MB | |" in rows
