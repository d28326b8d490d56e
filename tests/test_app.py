"""The browser app through a real client: gradio_client against the app on a free local port."""

import pytest

from assistant.app import RUN_PROFILE, create_app, parse_auth
from assistant.app.votes import VoteStore
from assistant.errors import AssistantError
from conftest import free_port, train_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    return train_tiny_run(tmp_path_factory.mktemp("app"), tiny_model_dir)


@pytest.fixture(scope="module")
def client(tiny_run):
    from gradio_client import Client

    db = tiny_run.parent / "votes.sqlite"
    app = create_app(tiny_run, runs_dir=tiny_run.parent, votes_db=db)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), db
    finally:
        app.close()


SETTINGS = (RUN_PROFILE, 1.0, 1.0, 16, 3)  # profile, temperature, top_p, max new tokens, seed (a random tiny model may end at once when greedy)


def text_of(message):
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_both_panes_answer_and_keep_their_history(client, tiny_run):
    c, _ = client
    base, tuned, box = c.predict("Do you sell decaf?", [], [], str(tiny_run), *SETTINGS, api_name="/chat")
    assert box == ""
    assert [m["role"] for m in base] == [m["role"] for m in tuned] == ["user", "assistant"]
    assert text_of(base[1]) and text_of(tuned[1])
    base2, tuned2, _ = c.predict("And oat milk?", base, tuned, str(tiny_run), *SETTINGS, api_name="/chat")
    assert len(base2) == len(tuned2) == 4


def test_empty_message_is_ignored(client, tiny_run):
    c, _ = client
    base, tuned, _ = c.predict("   ", [], [], str(tiny_run), *SETTINGS, api_name="/chat")
    assert base == [] and tuned == []


def test_too_long_message_gets_a_notice_not_an_error(client, tiny_run):
    c, _ = client
    base, tuned, _ = c.predict("word " * 700, [], [], str(tiny_run), *SETTINGS, api_name="/chat")
    assert "message too long" in text_of(base[-1]) and "message too long" in text_of(tuned[-1])


def test_blind_vote_is_stored_with_everything(client, tiny_run):
    c, db = client
    before = len(VoteStore(db).votes())
    a, b, reveal, *_ = c.predict("When do you open?", str(tiny_run), *SETTINGS, api_name="/compare")
    assert a and b and reveal == ""
    reveal, tally, *_ = c.predict(str(tiny_run), api_name="/vote_b")
    assert "was the tuned assistant" in reveal and "Tuned win rate" in tally
    votes = VoteStore(db).votes()
    assert len(votes) == before + 1
    vote = votes[-1]
    assert (vote.prompt, vote.reply_a, vote.reply_b, vote.choice) == ("When do you open?", a, b, "b")
    assert vote.tuned_side in ("a", "b") and vote.run == str(tiny_run)
    assert vote.settings["max_new_tokens"] == 16 and vote.created


def test_vote_without_a_comparison_stores_nothing(client, tiny_run):
    from gradio_client import Client

    c, db = client
    fresh = Client(c.src, verbose=False)  # a new session has no pending comparison
    before = len(VoteStore(db).votes())
    reveal, *_ = fresh.predict(str(tiny_run), api_name="/vote_a")
    assert "Send a message first" in reveal and len(VoteStore(db).votes()) == before


def test_evaluation_tab_says_how_to_create_a_report(client, tiny_run):
    c, _ = client
    assert f"assistant eval --run {tiny_run}" in c.predict(str(tiny_run), api_name="/eval_report")


def test_votes_export_command(client, tiny_run, tmp_path):
    from click.testing import CliRunner

    from assistant.cli import cli

    _, db = client
    out = tmp_path / "prefs.jsonl"
    result = CliRunner().invoke(cli, ["votes", "export", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count('"chosen"') == sum(v.choice in ("a", "b") for v in VoteStore(db).votes())


def test_broken_run_and_bad_auth(tmp_path):
    app = create_app(tmp_path / "missing", runs_dir=tmp_path, votes_db=tmp_path / "v.sqlite")
    assert any("run directory not found" in str(getattr(block, "value", "")) for block in app.blocks.values())
    assert parse_auth("ann:secret") == ("ann", "secret")
    with pytest.raises(AssistantError, match="USER:PASSWORD"):
        parse_auth("ann")


def test_concurrent_users_queue_and_all_get_answers(client, tiny_run):
    """Four sessions at once share the one model through the queue; none fails."""
    from gradio_client import Client

    c, _ = client
    sessions = [Client(c.src, verbose=False) for _ in range(4)]
    jobs = [s.submit(f"Question {i}?", [], [], str(tiny_run), *SETTINGS, api_name="/chat") for i, s in enumerate(sessions)]
    for i, job in enumerate(jobs):
        base, tuned, _ = job.result(timeout=120)
        assert text_of(base[0]) == f"Question {i}?" and len(tuned) == 2
