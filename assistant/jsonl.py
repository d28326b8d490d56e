"""JSON lines out of the data path, written with orjson where it can.

`prepare` writes a JSON line per example and per reject; on a million messages the
standard library's encoder alone took a tenth of the run, and orjson (already installed
with Gradio) does the same work ten times faster. orjson refuses lone surrogates
("\\ud800", which a JSON escape in the input can produce) and keys that are not strings:
those lines go through `json` instead. It writes NaN and infinities, which JSON has no
words for, as null; prepare writes only text and integers.

Reading stays with the standard library: orjson would turn an integer over 64 bits into
a float, where `json` keeps it exact.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps_line(value: Any) -> bytes:
    """One compact JSON line in UTF-8, non-ASCII characters as themselves, with its
    newline. Bytes, for a file opened in binary: decoding orjson's output only for the file
    to encode it again cost 2% of a `prepare` run."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a key that is not a string
        # A lone surrogate cannot be UTF-8: it is written as its JSON escape again.
        return (json.dumps(value, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
