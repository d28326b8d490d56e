"""The command line: bad input gives one line naming file and line, exit status 2, no traceback."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from conftest import REPO, write


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "name, content, fragments",
    [
        ("broken.jsonl", '{"messages": []}\n{"messages": [\n', ["broken.jsonl:2", "invalid JSON"]),
        ("roles.jsonl", json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n", ["roles.jsonl:1", "robot"]),
        ("cols.csv", "question,reply_text\nq,a\n", ["cols.csv:1", "found columns: question, reply_text"]),
        ("empty.jsonl", "", ["empty.jsonl", "empty"]),
        ("mixed.txt", None, ["mixed.txt:2", "UTF-8", "mixes encodings"]),
    ],
)
def test_bad_input_files(tmp_path, name, content, fragments):
    path = tmp_path / name
    if content is None:
        path.write_bytes("Customer: naïve\n".encode() + "Agent: caf\xe9 au lait\n".encode("latin-1"))
    else:
        write(path, content)
    result = invoke("prepare", path, "--profile", "acme_coffee", "--out", tmp_path / "out", "--strict")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_bad_records_go_to_the_rejects_file_without_strict(tmp_path):
    good = {"messages": [{"role": "user", "content": "hi, I'm jo@example.com"}, {"role": "assistant", "content": "Hello!"}]}
    write(tmp_path / "in.jsonl", json.dumps(good) + '\n{"messages": [ jo@example.com\n'
          + json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    result = invoke("prepare", tmp_path / "in.jsonl", "--profile", "acme_coffee", "--out", tmp_path / "out", "--no-card")
    assert result.exit_code == 0, result.output
    assert "2 records could not be read" in result.output
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["source"].rsplit(":", 1)[1], r["kind"]) for r in rejects] == [("2", "record"), ("3", "record")]
    assert rejects[0]["reason"].startswith("invalid JSON") and "robot" in rejects[1]["reason"]
    assert rejects[0]["content"] == '{"messages": [ [EMAIL]'  # rejected text is redacted too


def test_directory_without_usable_files(tmp_path):
    write(tmp_path / "notes.pdf", "x")
    result = invoke("prepare", tmp_path, "--profile", "acme_coffee", "--out", tmp_path / "out")
    assert_one_line_error(result, "no usable input files")


def test_bad_flags_and_missing_runs(tmp_path):
    assert_one_line_error(invoke("prepare", tmp_path, "--profile", "acme_coffee", "--out", tmp_path / "o",
                                 "--speaker-map", "Bob"), "NAME=user")
    assert_one_line_error(invoke("chat", "--run", tmp_path / "nope"), "run directory not found")
    assert_one_line_error(invoke("compare", "--run", tmp_path, "--questions", tmp_path / "q.jsonl"), "q.jsonl")
    assert_one_line_error(invoke("train", "--data", tmp_path, "--out", tmp_path / "r", "--batch-size", "0"), "batch_size")


def test_prepare_prints_report(tmp_path):
    result = invoke("prepare", REPO / "demo" / "data" / "faq.csv", "--profile", "acme_coffee", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert "Read 0 conversations and 61 FAQ entries" in result.output


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "prepare" in result.stdout and "train" in result.stdout
