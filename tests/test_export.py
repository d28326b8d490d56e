"""`assistant export`: merged Hugging Face model, GGUF file and Ollama Modelfile (tiny model).

The tiny run's adapter is overwritten with random LoRA weights first (strengthen_adapter),
so an export that silently dropped the adapter would fail the comparisons.
"""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import AssistantError
from assistant.gguf_reading import parsed_once
from conftest import strengthen_adapter, train_tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir):
    """A tiny run whose base, like the embedded model's cache, records the GGUF it came from
    (the tiny model shares SmolLM2's tokenizer)."""
    import shutil

    from assistant.base_model import CONVERTED_MARKER, embedded_gguf_path

    root = tmp_path_factory.mktemp("export")
    base = shutil.copytree(tiny_model_dir, root / "tiny-base")
    (base / CONVERTED_MARKER).write_text(json.dumps({"source": str(embedded_gguf_path())}))
    run = train_tiny_run(root, str(base))
    strengthen_adapter(run)
    return run


def base_plus_adapter(run):
    from peft import PeftModel

    from assistant.base_model import load_model, load_tokenizer
    from assistant.rundir import RunDir

    base_path = RunDir.open(run).summary()["base_model_path"]
    model = PeftModel.from_pretrained(load_model(base_path, dtype=torch.float32), run / "adapter").eval()
    return model, load_tokenizer(base_path)


def probe_ids(tokenizer):
    messages = [{"role": "system", "content": "You are Acme."}, {"role": "user", "content": "Do you ship to Canada?"},
                {"role": "assistant", "content": "Yes, within 5 days."}, {"role": "user", "content": "Great 😀"}]
    return torch.tensor([tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                        return_dict=True)["input_ids"]])


@pytest.fixture(scope="module")
def reference(run):
    model, tokenizer = base_plus_adapter(run)
    ids = probe_ids(tokenizer)
    with torch.inference_mode():
        tuned = model(input_ids=ids).logits[0]
        with model.disable_adapter():
            base = model(input_ids=ids).logits[0]
        greedy = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                max_new_tokens=12, min_new_tokens=12)[0]
    assert (tuned - base).abs().max() > 0.2 * tuned.abs().max(), "the adapter must matter for these tests to mean anything"
    return {"ids": ids, "logits": tuned, "greedy": greedy, "tokenizer": tokenizer}


def export(run, out, *args):
    result = CliRunner().invoke(cli, ["export", "--run", str(run), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return result.output


def logits_and_greedy(model, ids):
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0]
        greedy = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                max_new_tokens=12, min_new_tokens=12)[0]
    return logits, greedy


def test_hf_export_is_a_plain_model_equal_to_base_plus_adapter(run, reference, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output = export(run, tmp_path / "hf", "--format", "hf")
    assert "Verified against base+adapter" in output
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32)
    assert not hasattr(model, "peft_config")
    logits, greedy = logits_and_greedy(model, reference["ids"])
    assert torch.allclose(logits, reference["logits"], atol=1e-4)
    assert torch.equal(greedy, reference["greedy"])
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer.chat_template == reference["tokenizer"].chat_template
    provenance = json.loads((tmp_path / "hf" / "assistant-export.json").read_text())
    assert provenance["format"] == "hf" and provenance["verification"]["top1_agreement"] == 1.0
    assert "Acme Coffee" in provenance["system_prompt"]


def test_hf_export_is_float32_by_default_and_bfloat16_on_request(run, tmp_path):
    export(run, tmp_path / "hf", "--format", "hf", "--no-verify")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["dtype"] == "float32"
    output = export(run, tmp_path / "hf16", "--format", "hf", "--dtype", "bfloat16")
    assert json.loads((tmp_path / "hf16" / "config.json").read_text())["dtype"] == "bfloat16"
    assert "Verified against base+adapter" in output


def test_gguf_f32_export_reloads_bit_for_bit_through_transformers(run, reference, tmp_path, gguf_parses):
    from transformers import AutoModelForCausalLM

    output = export(run, tmp_path / "gguf", "--format", "gguf", "--gguf-type", "f32")
    assert "top-1 token agreement 100.0%" in output
    # verification read the tokenizer's and the model's config and the weights from one parse
    assert [p for p in gguf_parses if p.endswith("tiny-f32.gguf")] == [gguf_parses[-1]]
    path = tmp_path / "gguf" / "tiny-f32.gguf"
    with parsed_once():  # config and weights from one parse of the file
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    logits, greedy = logits_and_greedy(model, reference["ids"])
    assert torch.allclose(logits, reference["logits"], atol=1e-4)
    assert torch.equal(greedy, reference["greedy"])


@pytest.mark.parametrize("gguf_type, tolerance", [("f16", 0.05), ("bf16", 0.2), ("q8_0", 0.2)])
def test_gguf_storage_types_round_the_weights_only_slightly(run, reference, tmp_path, gguf_type, tolerance):
    from transformers import AutoModelForCausalLM

    export(run, tmp_path / "gguf", "--format", "gguf", "--gguf-type", gguf_type, "--no-verify")
    path = tmp_path / "gguf" / f"tiny-{gguf_type}.gguf"
    with parsed_once():  # config and weights from one parse of the file
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    logits, _ = logits_and_greedy(model, reference["ids"])
    spread = float(reference["logits"].abs().max())
    error = float((logits - reference["logits"]).abs().max())
    print(f"\n{gguf_type}: max |logit error| {error:.4f} (logits up to {spread:.2f})")
    assert error < tolerance * spread


def test_gguf_tokenizer_metadata_matches_llama_cpps_own_converter(run, tmp_path):
    """The embedded SmolLM2 file was written by llama.cpp's convert_hf_to_gguf.py; the tiny
    model shares its tokenizer, so every tokenizer field must come out identical."""
    import gguf

    from assistant.base_model import embedded_gguf_path

    export(run, tmp_path / "gguf", "--format", "gguf", "--gguf-type", "f16", "--no-verify")
    ours = gguf.GGUFReader(str(tmp_path / "gguf" / "tiny-f16.gguf")).fields
    original = gguf.GGUFReader(str(embedded_gguf_path())).fields
    keys = [k for k in original if k.startswith("tokenizer.")]
    assert len(keys) >= 12
    for key in keys:
        assert ours[key].contents() == original[key].contents(), key


def test_ollama_modelfile_carries_brand_prompt_template_and_stops(run, tmp_path):
    output = export(run, tmp_path / "gguf", "--format", "gguf", "--no-verify")
    text = (tmp_path / "gguf" / "Modelfile").read_text()
    assert "FROM ./tiny-f16.gguf\n" in text
    assert 'PARAMETER stop "<|im_end|>"' in text and 'PARAMETER stop "<|im_start|>"' in text
    system = text.split('SYSTEM """', 1)[1].split('"""', 1)[0]
    from assistant.rundir import RunDir

    assert system == RunDir.open(run).profile().system_prompt
    assert '{{ .System }}<|im_end|>' in text and '{{ range .Messages }}' in text
    assert "ollama create tiny -f Modelfile" in text and "ollama create tiny -f Modelfile" in output


def test_a_run_folder_name_becomes_one_safe_model_name_everywhere():
    from assistant.export.merge import safe_name
    from assistant.export.modelfile import ollama_model_name

    assert ollama_model_name(safe_name("Acme Run #2")) == "acme-run-2"


@pytest.mark.parametrize("conversation", [
    [{"role": "user", "content": "hi"}],
    [{"role": "user", "content": "a\nb"}, {"role": "assistant", "content": "c  "}, {"role": "user", "content": "é 😀"}],
])
def test_ollama_template_renders_like_the_tokenizers_chat_template(tokenizer, conversation):
    from assistant.export.modelfile import render_like_ollama

    messages = [{"role": "system", "content": "Be brief."}, *conversation]
    expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert render_like_ollama("Be brief.", conversation) == expected


def test_modelfile_refuses_a_non_chatml_template(tokenizer):
    from copy import deepcopy

    from assistant.export.modelfile import check_chatml

    other = deepcopy(tokenizer)
    other.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    with pytest.raises(AssistantError, match="not ChatML"):
        check_chatml(other, "Be brief.")


def test_rotary_permutation_is_undone_by_the_transformers_gguf_loader():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    from assistant.export.gguf_file import permute_rotary

    weights = np.random.default_rng(0).standard_normal((3 * 64, 40)).astype(np.float32)
    processor = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    for heads, kv_heads, name in [(3, 3, "blk.0.attn_q.weight"), (9, 3, "blk.0.attn_k.weight")]:
        processor.config = {"num_attention_heads": heads, "num_key_value_heads": kv_heads}
        permuted = permute_rotary(weights, heads, kv_heads)
        assert not np.array_equal(permuted, weights)
        assert np.array_equal(processor.process(permuted, name).weights, weights)


def test_export_of_an_unfinished_run_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "run").mkdir()
    result = CliRunner().invoke(cli, ["export", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "not a finished run" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_failed_verification_leaves_no_output(run, tmp_path, monkeypatch):
    from assistant.export import verify

    monkeypatch.setattr(verify, "MIN_TOP1_AGREEMENT", 1.01)  # nothing can pass
    result = CliRunner().invoke(cli, ["export", "--run", str(run), "--out", str(tmp_path / "out"), "--format", "gguf"])
    assert result.exit_code == 2
    assert "does not reproduce base+adapter" in result.output and "nothing was written" in result.output
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_gguf_export_refuses_a_non_llama_base():
    from transformers import GPT2Config

    from assistant.export.gguf_file import check_supported

    with pytest.raises(AssistantError, match="Llama-family"):
        check_supported(GPT2Config())


def test_a_reply_that_parts_at_a_near_tie_is_rounding_and_one_beyond_it_is_not():
    from assistant.export.verify import divergence_is_rounding

    reference, candidate = [1, 2, 3, 4], [1, 2, 3, 5]  # part at index 3, decided by row 2
    ref_logits = torch.zeros(4, 8)
    ref_logits[2, 4], ref_logits[2, 5] = 1.00, 0.96  # base+adapter preferred 4 by 0.04
    moved_0_03 = torch.full((4, 8), 0.03)
    moved_0_01 = torch.full((4, 8), 0.01)
    assert divergence_is_rounding(reference, candidate, ref_logits, moved_0_03)  # 0.04 <= 2 * 0.03
    assert not divergence_is_rounding(reference, candidate, ref_logits, moved_0_01)  # 0.04 > 2 * 0.01
    assert divergence_is_rounding([1, 2, 3], [1, 2, 3, 4], ref_logits, moved_0_01)  # no token differs


def test_probe_replies_end_at_their_stop_token_or_run_whole(tokenizer):
    """The probes are one left-padded batch: each reply is cut after its first stop token
    (what follows is padding, here the end-of-turn token again), one that never stops is
    kept whole, and each prompt comes back without its padding."""
    from assistant.export.verify import greedy_batch
    from assistant.generation import reply_stop_ids

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    class StubModel:
        def generate(self, input_ids, attention_mask, **settings):
            self.seen = input_ids.tolist(), attention_mask.tolist(), settings
            return torch.cat([input_ids, torch.tensor([[30, 31, eos, pad], [40, 41, 42, 43]])], dim=1)

    model = StubModel()
    assert greedy_batch(model, tokenizer, [[10, 11, 12], [20]]) == [[10, 11, 12, 30, 31, eos], [20, 40, 41, 42, 43]]
    ids, mask, settings = model.seen
    assert ids[1][-1] == 20 and mask == [[1, 1, 1], [0, 0, 1]]
    assert settings["eos_token_id"] == reply_stop_ids(tokenizer) and settings["do_sample"] is False
    assert greedy_batch(model, tokenizer, []) == []
