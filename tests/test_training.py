import json
import os

import pytest

from assistant.config import TrainConfig
from assistant.errors import AssistantError, InputError
from assistant.prepare import PrepareSettings, prepare
from assistant.training import load_dataset_split, train
from conftest import REPO, needs_cxx


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "data"
    prepare(PrepareSettings(inputs=[REPO / "demo" / "data" / "faq.csv"], profile="acme_coffee", out=out,
                            validation_fraction=0.2))
    return out


def tiny_config(tiny_model_dir, **kw):
    settings = dict(base_model=tiny_model_dir, max_steps=4, batch_size=4, eval_steps=2, logging_steps=1,
                    lora_r=4, lora_alpha=8)
    return TrainConfig(**{**settings, **kw})


def test_dataset_labels_only_replies(prepared, tokenizer):
    dataset = load_dataset_split(prepared, "train.jsonl", tokenizer, TrainConfig())
    example = dataset[0]
    reply_ids = [t for t, l in zip(example["input_ids"], example["labels"]) if l != -100]
    assert tokenizer.decode(reply_ids).endswith("— the Acme Coffee team" + tokenizer.eos_token)
    assert len(example["input_ids"]) == len(example["labels"]) == len(example["attention_mask"])


def test_train_writes_a_complete_run_dir(prepared, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    summary = train(prepared, run, tiny_config(tiny_model_dir))
    for name in ("adapter/adapter_config.json", "adapter/adapter_model.safetensors", "config.yaml",
                 "brand_profile.yaml", "prepare_report.json", "metrics.jsonl", "loss_curve.png", "run.json"):
        assert (run / name).is_file(), name
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in m for m in metrics) and any("eval_loss" in m and "eval_perplexity" in m for m in metrics)
    assert summary["steps"] == 4 and summary["trained_tokens"] > 0
    assert json.loads((run / "run.json").read_text())["validation_examples"] > 0

    # The adapter loads with plain peft onto the base model.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run / "adapter")
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_existing_run_dir_needs_resume_or_overwrite(prepared, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    train(prepared, run, tiny_config(tiny_model_dir))
    with pytest.raises(AssistantError, match="run directory exists"):
        train(prepared, run, tiny_config(tiny_model_dir))
    # resume continues from the last checkpoint up to the new step budget
    summary = train(prepared, run, tiny_config(tiny_model_dir, max_steps=6), resume=True)
    assert summary["steps"] == 6
    train(prepared, run, tiny_config(tiny_model_dir, max_steps=2), overwrite=True)
    assert json.loads((run / "run.json").read_text())["steps"] == 2


def test_same_seed_gives_the_same_adapter(prepared, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    for name in ("a", "b"):
        train(prepared, tmp_path / name, tiny_config(tiny_model_dir, max_steps=2))
    a = load_file(tmp_path / "a" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "b" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


@needs_cxx
def test_a_compiled_run_trains_and_saves_like_a_plain_one(prepared, tiny_model_dir, tmp_path, monkeypatch):
    """compile: true through the whole run (training and validation passes): the same
    adapter parameter names, and the same first-step loss. (Exact per-batch equality of
    loss and gradients is tests/test_batching.py's; after a few Adam steps fp32 reordering
    differences grow to about 1%, as between any two kernels.) Afterwards the compile cache
    is warm, so `compile: auto` compiles a later run of that graph that is long enough."""
    from safetensors.torch import load_file

    from assistant.compiling import WARM_PAYS_FROM_STEPS

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "compile-cache"))
    first_losses = {}
    for name, compile_layers in (("plain", False), ("compiled", True)):
        summary = train(prepared, tmp_path / name, tiny_config(tiny_model_dir, precision="fp32", compile=compile_layers))
        assert summary["compiled"] is compile_layers
        metrics = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        first_losses[name] = next(m["loss"] for m in metrics if "loss" in m)
    plain = load_file(tmp_path / "plain" / "adapter" / "adapter_model.safetensors")
    compiled = load_file(tmp_path / "compiled" / "adapter" / "adapter_model.safetensors")
    assert plain.keys() == compiled.keys()
    assert first_losses["compiled"] == pytest.approx(first_losses["plain"], rel=1e-5)
    assert (tmp_path / "compile-cache" / "assistant-compiled").is_dir()
    later = tiny_config(tiny_model_dir, precision="fp32", max_steps=WARM_PAYS_FROM_STEPS, eval_steps=1000)
    assert train(prepared, tmp_path / "later", later)["compiled"] is True


def test_auto_compile_is_for_cpu_runs_long_enough_to_gain(monkeypatch):
    from assistant import compiling
    from assistant.compiling import COLD_PAYS_FROM_STEPS, WARM_PAYS_FROM_STEPS, planned_steps

    monkeypatch.setattr(compiling.shutil, "which", lambda name: "/usr/bin/g++")

    def compile_for(config, rows, processes=1, warm=False, cuda=False):
        return compiling.compile_for(config, rows, processes, warm, cuda)

    demo = TrainConfig(epochs=1.4, batch_size=8)
    assert planned_steps(demo, 345, 1) == 62
    assert not compile_for(demo, 345)  # the demo on a machine that never compiled it: too short to gain
    assert compile_for(demo, 345, warm=True)  # once the compile cache holds its kernels, it gains
    assert not compile_for(TrainConfig(max_steps=WARM_PAYS_FROM_STEPS - 1), 10, warm=True)
    long_run = TrainConfig(epochs=3, batch_size=8)
    assert planned_steps(long_run, 2000, 1) == 750 and compile_for(long_run, 2000)
    assert planned_steps(long_run, 2000, 4) == 189 and not compile_for(long_run, 2000, 4)  # split over 4 processes
    assert not compile_for(long_run, 20000, 2, warm=True)  # data-parallel compiling is not measured
    assert compile_for(TrainConfig(max_steps=COLD_PAYS_FROM_STEPS), 10)
    assert compile_for(TrainConfig(compile=True), 10) and not compile_for(TrainConfig(compile=False), 2000, warm=True)
    assert not compile_for(long_run, 2000, cuda=True, warm=True)  # not measured on GPUs: auto stays off
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)  # no C++ compiler: auto stays off
    assert not compile_for(long_run, 2000, warm=True)


def test_the_compile_cache_is_warm_once_a_compiled_run_of_that_graph_finished(tmp_path, monkeypatch, tiny_model_dir):
    from assistant.compiling import cache_is_warm, compile_cache_dir, graph_key, mark_cache_warm, use_compile_cache

    monkeypatch.setattr(os, "environ", dict(os.environ))  # use_compile_cache sets a variable; keep it in this test
    os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    assert compile_cache_dir() == tmp_path / "home" / "torch-compile"  # persistent, unlike torch's /tmp default
    use_compile_cache()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "home" / "torch-compile")
    key = graph_key(TrainConfig(), tiny_model_dir, "eager", bf16=True)
    assert not cache_is_warm(key)
    mark_cache_warm(key)
    assert cache_is_warm(key)
    # another adapter rank, attention kernel or precision is another graph: still cold
    assert not cache_is_warm(graph_key(TrainConfig(lora_r=4), tiny_model_dir, "eager", bf16=True))
    assert not cache_is_warm(graph_key(TrainConfig(), tiny_model_dir, "sdpa", bf16=True))
    assert not cache_is_warm(graph_key(TrainConfig(), tiny_model_dir, "eager", bf16=False))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "own-cache"))  # the user's cache: its own markers
    assert compile_cache_dir() == tmp_path / "own-cache" and not cache_is_warm(key)


def test_compile_without_a_cxx_compiler_is_a_one_line_error(tiny_model_dir, monkeypatch):
    from assistant import compiling, training

    monkeypatch.setattr(training, "_cuda_available", lambda: False)
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    with pytest.raises(AssistantError, match=r"compile: true needs a C\+\+ compiler"):
        training.lora_model(tiny_model_dir, tiny_config(tiny_model_dir, compile=True), "eager", compile_layers=True)


def test_bad_prepared_data_is_a_one_line_error(tmp_path, tiny_model_dir):
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "x"}]}\n')
    (tmp_path / "validation.jsonl").write_text("")
    with pytest.raises(InputError, match=r"train.jsonl:1: expected .* assistant reply"):
        train(tmp_path, tmp_path / "run", tiny_config(tiny_model_dir))
    with pytest.raises(AssistantError, match="expected the output folder"):
        train(tmp_path / "missing", tmp_path / "run", tiny_config(tiny_model_dir))


def test_chat_command_on_a_trained_run(prepared, tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from assistant.cli import cli

    run = tmp_path / "run"
    train(prepared, run, tiny_config(tiny_model_dir, max_steps=2))
    script = "Hello there\n\n/reset\nWhat are your hours?\n/exit\nnever read\n"
    for extra in ([], ["--base"]):
        result = CliRunner().invoke(cli, ["chat", "--run", str(run), "--max-new-tokens", "5", "--seed", "1", *extra],
                                    input=script)
        assert result.exit_code == 0, result.output
        assert result.output.count("assistant> ") == 2  # the empty line is ignored, /exit ends the loop
        assert "(conversation cleared)" in result.output
        assert ("base model" in result.output) == bool(extra)


@pytest.mark.parametrize("compile_layers", [False, pytest.param(True, marks=needs_cxx)], ids=["eager", "compiled"])
def test_gradient_checkpointing_learns_the_same_adapter(prepared, tiny_model_dir, tmp_path, monkeypatch,
                                                        compile_layers):
    """`gradient_checkpointing: true` recomputes each decoder layer in backward (transformers'
    checkpoint function runs) and learns the adapter a run that keeps the activations learns."""
    import transformers.modeling_utils as modeling_utils
    from safetensors.torch import load_file

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "compile-cache"))
    checkpointed_calls = []
    checkpoint = modeling_utils.checkpoint

    def counting_checkpoint(*args, **kwargs):
        checkpointed_calls.append(kwargs.get("use_reentrant"))
        return checkpoint(*args, **kwargs)

    monkeypatch.setattr(modeling_utils, "checkpoint", counting_checkpoint)
    adapters = {}
    for checkpointing in (False, True):
        run = tmp_path / f"checkpointing-{checkpointing}"
        train(prepared, run, tiny_config(tiny_model_dir, max_steps=2, precision="fp32", compile=compile_layers,
                                         gradient_checkpointing=checkpointing))
        adapters[checkpointing] = load_file(run / "adapter" / "adapter_model.safetensors")
        assert bool(checkpointed_calls) is checkpointing
    assert set(checkpointed_calls) == {False}  # non-reentrant
    plain, checkpointed = adapters[False], adapters[True]
    assert plain.keys() == checkpointed.keys()
    assert max(float(plain[k].abs().max()) for k in plain if "lora_B" in k) > 1e-4  # the runs trained
    for name in plain:
        assert (plain[name] - checkpointed[name]).abs().max() <= 1e-5 * max(1.0, float(plain[name].abs().max())), name


def test_precision_decides_the_base_weights_dtype(tiny_model_dir, monkeypatch):
    """On hardware with fast bf16 the frozen weights load in bf16, unless `precision: fp32`
    asks for fp32; the trained LoRA weights stay fp32 either way."""
    import torch

    from assistant import device
    from assistant.training import lora_model

    monkeypatch.setattr(device, "bf16_supported", lambda: True)
    for precision, base_dtype in (("auto", torch.bfloat16), ("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = lora_model(tiny_model_dir, TrainConfig(base_model=tiny_model_dir, precision=precision, lora_r=4), "eager")
        frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
        trained = {p.dtype for p in model.parameters() if p.requires_grad}
        assert frozen == {base_dtype} and trained == {torch.float32}, precision


def test_sharded_training_saves_the_gathered_weights(prepared, tiny_model_dir, tmp_path):
    """Under FSDP or DeepSpeed each process holds shards, so train() saves the state dict
    accelerate gathers from all of them. With one process that dict is the model's own, and
    the adapter saved from it is byte-for-byte the one save_pretrained writes by itself."""
    from assistant.base_model import load_tokenizer
    from assistant.rundir import RunDir
    from assistant.training import attention_for, build_trainer, gathered_state_dict, lora_model

    config = tiny_config(tiny_model_dir)
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = load_dataset_split(prepared, "train.jsonl", tokenizer, config)
    model = lora_model(tiny_model_dir, config, attention_for(config, rows))
    trainer = build_trainer(model, tokenizer, rows, [], config, RunDir(tmp_path / "run"))
    assert gathered_state_dict(trainer) is None  # one process holds every weight: nothing to gather
    trainer.is_fsdp_enabled = True
    weights = gathered_state_dict(trainer)
    assert weights is not None and any("lora_A" in name for name in weights)
    model.save_pretrained(tmp_path / "gathered", state_dict=weights)
    model.save_pretrained(tmp_path / "own")
    saved = "adapter_model.safetensors"
    assert (tmp_path / "gathered" / saved).read_bytes() == (tmp_path / "own" / saved).read_bytes()


def test_padding_free_runs_count_every_trained_token(prepared, tiny_model_dir, tmp_path):
    """The same examples, padded or flattened, are the same number of tokens (tokens/s is
    reported from it); the flattened batch has no attention mask to count, and SmolLM2's pad
    token is its end-of-turn token."""
    runs = {}
    for padding_free in (False, True):
        config = tiny_config(tiny_model_dir, padding_free=padding_free, group_by_length=False, eval_steps=1000)
        runs[padding_free] = train(prepared, tmp_path / str(padding_free), config)
    assert runs[True]["trained_tokens"] == runs[False]["trained_tokens"] > 0
