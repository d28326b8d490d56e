"""An Ollama Modelfile beside the GGUF file, so `ollama create NAME -f Modelfile` works as is.

It carries the brand system prompt (SYSTEM), the chat template in Ollama's Go-template syntax
(TEMPLATE), the stop tokens, and the sampling defaults `assistant chat` uses. The template is
written for ChatML (the embedded SmolLM2's format); `render_like_ollama` is the same template
in Python, and the export refuses a tokenizer whose own chat template renders differently,
rather than writing a Modelfile that would prompt the model in the wrong format.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import AssistantError
from ..generation import GenerationSettings
from .merge import MergedRun

CHATML_TEMPLATE = (
    '{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
    '{{ range .Messages }}{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n<|im_start|>assistant\n'
    '{{ else if eq .Role "assistant" }}{{ .Content }}<|im_end|>\n{{ end }}{{ end }}'
)
STOP_TOKENS = ("<|im_end|>", "<|im_start|>")

PROBE_CONVERSATION = [
    {"role": "user", "content": "Hello, is the café open on Sunday?"},
    {"role": "assistant", "content": "Yes, from 9 to 5.\nAnything else?"},
    {"role": "user", "content": "Thanks! 😀"},
]


def render_like_ollama(system: str, messages: list[dict]) -> str:
    """What CHATML_TEMPLATE renders for Ollama, spelled out in Python for the check below."""
    text = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    for message in messages:
        if message["role"] == "user":
            text += f"<|im_start|>user\n{message['content']}<|im_end|>\n<|im_start|>assistant\n"
        elif message["role"] == "assistant":
            text += f"{message['content']}<|im_end|>\n"
    return text


def check_chatml(tokenizer, system_prompt: str) -> None:
    messages = [{"role": "system", "content": system_prompt}, *PROBE_CONVERSATION]
    expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if expected != render_like_ollama(system_prompt, PROBE_CONVERSATION):
        raise AssistantError(
            "Ollama Modelfile: the model's chat template is not ChatML, which is the only template "
            "written for Ollama so far; use the GGUF file with llama.cpp, which reads the template "
            "from its metadata"
        )


def quoted(text: str) -> str:
    """A Modelfile triple-quoted value; the format has no escape for a literal triple quote."""
    if '"""' in text:
        raise AssistantError('Ollama Modelfile: the system prompt contains """, which a Modelfile cannot hold')
    return f'"""{text}"""'


def ollama_model_name(run_name: str) -> str:
    return run_name.lower()  # Ollama model names are lower case


def modelfile_text(merged: MergedRun, gguf_name: str) -> str:
    check_chatml(merged.tokenizer, merged.system_prompt)
    settings = GenerationSettings()
    lines = [
        f"# Ollama Modelfile for the tuned assistant '{merged.name}', written by `assistant export`.",
        f"#   ollama create {ollama_model_name(merged.name)} -f Modelfile && ollama run {ollama_model_name(merged.name)}",
        f"FROM ./{gguf_name}",
        f"TEMPLATE {quoted(CHATML_TEMPLATE)}",
        f"SYSTEM {quoted(merged.system_prompt)}",
        *[f'PARAMETER stop "{token}"' for token in STOP_TOKENS],
        f"PARAMETER temperature {settings.temperature}",
        f"PARAMETER repeat_penalty {settings.repetition_penalty}",
        f"PARAMETER num_ctx {min(int(merged.model.config.max_position_embeddings), 8192)}",
    ]
    return "\n".join(lines) + "\n"


def write_modelfile(merged: MergedRun, gguf_name: str, path: Path) -> None:
    path.write_text(modelfile_text(merged, gguf_name), encoding="utf-8")
