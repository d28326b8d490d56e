"""The quick-start chat path reproduces transformers: the same prompt ids, logits
processing and replies (greedy and seeded sampling, base and tuned), and anything it
does not reproduce falls back to `ChatModel`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.chat_cli import open_chat_model
from assistant.errors import AssistantError
from assistant.generation import ChatModel, GenerationSettings
from assistant.quickstart.chat import QuickChatModel, processed_scores
from assistant.quickstart.llama import LlamaDecoder
from conftest import strengthen_adapter, train_tiny_run

HISTORIES = [
    [{"role": "user", "content": "Do you sell oat milk?"}],
    [{"role": "user", "content": "My order #4411 arrived cold."}, {"role": "assistant", "content": "Sorry to hear!"},
     {"role": "user", "content": "Écris un haïku sur le café ☕"}],
]
SETTINGS = [
    GenerationSettings(max_new_tokens=16),  # greedy with the default repetition penalty
    GenerationSettings(max_new_tokens=16, temperature=0.8, top_p=0.9, seed=7),
    GenerationSettings(max_new_tokens=16, temperature=1.0, top_p=1.0, repetition_penalty=1.0, seed=2),
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    run = train_tiny_run(tmp_path_factory.mktemp("quick"), tiny_model_dir)
    strengthen_adapter(run)
    return run


def test_prompt_ids_match_the_tokenizers_chat_template(tiny_model_dir, tokenizer):
    quick = QuickChatModel.open(tiny_model_dir, "Be brief.")
    reference = ChatModel.from_base(tiny_model_dir, "Be brief.")
    for history in HISTORIES:
        assert quick.prompt_ids(history, 20) == reference.prompt_ids(history, 20)
    assert quick.stop_ids == reference.stop_ids


@pytest.mark.parametrize("use_base", [False, True], ids=["tuned", "base"])
def test_replies_match_transformers_generate(tiny_run, use_base):
    quick = open_chat_model(tiny_run, use_base, None, None, engine="quick")
    reference = open_chat_model(tiny_run, use_base, None, None, engine="transformers")
    assert isinstance(quick, QuickChatModel) and isinstance(reference, ChatModel)
    pairs = [(quick.reply(history, settings), reference.reply(history, settings, tuned=not use_base))
             for history in HISTORIES for settings in SETTINGS]
    assert [ours for ours, _ in pairs] == [theirs for _, theirs in pairs]
    assert sum(bool(theirs) for _, theirs in pairs) >= len(pairs) // 2  # mostly real replies, not empty ones


def test_merged_adapter_changes_the_logits(tiny_run, tiny_model_dir):
    """The tuned decoder really carries the adapter: its logits differ from the base's."""
    import torch

    ids = torch.tensor([[1, 2, 3, 4]])
    base = LlamaDecoder.load(Path(tiny_model_dir), torch.float32)
    tuned = LlamaDecoder.load(Path(tiny_model_dir), torch.float32, tiny_run / "adapter")
    assert not torch.allclose(base.next_token_logits(ids, []), tuned.next_token_logits(ids, []))


def test_kv_cache_steps_give_the_full_forward_logits(tiny_model_dir):
    import torch

    decoder = LlamaDecoder.load(Path(tiny_model_dir), torch.float32)
    ids = torch.tensor([[5, 9, 200, 17, 3000, 42]])
    cache: list = []
    decoder.next_token_logits(ids[:, :3], cache)
    for i in range(3, ids.shape[1]):
        stepped = decoder.next_token_logits(ids[:, i:i + 1], cache)
    torch.testing.assert_close(stepped, decoder.next_token_logits(ids, []), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("settings", SETTINGS[1:] + [GenerationSettings(temperature=0.0, repetition_penalty=1.3)])
def test_processed_scores_match_transformers_processors(settings):
    import torch
    from transformers.generation.logits_process import (
        LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
        TopPLogitsWarper)

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 500, generator=generator) * 4
    seen = torch.randint(0, 500, (1, 40), generator=generator)
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.temperature > 0:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        processors.append(TopKLogitsWarper(50))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(settings.top_p))
    assert torch.equal(processed_scores(logits, seen, settings), processors(seen, logits.clone()))


def copy_with(tmp_path, model_dir, file: str, change) -> Path:
    """A copy of `model_dir` whose JSON `file` is `change(settings)`."""
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    path = copy / file
    path.write_text(json.dumps(change(json.loads(path.read_text()) if path.is_file() else {})))
    return copy


LINEAR_ROPE = {"rope_type": "linear", "factor": 2.0}
UNREPRODUCED = [
    ("config.json", lambda c: {**c, "rope_parameters": {**c["rope_parameters"], **LINEAR_ROPE}}, "rope type 'linear'"),
    ("config.json", lambda c: {**c, "rope_scaling": {"type": "linear", "factor": 2.0}}, "rope type 'linear'"),
    ("config.json", lambda c: {**c, "quantization_config": {"quant_method": "fp8"}}, "quantized weights"),
    ("config.json", lambda c: {**c, "tie_word_embeddings": False}, "the checkpoint lacks lm_head.weight"),
    ("generation_config.json", lambda g: {**g, "no_repeat_ngram_size": 3}, "sets no_repeat_ngram_size"),
    ("tokenizer_config.json", lambda t: {**t, "tokenizer_class": "LlamaTokenizer"}, "tokenizer class 'LlamaTokenizer'"),
]


@pytest.mark.parametrize("file, change, reason", UNREPRODUCED, ids=lambda v: v if isinstance(v, str) else "")
def test_models_it_does_not_reproduce_fall_back_to_transformers(tmp_path, tiny_model_dir, file, change, reason):
    model_dir = copy_with(tmp_path, tiny_model_dir, file, change)
    with pytest.raises(AssistantError, match=f"--engine quick cannot run .*{reason}"):
        open_chat_model(None, True, str(model_dir), None, engine="quick")
    if "quantized" not in reason:  # transformers cannot load these fake fp8 weights either
        assert isinstance(open_chat_model(None, True, str(model_dir), None), ChatModel)


@pytest.mark.parametrize("top_k", [3, 0])
def test_the_models_own_top_k_is_used(tmp_path, tiny_model_dir, top_k):
    model_dir = copy_with(tmp_path, tiny_model_dir, "generation_config.json", lambda g: {**g, "top_k": top_k})
    quick = open_chat_model(None, True, str(model_dir), None, engine="quick")
    reference = open_chat_model(None, True, str(model_dir), None, engine="transformers")
    settings = GenerationSettings(max_new_tokens=16, temperature=1.5, top_p=1.0, repetition_penalty=1.0, seed=4)
    assert quick.top_k == top_k
    assert quick.reply(HISTORIES[0], settings) == reference.reply(HISTORIES[0], settings, tuned=False)


def test_a_template_that_refuses_the_conversation_is_one_line(tmp_path, tiny_model_dir):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "chat_template.jinja").write_text("{{ raise_exception('Roles must alternate') }}")
    quick = open_chat_model(None, True, str(model_dir), None, engine="quick")
    with pytest.raises(AssistantError, match=r"chat template refused the conversation \(Roles must alternate\)"):
        quick.reply(HISTORIES[0])


def test_adapters_it_does_not_merge_are_refused_by_the_quick_engine(tmp_path, tiny_run):
    import torch
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    adapter_config = run / "adapter" / "adapter_config.json"
    adapter_config.write_text(json.dumps({**json.loads(adapter_config.read_text()), "use_dora": True}))
    with pytest.raises(AssistantError, match="adapter use_dora=True"):
        open_chat_model(run, False, None, None, engine="quick")
    adapter_config.write_text(json.dumps({**json.loads(adapter_config.read_text()), "use_dora": False}))
    weights_file = run / "adapter" / "adapter_model.safetensors"
    save_file({**load_file(weights_file), "base_model.model.lm_head.lora_A.weight": torch.zeros(4, 32)}, weights_file)
    with pytest.raises(AssistantError, match="lm_head.lora_A.weight is not half of a LoRA pair on a decoder projection"):
        open_chat_model(run, False, None, None, engine="quick")


def test_quick_chat_does_not_import_transformers(tiny_model_dir):
    """The point of the path: a reply without transformers' import time (nor pydantic's,
    which the base model needs only for a --profile)."""
    code = (
        "import sys\n"
        "from assistant.chat_cli import open_chat_model\n"
        "from assistant.generation import GenerationSettings\n"
        f"chat = open_chat_model(None, True, {tiny_model_dir!r}, None)\n"
        "print(type(chat).__name__, bool(chat.reply([{'role': 'user', 'content': 'hi'}], GenerationSettings(max_new_tokens=4))),"
        " any(m.split('.')[0] in ('transformers', 'peft', 'pydantic') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["QuickChatModel", "True", "False"]


@pytest.mark.parametrize("engine", ["quick", "transformers"])
def test_chat_command_streams_the_same_reply_with_either_engine(tiny_run, engine):
    from click.testing import CliRunner

    from assistant.cli import cli

    result = CliRunner().invoke(cli, ["chat", "--run", str(tiny_run), "--temperature", "0", "--max-new-tokens", "12",
                                      "--engine", engine], input="What are your hours?\n/exit\n")
    assert result.exit_code == 0, result.output
    reply = result.output.split("assistant> ", 1)[1].split("\nyou> ", 1)[0]
    reference = open_chat_model(tiny_run, False, None, None, engine="transformers")
    assert reply.strip() == reference.reply([{"role": "user", "content": "What are your hours?"}],
                                            GenerationSettings(max_new_tokens=12))


@pytest.mark.slow
def test_embedded_model_replies_match_transformers(base_model_path):
    quick = QuickChatModel.open(base_model_path, "You are Acme Coffee's assistant.")
    reference = ChatModel.from_base(base_model_path, "You are Acme Coffee's assistant.")
    for history in HISTORIES:
        for settings in SETTINGS[:2]:
            expected = reference.reply(history, settings)
            assert expected and quick.reply(history, settings) == expected


def test_a_broken_adapter_file_is_one_line_naming_it(tmp_path, tiny_run):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AssistantError, match=r"adapter: cannot load for chat \(") as error:
        open_chat_model(run, False, None, None)
    assert "\n" not in str(error.value)
