import pytest

from assistant.base_model import embedded_gguf_path, resolve_base_model
from assistant.errors import AssistantError


def test_embedded_model_is_found_without_importing_its_package():
    path = embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_cached_conversion_is_reused(base_model_path):
    from pathlib import Path

    assert resolve_base_model(None) == base_model_path
    files = {p.name for p in Path(base_model_path).iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= files
    assert "quantization_config" not in (Path(base_model_path) / "config.json").read_text()


def test_local_directory_and_bad_paths(tmp_path, tiny_model_dir):
    assert resolve_base_model(tiny_model_dir) == str(__import__("pathlib").Path(tiny_model_dir).resolve())
    with pytest.raises(AssistantError, match="expected config.json"):
        resolve_base_model(str(tmp_path))
    with pytest.raises(AssistantError, match="GGUF file not found"):
        resolve_base_model(str(tmp_path / "missing.gguf"))


def test_unreachable_hub_id_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssistantError) as info:
        resolve_base_model("HuggingFaceTB/no-such-model-here")
    message = str(info.value)
    assert "cannot load base model 'HuggingFaceTB/no-such-model-here'" in message and "\n" not in message


@pytest.mark.slow
def test_conversion_writes_one_line_and_generates_exactly_what_the_gguf_file_generates(tmp_path, capfd, tokenizer,
                                                                                      gguf_parses):
    """Converting parses the file once (gguf_reading.py), prints one line, and the cache it
    writes generates exactly what the GGUF file loaded on its own (no shared reader) does."""
    import torch
    from transformers import AutoModelForCausalLM

    from assistant.base_model import CONVERTED_MARKER, convert_gguf

    capfd.readouterr()  # only the conversion's own output below
    convert_gguf(embedded_gguf_path(), tmp_path / "converted")
    out, err = capfd.readouterr()
    assert out.strip().startswith("Converting SmolLM2-135M-Instruct.Q4_1.gguf") and len(out.splitlines()) == 1
    assert "%|" not in err, err  # no tqdm bar: stderr is for errors, which must stand alone
    assert (tmp_path / "converted" / CONVERTED_MARKER).is_file()
    assert len(gguf_parses) == 1

    gguf = embedded_gguf_path()
    original = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    cached = AutoModelForCausalLM.from_pretrained(tmp_path / "converted", dtype=torch.bfloat16)
    messages = [{"role": "user", "content": "What is a flat white?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    a = original.generate(**inputs, max_new_tokens=30, do_sample=False)
    b = cached.generate(**inputs, max_new_tokens=30, do_sample=False)
    assert torch.equal(a, b)
