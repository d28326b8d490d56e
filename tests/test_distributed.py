"""`assistant train` under `accelerate launch` (and `torchrun`) with 2 CPU processes (gloo)
learns the same adapter as one process on the same global batch, and only the main process
writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, free_port, needs_cxx

CONFIGS = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))
STEPS = 4
SETTINGS = {  # fp32 and a plain random order, so both runs see identical global batches
    "max_steps": STEPS, "lora_r": 4, "lora_alpha": 8, "learning_rate": 0.01,
    "precision": "fp32", "group_by_length": False, "threads": 1,
}


def assistant_train(data: Path, out: Path, model: str, config: Path, batch_size: int, launcher: list[str],
                    *options: str) -> dict:
    command = [*launcher, "-m", "assistant.cli", "train", "--data", str(data), "--out", str(out),
               "--base-model", model, "--config", str(config), "--batch-size", str(batch_size), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"stdout": done.stdout, "run": json.loads((out / "run.json").read_text()), "out": out}


@pytest.fixture(scope="module")
def single_and_two_processes(tmp_path_factory, tiny_model_dir):
    from assistant.prepare import PrepareSettings, prepare

    root = tmp_path_factory.mktemp("ddp")
    prepare(PrepareSettings(inputs=[REPO / "demo" / "data" / "faq.csv"], profile="acme_coffee", out=root / "data"))
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(SETTINGS))
    single = assistant_train(root / "data", root / "one", tiny_model_dir, config, 4, [sys.executable])
    double = assistant_train(root / "data", root / "two", tiny_model_dir, config, 2, accelerate_launch())
    return root, single, double


def accelerate_launch() -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch",
            "--config_file", str(REPO / "configs" / "accelerate" / "cpu_ddp.yaml"),
            "--main_process_port", str(free_port())]


def test_two_cpu_processes_learn_the_single_process_adapter(single_and_two_processes):
    _, single, double = single_and_two_processes
    assert_same_adapter(single, double)


@needs_cxx
def test_compiled_layers_under_accelerate_learn_the_single_process_adapter(single_and_two_processes, tiny_model_dir):
    """`--compile` under DDP: each process compiles its decoder layers, DDP reduces their
    gradients, and the adapter is the one a single compiled process learns. (Against an
    uncompiled run a few near-zero first-step gradients differ in the last bits, and Adam
    turns those into visibly different updates: compiled is compared with compiled.)"""
    root, *_ = single_and_two_processes
    single = assistant_train(root / "data", root / "one-compiled", tiny_model_dir, root / "train.yaml", 4,
                             [sys.executable], "--compile")
    double = assistant_train(root / "data", root / "two-compiled", tiny_model_dir, root / "train.yaml", 2,
                             accelerate_launch(), "--compile")
    assert single["run"]["compiled"] and double["run"]["compiled"]
    assert_same_adapter(single, double)


def assert_same_adapter(single: dict, double: dict) -> None:
    from safetensors.torch import load_file

    assert single["run"]["processes"] == 1 and double["run"]["processes"] == 2
    assert single["run"]["steps"] == double["run"]["steps"] == STEPS
    assert single["run"]["trained_tokens"] == double["run"]["trained_tokens"]  # the same examples were seen
    one = load_file(single["out"] / "adapter" / "adapter_model.safetensors")
    two = load_file(double["out"] / "adapter" / "adapter_model.safetensors")
    assert one.keys() == two.keys()
    moved = max(float(one[k].abs().max()) for k in one if "lora_B" in k)
    assert moved > 1e-3  # lora_B starts at zero: the runs really trained
    for name in one:
        assert (one[name] - two[name]).abs().max() <= 1e-4 * max(1.0, float(one[name].abs().max())), name


def test_torchrun_learns_the_single_process_adapter(single_and_two_processes, tiny_model_dir):
    """The same command under `torchrun` (docs/scaling.md's command): the Trainer reads the
    launcher's environment, picks gloo on CPUs, and learns the same adapter."""
    root, single, _ = single_and_two_processes
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--master-port", str(free_port())]
    double = assistant_train(root / "data", root / "two-torchrun", tiny_model_dir, root / "train.yaml", 2, torchrun)
    assert_same_adapter(single, double)
    assert double["stdout"].count("Trained ") == 1


def test_only_the_main_process_writes(single_and_two_processes):
    _, _, double = single_and_two_processes
    assert double["stdout"].count("Trained ") == 1
    metrics = (double["out"] / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in metrics if "loss" in json.loads(line)]
    assert steps == sorted(set(steps))  # each log line once, not once per process


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_accelerate_configs_are_valid(path):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(path))
    assert config.num_processes >= 2
    assert config.distributed_type.value in {"MULTI_GPU", "FSDP", "DEEPSPEED", "MULTI_CPU"}
