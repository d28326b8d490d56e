import json

import pytest

from assistant.errors import AssistantError, InputError
from assistant.prepare import PrepareSettings, prepare
from conftest import REPO, write

LOGS = "\n".join(
    json.dumps({"id": f"c{i}", "messages": [
        {"role": "user", "content": f"Question {i}?"},
        {"role": "assistant", "content": f"Answer {i}."},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome."},
    ]}) for i in range(40)
) + "\n" + json.dumps({"id": "lonely", "messages": [{"role": "user", "content": "hello?"}]}) + "\n"
FAQ = "question,answer\nWhat are your hours?,7am to 6pm.\nDo you sell decaf?,Yes: our Night Owl decaf.\n"


@pytest.fixture
def inputs(tmp_path):
    write(tmp_path / "in" / "logs.jsonl", LOGS)
    write(tmp_path / "in" / "faq.csv", FAQ)
    return tmp_path / "in"


def run(tmp_path, inputs, **kw):
    return prepare(PrepareSettings(inputs=[inputs], profile="acme_coffee", out=tmp_path / "out", **kw))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prepare_writes_openai_chat_files_and_report(tmp_path, inputs):
    report = run(tmp_path, inputs)
    out = tmp_path / "out"
    train, validation = read_jsonl(out / "train.jsonl"), read_jsonl(out / "validation.jsonl")
    profile_examples = 4  # at least a few curated replies from the profile
    # 40 answers, one "Thanks!" -> "You're welcome." (39 near twins removed), 2 FAQ entries
    assert len(train) + len(validation) >= 40 + 1 + 2 + profile_examples
    assert report["skipped"]["examples"]["near duplicate of an earlier example"]["count"] == 39
    assert report["duplicates"]["near_examples"] == 39
    assert report["records_read"] == {"conversations": 41, "faq_entries": 2, "unreadable": 0, "messages": 40 * 4 + 1 + 2 * 2}
    assert report["skipped"]["conversations"]["no agent turn (customer only)"]["count"] == 1
    assert "logs.jsonl:41" in report["skipped"]["conversations"]["no agent turn (customer only)"]["first_at"]
    for example in train + validation:
        assert set(example) == {"messages"}
        assert example["messages"][0]["role"] == "system"
        assert example["messages"][-1]["role"] == "assistant"
        assert example["messages"][-1]["content"].endswith("— the Acme Coffee team")
    assert report["tokens"]["train"]["max"] <= 1024
    assert json.loads((out / "prepare_report.json").read_text()) == report
    assert (out / "brand_profile.yaml").is_file()


def test_no_conversation_on_both_sides_of_the_split(tmp_path, inputs):
    run(tmp_path, inputs, validation_fraction=0.3, deduplicate=False)  # keep the follow-ups
    def firsts(name):
        return {e["messages"][1]["content"] for e in read_jsonl(tmp_path / "out" / name) if len(e["messages"]) > 3}
    # the follow-up example of conversation i carries "Question i?" as its first user turn
    assert firsts("train.jsonl").isdisjoint(firsts("validation.jsonl"))
    assert firsts("validation.jsonl")


def test_split_is_reproducible(tmp_path, inputs):
    run(tmp_path, inputs)
    first = (tmp_path / "out" / "validation.jsonl").read_text()
    run(tmp_path, inputs)
    assert (tmp_path / "out" / "validation.jsonl").read_text() == first


def test_long_context_is_trimmed_and_overlong_pairs_reported(tmp_path):
    long_turns = []
    for i in range(6):
        long_turns += [{"role": "user", "content": "word " * 60}, {"role": "assistant", "content": f"reply {i}"}]
    write(tmp_path / "in" / "long.jsonl", json.dumps({"messages": long_turns}) + "\n" +
          json.dumps({"messages": [{"role": "user", "content": "x " * 400}, {"role": "assistant", "content": "y"}]}) + "\n")
    report = run(tmp_path, tmp_path / "in", max_tokens=200)
    assert report["tokens"]["train"]["max"] <= 200
    assert report["skipped"]["examples"]["longer than 200 tokens"]["count"] == 1


def test_bad_input_leaves_existing_output_untouched(tmp_path, inputs):
    run(tmp_path, inputs)
    before = (tmp_path / "out" / "train.jsonl").read_text()
    write(inputs / "broken.jsonl", '{"messages": []}\n{broken\n')
    with pytest.raises(InputError, match=r"broken.jsonl:2"):
        run(tmp_path, inputs, strict=True)
    assert (tmp_path / "out" / "train.jsonl").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_missing_input_and_unknown_profile_are_one_line_errors(tmp_path):
    with pytest.raises(AssistantError, match="no such file or directory"):
        prepare(PrepareSettings(inputs=[tmp_path / "nope"], profile="acme_coffee", out=tmp_path / "o"))
    with pytest.raises(AssistantError, match="brand profile 'nobody' not found"):
        prepare(PrepareSettings(inputs=[tmp_path], profile="nobody", out=tmp_path / "o"))


def test_demo_data_prepares_cleanly(tmp_path):
    report = prepare(PrepareSettings(inputs=[REPO / "demo" / "data"], profile="acme_coffee", out=tmp_path / "demo"))
    assert report["records_read"]["conversations"] >= 150
    assert report["records_read"]["faq_entries"] >= 60
    assert report["pairs_written"]["validation"] > 0
    # a few FAQ answers (dogs, parking, nut allergies, class tickets) repeat chat replies almost word
    # for word; short FAQ answers at a bigram Jaccard of 0.5-0.65 are flagged by chance (about one in 5)
    assert set(report["skipped"]["examples"]) <= {"near duplicate of an earlier example"}
    assert report["duplicates"]["near_examples"] <= 8
    # the brand's own contact details are on the profile's keep list
    assert report["redactions"]["total"] == 0, report["redactions"]
