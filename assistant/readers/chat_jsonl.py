"""chat-jsonl, sharegpt and faq-json records -> Conversation / FaqEntry.

All three share the JSON plumbing in `jsonio`; this module only checks the shape of each
record and says precisely what is wrong with a bad one (the line and the message index).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import ROLES, Conversation, FaqEntry, Message, Rejected, SourceRef
from .columns import ANSWER_KEYS, QUESTION_KEYS, find_column, missing_column
from .jsonio import check_text, iter_json_records
from .options import ReadOptions
from .text import show
from .speakers import SHAREGPT_SPEAKERS, build_speaker_map, resolve, unknown_speaker

_ROLES = frozenset(ROLES)
EXPECTED_CHAT = 'JSON objects like {"messages": [{"role": "user", "content": "..."}, ...]}'
EXPECTED_SHAREGPT = 'JSON objects like {"conversations": [{"from": "human", "value": "..."}, ...]}'
EXPECTED_FAQ = 'JSON objects like {"question": "...", "answer": "..."}'


_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
               type(None): "null", int: "a number", float: "a number"}  # fmt: skip


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _require_object(path: Path, line: int, value: Any, expected: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(path, line, f"expected a JSON object, got {_type_name(value)} (expected {expected})")
    return value


def _record_id(path: Path, line: int, record: dict) -> str:
    """The record's own "id" when it has one, else a stable "<stem>:<line>"."""
    value = record.get("id")
    if value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
        return f"{path.stem}:{line}"
    return check_text(path, line, str(value), "'id'")


def _message_list(path: Path, line: int, record: dict, key: str) -> list:
    if key not in record:
        keys = show(", ".join(map(str, record)), 200) or "none"
        raise InputError(path, line, f"missing '{key}' list (found keys: {keys})")
    messages = record[key]
    if not isinstance(messages, list):
        raise InputError(path, line, f"'{key}' must be a list of messages, got {_type_name(messages)}")
    return messages


def _field(path: Path, line: int, message: Any, index: int, keys: tuple[str, ...]) -> Any:
    """The first of `keys` present in message `index` (1-based in errors)."""
    if not isinstance(message, dict):
        raise InputError(path, line, f"message {index} must be an object, got {_type_name(message)}")
    for key in keys:
        if key in message:
            return message[key]
    raise InputError(path, line, f"message {index} has no '{keys[0]}'")


def _content(path: Path, line: int, value: Any, index: int, key: str) -> str:
    if not isinstance(value, str):
        raise InputError(path, line, f"message {index} '{key}' must be a string, got {_type_name(value)}")
    return check_text(path, line, value, f"message {index} '{key}'")


def chat_conversation(path: Path, line: int, value: Any) -> Conversation:
    record = _require_object(path, line, value, EXPECTED_CHAT)
    messages = []
    for index, msg in enumerate(_message_list(path, line, record, "messages"), start=1):
        if type(msg) is dict and type(role := msg.get("role")) is str and role in _ROLES:
            if type(content := msg.get("content")) is str:  # the common case, checked in one go
                messages.append(Message(role, check_text(path, line, content, f"message {index} 'content'")))
                continue
        role = _field(path, line, msg, index, ("role",))
        content = _field(path, line, msg, index, ("content",))
        if not isinstance(role, str) or role.strip().lower() not in ROLES:
            raise InputError(
                path, line,
                f"message {index} has role '{show(role)}' (expected one of {', '.join(ROLES)}; "
                "tool and function messages are not supported)",
            )
        messages.append(Message(role.strip().lower(), _content(path, line, content, index, "content")))
    metadata = {k: v for k, v in record.items() if k not in ("messages", "id")}
    return Conversation(_record_id(path, line, record), messages, SourceRef(str(path), line), metadata)


def sharegpt_conversation(path: Path, line: int, value: Any, speakers: dict[str, str]) -> Conversation:
    record = _require_object(path, line, value, EXPECTED_SHAREGPT)
    messages = []
    for index, msg in enumerate(_message_list(path, line, record, "conversations"), start=1):
        speaker = _field(path, line, msg, index, ("from", "role"))
        text = _field(path, line, msg, index, ("value", "content"))
        role = resolve(speakers, speaker) if isinstance(speaker, str) else None
        if role is None:
            raise InputError(path, line, f"message {index}: " + unknown_speaker(str(speaker), speakers))
        messages.append(Message(role, _content(path, line, text, index, "value")))
    metadata = {k: v for k, v in record.items() if k not in ("conversations", "id")}
    return Conversation(_record_id(path, line, record), messages, SourceRef(str(path), line), metadata)


def faq_keys(record: dict, options: ReadOptions) -> tuple[str | None, str | None]:
    """The record's question and answer keys (None when absent)."""
    names = [str(k) for k in record]
    q = find_column(names, options.question_column, QUESTION_KEYS)
    a = find_column(names, options.answer_column, ANSWER_KEYS)
    keys = list(record)
    return (keys[q] if q is not None else None, keys[a] if a is not None else None)


def faq_entry(path: Path, line: int, value: Any, options: ReadOptions) -> FaqEntry:
    record = _require_object(path, line, value, EXPECTED_FAQ)
    q_key, a_key = faq_keys(record, options)
    names = [str(k) for k in record]
    if q_key is None:
        raise missing_column(path, line, names, options.question_column, QUESTION_KEYS, noun="key")
    if a_key is None:
        raise missing_column(path, line, names, options.answer_column, ANSWER_KEYS, noun="key")
    texts = []
    for key in (q_key, a_key):
        if not isinstance(record[key], str):
            raise InputError(path, line, f"'{show(key)}' must be a string, got {_type_name(record[key])}")
        texts.append(check_text(path, line, record[key], f"'{show(key)}'"))
    metadata = {k: v for k, v in record.items() if k not in (q_key, a_key, "id")}
    return FaqEntry(_record_id(path, line, record), texts[0], texts[1], SourceRef(str(path), line), metadata)


def _records(path: Path, options: ReadOptions, expected: str, build: Callable[[int, Any], Any]) -> Iterator:
    """Each JSON record built into a Conversation / FaqEntry, or a `Rejected` (see ReadOptions)."""
    for line, value in iter_json_records(path, expected, options.reject):
        if isinstance(value, Rejected):
            yield value
        else:
            yield options.guard(lambda: build(line, value), lambda: json.dumps(value, ensure_ascii=False))


def read_chat_jsonl(path: Path, options: ReadOptions) -> Iterator[Conversation | Rejected]:
    yield from _records(path, options, EXPECTED_CHAT, lambda line, value: chat_conversation(path, line, value))


def read_sharegpt(path: Path, options: ReadOptions) -> Iterator[Conversation | Rejected]:
    speakers = build_speaker_map(options.speaker_map, base={**SHAREGPT_SPEAKERS, **build_speaker_map(None)})
    yield from _records(
        path, options, EXPECTED_SHAREGPT, lambda line, value: sharegpt_conversation(path, line, value, speakers)
    )


def read_faq_json(path: Path, options: ReadOptions) -> Iterator[FaqEntry | Rejected]:
    yield from _records(path, options, EXPECTED_FAQ, lambda line, value: faq_entry(path, line, value, options))
