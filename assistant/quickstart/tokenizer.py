"""The chat side of a model directory without transformers: its tokenizer.json through
the `tokenizers` library, its special tokens and its jinja chat template, rendered and
encoded as transformers' `apply_chat_template` does."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .llama import Unsupported

SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Tokenizer classes transformers loads from tokenizer.json as it is; others (LlamaTokenizer,
# GPT2Tokenizer...) rebuild its normalizer and decoder in Python, which this path does not.
AS_STORED = ("TokenizersBackend", "PreTrainedTokenizerFast")


class ChatTokenizer:
    def __init__(self, model_dir: Path):
        from tokenizers import Tokenizer

        settings = read_json(model_dir / "tokenizer_config.json")
        if settings.get("tokenizer_class", AS_STORED[0]) not in AS_STORED:
            raise Unsupported(f"tokenizer class {settings['tokenizer_class']!r}")
        extra = read_json(model_dir / "special_tokens_map.json") if (model_dir / "special_tokens_map.json").is_file() else {}
        found = {name: settings.get(name) or extra.get(name) for name in SPECIAL_TOKENS}
        self.special = {name: token_text(value) for name, value in found.items() if value}
        if "eos_token" not in self.special:
            raise Unsupported("the tokenizer names no end-of-turn token")
        self.special.setdefault("pad_token", self.special["eos_token"])  # as base_model.load_tokenizer sets it
        self.template = chat_template(model_dir, settings)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        stops = [self.tokenizer.token_to_id(t) for t in (self.special["eos_token"], "<|im_start|>")]
        self.stop_ids = sorted({i for i in stops if i is not None})  # as generation.reply_stop_ids
        if not self.stop_ids:
            raise Unsupported("the end-of-turn token is not in the vocabulary")

    def encode_chat(self, messages: list[dict]) -> list[int]:
        """The token ids of `messages` with the generation prompt after them."""
        text = self.template.render(messages=messages, add_generation_prompt=True, tools=None, documents=None,
                                    **self.special)
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def token_text(value) -> str:
    """A special token as tokenizer_config.json gives it: a string or {"content": ...}."""
    return value["content"] if isinstance(value, dict) else str(value)


def chat_template(model_dir: Path, settings: dict):
    """The model's chat template compiled the way transformers compiles it (sandboxed,
    trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception, strftime_now)."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    file = model_dir / "chat_template.jinja"
    source = file.read_text(encoding="utf-8") if file.is_file() else settings.get("chat_template")
    if not isinstance(source, str) or "{% generation" in source:
        raise Unsupported("no single plain chat template")

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt))
    return env.from_string(source)
