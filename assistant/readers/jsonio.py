"""JSON records with their line numbers, from JSON Lines or whole .json files.

JSON Lines is parsed one line at a time (files can hold millions of records). A .json
file is read whole, then walked element by element with `raw_decode` so every record
still knows the line it starts on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from .text import empty_error, iter_lines, read_text

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")
# json accepts "\ud800" escapes; such lone surrogates cannot be written back as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_json_array_file(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def parse_line(path: Path, lineno: int, line: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise InputError(path, lineno, "invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, or an over-long integer literal
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        message = f"invalid JSON ({detail}); expected one JSON object per line"
        raise InputError(path, lineno, message) from None


def iter_jsonl(path: Path, expected: str, recover=None) -> Iterator[tuple[int, Any]]:
    """(line, value) for each non-blank line; `expected` describes the format for errors.
    With `recover(error, line_text)`, an invalid line yields what it returns instead."""
    seen = False
    for lineno, line in enumerate(iter_lines(path), start=1):
        if line.strip():
            seen = True
            try:
                value = parse_line(path, lineno, line)
            except InputError as exc:
                if recover is None:
                    raise
                value = recover(exc, line.rstrip("\r\n"))
            yield lineno, value
    if not seen:
        raise empty_error(path, expected)


def iter_json_document(path: Path, expected: str) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of a top-level array; a file of one or more
    top-level objects (a lone object, or JSON Lines saved as .json) is accepted too."""
    text = read_text(path)
    if not text.strip():
        raise empty_error(path, expected)
    pos = _SPACE.match(text).end()
    if text[pos] == "[":
        yield from _walk_array(path, text, pos + 1)
    else:
        yield from _walk_values(path, text, pos)


def _decode_at(path: Path, text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except RecursionError:
        raise InputError(path, _line_of(text, pos), "invalid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:
        raise InputError(path, _line_of(text, pos), f"invalid JSON ({exc})") from None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _walk_array(path: Path, text: str, pos: int) -> Iterator[tuple[int, Any]]:
    line, counted = 1, 0  # count newlines incrementally: O(n) over the whole file
    pos = _SPACE.match(text, pos).end()
    if text.startswith("]", pos):
        _expect_end(path, text, pos + 1)
        return
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        value, pos = _decode_at(path, text, pos)
        yield line, value
        pos = _SPACE.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _SPACE.match(text, pos + 1).end()
        elif text.startswith("]", pos):
            _expect_end(path, text, pos + 1)
            return
        else:
            message = "invalid JSON (expected ',' or ']' after an array element)"
            raise InputError(path, _line_of(text, pos), message)


def _walk_values(path: Path, text: str, pos: int) -> Iterator[tuple[int, Any]]:
    line, counted = 1, 0
    while pos < len(text):
        line += text.count("\n", counted, pos)
        counted = pos
        value, pos = _decode_at(path, text, pos)
        yield line, value
        pos = _SPACE.match(text, pos).end()


def _expect_end(path: Path, text: str, pos: int) -> None:
    pos = _SPACE.match(text, pos).end()
    if pos < len(text):
        raise InputError(path, _line_of(text, pos), "invalid JSON (extra data after the closing ']')")


def iter_json_records(path: Path, expected: str, recover=None) -> Iterator[tuple[int, Any]]:
    """Records of a .json document or of any other file read as JSON Lines. Only JSON
    Lines can go on past invalid JSON (`recover`): in a document it breaks what follows."""
    if is_json_array_file(path):
        return iter_json_document(path, expected)
    return iter_jsonl(path, expected, recover)


def check_text(path: Path, line: int, value: str, what: str) -> str:
    """Stripped string, rejecting lone surrogates (they would break UTF-8 output later)."""
    if not value.isascii() and _SURROGATE.search(value):
        raise InputError(path, line, f"{what} contains an invalid \\u escape (unpaired surrogate)")
    return value.strip()
