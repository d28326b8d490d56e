"""The exported GGUF file in llama.cpp itself (through llama-cpp-python).

llama-cpp-python compiles llama.cpp on install (about 15 minutes on 2 cores), so it is not
a project dependency and these tests skip without it; install it with
`pip install llama-cpp-python` to run them. The release check in docs/deploy.md records a run.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from assistant.cli import cli
from conftest import train_tiny_run

llama_cpp = pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    from assistant.base_model import CONVERTED_MARKER, embedded_gguf_path

    root = tmp_path_factory.mktemp("llama-cpp")
    base = shutil.copytree(tiny_model_dir, root / "tiny-base")
    (base / CONVERTED_MARKER).write_text(json.dumps({"source": str(embedded_gguf_path())}))
    run = train_tiny_run(root, str(base))
    result = CliRunner().invoke(cli, ["export", "--run", str(run), "--out", str(root / "gguf"), "--format", "gguf",
                                      "--gguf-type", "f32", "--no-verify"])
    assert result.exit_code == 0, result.output
    return run, root / "gguf" / "tiny-f32.gguf"


def test_llama_cpp_tokenizes_the_chat_like_transformers(exported, tokenizer):
    _, path = exported
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Café hours on Sunday? 😀"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_llama_cpp_logits_match_the_merged_model(exported, tokenizer):
    from peft import PeftModel

    from assistant.base_model import load_model
    from assistant.rundir import RunDir

    run, path = exported
    base_path = RunDir.open(run).summary()["base_model_path"]
    model = PeftModel.from_pretrained(load_model(base_path, dtype=torch.float32), run / "adapter").eval()
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Do you ship to Canada?"}], add_generation_prompt=True,
                                        tokenize=True, return_dict=True)["input_ids"]
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, logits_all=True, verbose=False)
    llm.eval(ids)
    got = np.array(llm.scores[: len(ids)])
    assert np.abs(got - expected).max() < 1e-3 * max(1.0, np.abs(expected).max()) + 1e-4
