"""Unit tests for assistant.readers: formats, detection, errors, encodings, directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import AssistantError, InputError
from assistant.readers import (
    DEFAULT_SPEAKER_MAP,
    FORMATS,
    ReadOptions,
    detect_format,
    iter_input_files,
    read_file,
    read_inputs,
)
from assistant.records import ROLES, Conversation, FaqEntry, Message

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def read(path: Path, **options) -> list:
    return list(read_file(path, ReadOptions(**options) if options else None))


def error_of(path: Path, line: int | None, **options) -> InputError:
    """Read `path`, expect an InputError at `line`, and check the one-line rendering."""
    with pytest.raises(InputError) as info:
        read(path, **options)
    err = info.value
    assert err.path == str(path)
    assert err.line == line
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(err).startswith(where)
    assert "\n" not in str(err)
    return err


# ---------------------------------------------------------------- chat-jsonl


def test_chat_jsonl_roles_ids_lines_metadata(tmp_path):
    path = write(
        tmp_path,
        "chats.jsonl",
        jsonl(
            {"id": "c1", "messages": [{"role": "system", "content": "Be nice."},
                                      {"role": "user", "content": " Hi "},
                                      {"role": "assistant", "content": "Hello!", "weight": 1}],
             "source": "test"},
        )
        + "\n"
        + jsonl({"messages": [{"role": "user", "content": "", "name": "x"}]}),
    )
    first, second = read(path)
    assert isinstance(first, Conversation)
    assert first.id == "c1"
    assert first.messages == [Message("system", "Be nice."), Message("user", "Hi"),
                              Message("assistant", "Hello!")]
    assert first.source.path == str(path) and first.source.line == 1
    assert first.metadata == {"source": "test"}
    assert second.id == "chats:3" and second.source.line == 3
    assert second.messages == [Message("user", "")]


def test_chat_jsonl_empty_conversation_is_yielded(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl({"messages": []}))
    (conv,) = read(path)
    assert conv.messages == []


@pytest.mark.parametrize(
    "line, words",
    [
        ('{"messages": [{"role": "tool", "content": "x"}]}', ["'tool'", "system, user, assistant"]),
        ('{"messages": [{"role": "user"}]}', ["message 1", "'content'"]),
        ('{"messages": [{"content": "x"}]}', ["message 1", "'role'"]),
        ('{"messages": [{"role": "user", "content": 5}]}', ["must be a string"]),
        ('{"messages": [{"role": "user", "content": null}]}', ["must be a string"]),
        ('{"messages": "hello"}', ["must be a list"]),
        ('{"messages": ["hello"]}', ["must be an object"]),
        ('["not", "an", "object"]', ["expected a JSON object"]),
        ('{"text": "no messages"}', ["missing 'messages'"]),
        ('{"messages": [', ["invalid JSON", "one JSON object per line"]),
        ('{"messages": [{"role": "user", "content": "\\ud800"}]}', ["surrogate"]),
    ],
)
def test_chat_jsonl_bad_lines(tmp_path, line, words):
    good = '{"messages": [{"role": "user", "content": "ok"}]}\n'
    path = write(tmp_path, "bad.jsonl", good + line + "\n")
    err = error_of(path, 2, format="chat-jsonl")
    for word in words:
        assert word in err.message


def test_invalid_json_line_is_reported_even_when_detecting(tmp_path):
    path = write(tmp_path, "bad.jsonl", "\n{oops\n")
    err = error_of(path, 2)
    assert "invalid JSON" in err.message


# ---------------------------------------------------------------- sharegpt


def test_sharegpt_jsonl_and_speaker_map(tmp_path):
    record = {"id": 7, "conversations": [{"from": "system", "value": "S"},
                                         {"from": "human", "value": "Q"},
                                         {"from": "gpt", "value": "A"},
                                         {"from": "Maria", "value": "B"}]}
    path = write(tmp_path, "s.jsonl", jsonl(record))
    err = error_of(path, 1)
    assert "unknown speaker 'Maria'" in err.message and "--speaker-map Maria=user|assistant" in err.message
    (conv,) = read(path, speaker_map={"maria": "assistant"})
    assert conv.id == "7"
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "assistant"]


def test_sharegpt_json_array_lines(tmp_path):
    records = [{"conversations": [{"from": "human", "value": "Q1"}, {"from": "chatgpt", "value": "A1"}]},
               {"conversations": [{"from": "user", "value": "Q2"}, {"from": "bard", "value": "A2"}]}]
    path = write(tmp_path, "s.json", json.dumps(records, indent=2))
    assert detect_format(path) == "sharegpt"
    first, second = read(path)
    assert first.source.line == 2 and second.id == f"s:{second.source.line}"
    assert second.source.line > first.source.line
    assert second.messages == [Message("user", "Q2"), Message("assistant", "A2")]


def test_json_array_syntax_error_line(tmp_path):
    path = write(tmp_path, "s.json", '[\n{"question": "q", "answer": "a"},\n{"question": }\n]')
    err = error_of(path, 3)
    assert "invalid JSON" in err.message


# ---------------------------------------------------------------- faq-json


def test_faq_jsonl_keys_ids_metadata(tmp_path):
    path = write(tmp_path, "faq.jsonl", jsonl({"id": "f1", "question": " Q? ", "answer": "A.", "src": "x"},
                                              {"prompt": "P", "completion": "C"},
                                              {"Instruction": "I", "Output": "O"}))
    assert detect_format(path) == "faq-json"
    first, second, third = read(path)
    assert isinstance(first, FaqEntry)
    assert (first.id, first.question, first.answer, first.metadata) == ("f1", "Q?", "A.", {"src": "x"})
    assert (second.id, second.question, second.answer) == ("faq:2", "P", "C")
    assert (third.question, third.answer, third.source.line) == ("I", "O", 3)


def test_faq_json_custom_columns_and_missing_key(tmp_path):
    path = write(tmp_path, "faq.json", json.dumps([{"ask": "Q", "reply": "A"}]))
    err = error_of(path, 1)  # can't tell: no known keys
    assert "cannot tell the format" in err.message and "ask, reply" in err.message
    (entry,) = read(path, question_column="ask", answer_column="reply")
    assert (entry.question, entry.answer) == ("Q", "A")
    bad = write(tmp_path, "bad.jsonl", jsonl({"question": "Q", "answer": "A"}, {"question": "Q"}))
    err = error_of(bad, 2)
    assert "missing key for answers" in err.message and "--answer-column" in err.message


def test_detection_error_names_line(tmp_path):
    path = write(tmp_path, "x.jsonl", "\n\n" + jsonl({"foo": 1}))
    err = error_of(path, 3)
    assert "cannot tell the format" in err.message and "--format" in err.message


# ---------------------------------------------------------------- csv-log


def test_csv_log_grouping_multiline_and_lines(tmp_path):
    content = (
        "conversation_id,speaker,text,timestamp\n"
        "c1,Customer,Hi,2024-01-01\n"
        'c1,Agent,"Hello,\nhow can I help?",2024-01-01\n'
        "c1,Customer,Thanks,2024-01-01\n"
        "\n"
        "c2,user,Second,2024-01-02\n"
        "c2,Barista,Reply,2024-01-02\n"
    )
    path = write(tmp_path, "log.csv", content)
    assert detect_format(path) == "csv-log"
    first, second = read(path)
    assert first.id == "c1" and first.source.line == 2
    assert first.messages[1] == Message("assistant", "Hello,\nhow can I help?")
    assert [m.role for m in first.messages] == ["user", "assistant", "user"]
    assert second.id == "c2" and second.source.line == 7
    assert first.metadata == {"timestamp": "2024-01-01"}


def test_csv_log_line_numbers_after_multiline_field(tmp_path):
    content = 'chat_id,role,message\nc1,customer,"a\nb\nc"\nc1,robot,x\n'
    path = write(tmp_path, "log.csv", content)
    err = error_of(path, 5)
    assert "unknown speaker 'robot'" in err.message and "--speaker-map robot=user|assistant" in err.message
    (conv,) = read(path, speaker_map={"Robot": "assistant"})
    assert conv.messages[-1] == Message("assistant", "x")


def test_csv_log_unsorted_rows(tmp_path):
    path = write(tmp_path, "log.csv", "conversation,speaker,text\na,user,1\nb,user,2\na,agent,3\n")
    err = error_of(path, 4)
    assert "conversation 'a' continues after other conversations" in err.message
    assert "sort the file" in err.message


def test_csv_log_tsv_semicolon_and_custom_columns(tmp_path):
    tsv = write(tmp_path, "log.tsv", "session_id\tfrom\tbody\ns1\tclient\tq\ns1\tsupport\ta\n")
    assert detect_format(tsv) == "csv-log"
    (conv,) = read(tsv)
    assert conv.messages == [Message("user", "q"), Message("assistant", "a")]
    semi = write(tmp_path, "semi.csv", "thread_id;author;content\nt;guest;hi;\n")
    (conv,) = read(semi)
    assert conv.messages == [Message("user", "hi")]
    custom = write(tmp_path, "custom.csv", "cid,who,what\n1,user,x\n")
    (conv,) = read(custom, format="csv-log", conversation_column="CID", speaker_column="who",
                   text_column="what")
    assert conv.id == "1"


def test_csv_missing_column_and_too_many_fields(tmp_path):
    path = write(tmp_path, "log.csv", "conversation_id,speaker,words\nc,user,x\n")
    err = error_of(path, 1, format="csv-log")
    assert "missing column for message text" in err.message
    assert "found: conversation_id, speaker, words" in err.message and "--text-column" in err.message
    wide = write(tmp_path, "wide.csv", "question,answer\nq,a,oops\n")
    err = error_of(wide, 2)
    assert "3 fields" in err.message


# ---------------------------------------------------------------- faq-csv / faq-tsv


def test_faq_csv_and_tsv(tmp_path):
    csv_path = write(tmp_path, "faq.csv", 'id,Question,Answer,tag\nx1,"Q1?","A, with comma",t\n,Q2,A2,\n')
    assert detect_format(csv_path) == "faq-csv"
    first, second = read(csv_path)
    assert (first.id, first.question, first.answer, first.metadata) == ("x1", "Q1?", "A, with comma", {"tag": "t"})
    assert second.id == "faq:3" and second.source.line == 3
    tsv_path = write(tmp_path, "faq.tsv", "q\ta\nQ\tA\n")
    assert detect_format(tsv_path) == "faq-tsv"
    assert [(e.question, e.answer) for e in read(tsv_path)] == [("Q", "A")]


def test_faq_csv_missing_answer_column_message(tmp_path):
    path = write(tmp_path, "faq.csv", "question,reply,b\nq,r,x\n")
    err = error_of(path, 1, format="faq-csv")
    assert err.message == (
        "missing column for answers (found: question, reply, b; expected one of "
        "answer, a, response, completion, output; set --answer-column)"
    )


def test_csv_undetectable_header(tmp_path):
    path = write(tmp_path, "x.csv", "alpha,beta\n1,2\n")
    err = error_of(path, 1)
    assert "cannot tell the format" in err.message and "alpha, beta" in err.message


# ---------------------------------------------------------------- transcript


def test_transcript_blank_line_separation_and_continuation(tmp_path):
    text = ("Customer: Hi, I need help.\nNote: my order is late\nAgent: Sorry!\n  Order ID: 42\n"
            "\n\n"
            "User: Second chat\nAssistant: Reply\n")
    path = write(tmp_path, "t.txt", text)
    assert detect_format(path) == "transcript"
    first, second = read(path)
    assert first.id == "t:1" and first.source.line == 1
    assert first.messages == [Message("user", "Hi, I need help.\nNote: my order is late"),
                              Message("assistant", "Sorry!\n  Order ID: 42")]
    assert second.id == "t:7" and second.messages[1] == Message("assistant", "Reply")


def test_transcript_dash_delimiter_keeps_blank_lines(tmp_path):
    text = "Customer: Hi\n\nstill me\nBarista: Yes?\n---\n\nGuest: Two\n\nStaff: Sure\n---\n"
    path = write(tmp_path, "t.txt", text)
    first, second = read(path)
    assert first.messages == [Message("user", "Hi\n\nstill me"), Message("assistant", "Yes?")]
    assert second.source.line == 7
    assert second.messages == [Message("user", "Two"), Message("assistant", "Sure")]


def test_transcript_custom_delimiter_and_speaker_map(tmp_path):
    path = write(tmp_path, "t.txt", "Maria: Hola\nBot: Hi\n===\nMaria: Again\n")
    err = error_of(path, 1)
    assert "unknown speaker 'Maria'" in err.message and "--speaker-map Maria=user|assistant" in err.message
    convs = read(path, delimiter="===", speaker_map={"maria": "user"})
    assert [c.source.line for c in convs] == [1, 4]
    assert convs[0].messages == [Message("user", "Hola"), Message("assistant", "Hi")]


def test_transcript_first_line_without_speaker(tmp_path):
    path = write(tmp_path, "t.txt", "User: hi\n\njust some text\n")
    err = error_of(path, 3)
    assert "expected 'Speaker: text'" in err.message


def test_default_speaker_map():
    assert DEFAULT_SPEAKER_MAP["customer"] == "user"
    assert DEFAULT_SPEAKER_MAP["barista"] == "assistant"
    assert DEFAULT_SPEAKER_MAP["system"] == "system"
    assert set(DEFAULT_SPEAKER_MAP.values()) <= set(ROLES)


# ---------------------------------------------------------------- markdown


MARKDOWN = """\
# Acme FAQ

## Shipping

### How long does delivery take?

Usually 3-5 days.


Express is faster.

**Do you ship abroad?**
Yes, to the EU.

```sh
# not a question
curl example
```

## Returns

__Can I return sale items?__

No.

---
"""


def test_markdown_headings_bold_and_sections(tmp_path):
    path = write(tmp_path, "faq.md", MARKDOWN)
    assert detect_format(path) == "faq-md"
    entries = read(path)
    assert [e.question for e in entries] == ["How long does delivery take?", "Do you ship abroad?",
                                            "Can I return sale items?"]
    assert entries[0].answer == "Usually 3-5 days.\n\nExpress is faster."
    assert entries[0].id == "faq:5" and entries[0].source.line == 5
    assert entries[1].answer.startswith("Yes, to the EU.\n\n```sh\n# not a question")
    assert entries[2].answer == "No."
    assert entries[0].metadata == {"section": "Acme FAQ / Shipping"}
    assert entries[2].metadata == {"section": "Acme FAQ / Returns"}


def test_markdown_title_with_intro_text_is_not_an_entry(tmp_path):
    path = write(tmp_path, "faq.md", "# Acme FAQ\nWelcome!\n\n## Q1?\nA1\n")
    assert [(e.question, e.answer) for e in read(path)] == [("Q1?", "A1")]


def test_markdown_question_without_answer(tmp_path):
    path = write(tmp_path, "faq.md", "## Q1?\nA1\n\n## Q2?\n\n## Q3?\nA3\n")
    err = error_of(path, 4)
    assert "question without an answer" in err.message
    last = write(tmp_path, "last.md", "**Q1?**\nA1\n**Q2?**\n\n")
    assert "question without an answer" in error_of(last, 3).message


def test_markdown_without_questions(tmp_path):
    path = write(tmp_path, "faq.md", "just prose\n")
    assert "no questions found" in error_of(path, None).message


# ---------------------------------------------------------------- empty files


@pytest.mark.parametrize("name", ["e.jsonl", "e.json", "e.csv", "e.tsv", "e.txt", "e.md"])
@pytest.mark.parametrize("content", ["", "  \n\n \t\n"])
def test_empty_files(tmp_path, name, content):
    path = write(tmp_path, name, content)
    assert "file is empty (expected" in error_of(path, None).message


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_with_forced_format(tmp_path, fmt):
    path = write(tmp_path, "e.dat", "")
    assert "file is empty (expected" in error_of(path, None, format=fmt).message


# ---------------------------------------------------------------- encodings


def test_utf8_bom(tmp_path):
    path = write(tmp_path, "faq.csv", "\ufeffquestion,answer\nCafé?,Oui\n".encode("utf-8"))
    (entry,) = read(path)
    assert (entry.question, entry.answer) == ("Café?", "Oui")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, encoding):
    text = "Customer: Grüß dich\r\nAgent: Hallo ☕\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":  # the explicit-endian codecs write no BOM
        data = "\ufeff".encode(encoding) + data
    path = write(tmp_path, "t.txt", data)
    (conv,) = read(path)
    assert conv.messages == [Message("user", "Grüß dich"), Message("assistant", "Hallo ☕")]


def test_utf16_csv(tmp_path):
    path = write(tmp_path, "faq.tsv", "question\tanswer\nQ\t\"multi\nline\"\n".encode("utf-16"))
    (entry,) = read(path)
    assert entry.answer == "multi\nline"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_legacy_8bit_files_are_read(tmp_path, encoding):
    text = "Customer: Le café coûte 3 €? Ça va…\nAgent: Oui, très “bon”.\n"
    if encoding == "latin-1":
        text = text.replace("€", "EUR").replace("…", "...").replace("“", '"').replace("”", '"')
    path = write(tmp_path, "t.txt", "Customer: hi\nAgent: ok\n\n".encode() + text.encode(encoding))
    first, second = read(path)
    assert second.messages[0].content == text.splitlines()[0].removeprefix("Customer: ")
    assert second.messages[1].content == text.splitlines()[1].removeprefix("Agent: ")
    csv_path = write(tmp_path, "faq.csv", "question,answer\nq,a\nq2,café\n".encode(encoding))
    assert read(csv_path)[1].answer == "café"


def test_utf16_without_bom(tmp_path):
    for encoding in ("utf-16-le", "utf-16-be"):
        path = write(tmp_path, f"{encoding}.txt", "Customer: Grüß dich\nAgent: Hallo ☕\n".encode(encoding))
        (conv,) = read(path)
        assert conv.messages == [Message("user", "Grüß dich"), Message("assistant", "Hallo ☕")]


def test_mixed_encodings_give_an_error_with_line(tmp_path):
    data = "Customer: naïve\nAgent: ok\n".encode() + "Customer: café\n".encode("latin-1")
    err = error_of(write(tmp_path, "t.txt", data), 3)
    assert err.message.startswith("not valid UTF-8 text (byte 0xE9), though earlier lines are UTF-8")
    bom = write(tmp_path, "faq.csv", b"\xef\xbb\xbfquestion,answer\nq,a\nq2,caf\xe9\n")
    assert "0xE9" in error_of(bom, 3).message  # a UTF-8 BOM promises UTF-8


def test_binary_file(tmp_path):
    path = write(tmp_path, "x.jsonl", b'{"messages": []}\n\x00\x01\x02\n')
    assert "binary" in error_of(path, 2).message


# ---------------------------------------------------------------- options, detection


def test_unknown_extension_and_bad_options(tmp_path):
    path = write(tmp_path, "x.xml", "<a/>")
    err = error_of(path, None)
    assert "cannot tell the format" in err.message and "--format" in err.message
    with pytest.raises(AssistantError, match="unknown format"):
        ReadOptions(format="yaml")
    with pytest.raises(AssistantError, match="speaker map"):
        ReadOptions(speaker_map={"bob": "robot"})


def test_forced_format_overrides_extension(tmp_path):
    path = write(tmp_path, "notes.md", "Customer: hi\nAgent: hello\n")
    (conv,) = read(path, format="transcript")
    assert len(conv.messages) == 2


# ---------------------------------------------------------------- directories


def test_directory_expansion(tmp_path):
    write(tmp_path, "data/b/z.jsonl", jsonl({"messages": []}))
    write(tmp_path, "data/a.txt", "User: hi\n")
    write(tmp_path, "data/.hidden.jsonl", "junk")
    write(tmp_path, "data/.git/x.jsonl", "junk")
    write(tmp_path, "data/image.png", "junk")
    write(tmp_path, "data/LICENSE.txt", "MIT licence text")
    extra = write(tmp_path, "other.jsonl", jsonl({"messages": []}))
    files = iter_input_files([tmp_path / "data", str(extra)])
    assert files == [tmp_path / "data/a.txt", tmp_path / "data/b/z.jsonl", extra]
    assert len(list(read_inputs([tmp_path / "data"]))) == 2


def test_directory_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path, "empty/readme.pdf", "x")
    with pytest.raises(AssistantError) as info:
        iter_input_files([tmp_path / "empty"])
    assert str(info.value) == (f"{tmp_path / 'empty'}: no usable input files "
                               "(expected .jsonl, .json, .csv, .tsv, .txt or .md files)")
    with pytest.raises(AssistantError) as info:
        iter_input_files([tmp_path / "missing.jsonl"])
    assert str(info.value) == f"{tmp_path / 'missing.jsonl'}: no such file or directory"


# ---------------------------------------------------------------- real public data


def _data_file(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"public data not available: {path}")
    return path


def _line_count(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


@pytest.mark.parametrize("folder", ["taskmaster4_coffee", "abcd_sample"])
def test_real_chat_logs(folder):
    path = _data_file(folder, "conversations.jsonl")
    assert detect_format(path) == "chat-jsonl"
    convs = read(path, format="chat-jsonl")
    assert len(convs) == _line_count(path)
    assert all(m.role in ROLES for c in convs for m in c.messages)
    assert len({c.id for c in convs}) == len(convs)


@pytest.mark.parametrize("folder", ["covid_faq_deepset", "medquad", "cuad_clauses",
                                    "magento_luma_product_copy"])
def test_real_faqs(folder):
    path = _data_file(folder, "faq.jsonl")
    assert detect_format(path) == "faq-json"
    entries = read(path)
    assert len(entries) == _line_count(path)
    assert all(isinstance(e, FaqEntry) and e.question for e in entries)


# ---------------------------------------------------------------- robustness


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt", ".md"]),
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(['{"messages": [', '{"question": "q", "answer": 1}', "Agent: hi",
                                  "User:", "---", "", "## Q?", "**A**", "a,b,c", '"', "conversation,speaker,text",
                                  "question,answer", "[", "]", "{}", "\t", "\ufeff", "\r"]), max_size=12)
        .map(lambda parts: "\n".join(parts).encode("utf-8")),
    ),
)
def test_arbitrary_input_only_raises_assistant_error(tmp_path, suffix, data):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        records = list(read_file(path))
    except AssistantError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r, (Conversation, FaqEntry)) for r in records)


# ---------------------------------------------------------------- going on past bad records


def test_bad_records_are_rejected_when_asked(tmp_path):
    from assistant.records import Rejected

    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad_role = {"messages": [{"role": "robot", "content": "x"}]}
    path = write(tmp_path, "c.jsonl", jsonl(good) + "{not json\n" + jsonl(bad_role) + jsonl(good))
    items = read(path, on_bad_record="reject")
    assert [type(i).__name__ for i in items] == ["Conversation", "Rejected", "Rejected", "Conversation"]
    assert (items[1].source.line, items[1].text) == (2, "{not json")
    assert items[1].reason.startswith("invalid JSON")
    assert "role 'robot'" in items[2].reason and '"robot"' in items[2].text
    with pytest.raises(InputError, match=r"c.jsonl:2: invalid JSON"):
        read(path)

    log = write(tmp_path, "log.csv", "conversation_id,speaker,text\n1,customer,hi\n1,agent,hello\n"
                "2,customer,yo\n2,martian,beep\n2,agent,hey\n3,customer,a\n3,agent,b\n")
    convs = read(log, on_bad_record="reject")
    assert [type(c).__name__ for c in convs] == ["Conversation", "Rejected", "Conversation"]
    assert isinstance(convs[1], Rejected) and convs[1].source.line == 5 and "martian" in convs[1].reason
    assert convs[1].text.splitlines() == ["2,customer,yo", "2,martian,beep", "2,agent,hey"]

    transcript = write(tmp_path, "t.txt", "Customer: hi\nAgent: hello\n\nMartian: beep\nmore\nAgent: x\n\n"
                       "Customer: a\nAgent: b\n")
    items = read(transcript, on_bad_record="reject")
    assert [type(i).__name__ for i in items] == ["Conversation", "Rejected", "Conversation"]
    assert items[1].text == "Martian: beep\nmore\nAgent: x" and items[1].source.line == 4

    faq = write(tmp_path, "faq.csv", "question,answer\nq1,a1\nq2,a2,extra\nq3,a3\n")
    items = read(faq, on_bad_record="reject")
    assert [type(i).__name__ for i in items] == ["FaqEntry", "Rejected", "FaqEntry"]
