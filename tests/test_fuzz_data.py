"""Property-based fuzz tests for the data path: readers, redaction and cleaning.

- Readers: arbitrary bytes, arbitrary text in every supported encoding and structured junk
  that is close to valid (JSON records of the wrong shape, CSV with stray quotes, transcripts
  with unknown speakers, Markdown with odd headings) only ever raise a one-line `InputError`
  naming the file, in both `on_bad_record` modes; "reject" mode yields only records and
  `Rejected` items with a real line and a one-line reason; a file read cleanly reads the
  same in both modes, and the same text reads the same in every supported encoding.
- Redaction: a planted secret (e-mail, card, IBAN, SSN, IP, phone, URL with a token, @handle)
  never survives, and gets a placeholder of its type; within one conversation the same
  secret gets the same placeholder.
- Cleaning: `clean_text` never fails, is idempotent and trims its result; the words compared
  for duplicates are exactly the regex's words of the case-folded text.

Bugs these properties found, now fixed, are kept as plain tests with their minimal inputs
(lone surrogates in ids and rejected records, CR CR LF line ends, punycode e-mail domains,
form feeds and zero-width marks around mojibake).
"""

from __future__ import annotations

import json
import re
import string
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from assistant.cleaning import HTML_ENTITY, HTML_TAG, clean_text
from assistant.dedup import words_of
from assistant.errors import AssistantError, InputError
from assistant.plugins import registry
from assistant.readers import FORMATS, ReadOptions, read_file
from assistant.records import ROLES, Conversation, FaqEntry, Rejected
from assistant.redaction import Redactor
from assistant.redaction.patterns import (
    NOT_PHONE_CONTEXT,
    PHONE_CONTEXT,
    context_before,
    iban_valid,
    luhn_valid,
)

SUFFIXES = [".jsonl", ".json", ".csv", ".tsv", ".txt", ".md"]
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def all_patterns():
    return list(registry().pii_patterns.values())


# ================================================================ readers

# -- strategies -----------------------------------------------------------------------

# Text that stresses decoding and line handling: every code point but surrogates, with
# line breaks, BOMs, NULs and the Windows-1252 range over-represented.
ODD_CHARACTERS = "\n\r\t\x00\x0b\x0c\x1c\x85\u2028\u2029\ufeff\u200b\"',;|#*_`~-:{}[]"
any_text = st.text(
    st.one_of(st.characters(), st.sampled_from(ODD_CHARACTERS), st.characters(min_codepoint=0x80, max_codepoint=0xFF)),
    max_size=200,
)

ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]


@st.composite
def encoded(draw, text_strategy=any_text):
    """Text written in one of the encodings the readers accept (cp1252 only when it fits)."""
    text = draw(text_strategy)
    encoding = draw(st.sampled_from(ENCODINGS))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:  # cp1252 cannot hold it; lone surrogates from JSON junk
        return text.encode("utf-8", "surrogatepass")


# JSON values of every kind, strings with lone surrogates included (json writes them as
# "\ud800" escapes, which the JSON readers must refuse).
json_strings = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["user", "assistant", "system", " User ", "robot", "human", "gpt", "", "  ", "\ud800", "a\udfffb"]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), json_strings,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
@example({"content": "a lone surrogate \ud800 from a JSON escape"})  # orjson refuses it; json writes it
def test_fast_json_lines_read_back_as_written(value):
    from assistant.jsonl import dumps_line

    line = dumps_line(value)
    assert line.endswith("\n") and "\n" not in line[:-1]
    assert json.loads(line) == value
