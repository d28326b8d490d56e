"""The blind-vote store: round trip, validation, tally, export, durability, concurrency."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.app.votes import (
    CHOICES,
    DEFAULT_DB,
    Vote,
    VoteStore,
    default_db_path,
)
from assistant.errors import AssistantError
from assistant.evaluation.metrics import wilson_interval

REPO = Path(__file__).resolve().parents[1]


def make_vote(choice="a", tuned_side="a", run="runs/r1", prompt="hi", **kw) -> Vote:
    return Vote(prompt=prompt, reply_a=f"A:{prompt}", reply_b=f"B:{prompt}", tuned_side=tuned_side,
                choice=choice, settings={"temperature": 0.7, "seed": 1}, run=run, **kw)


@pytest.fixture
def store(tmp_path) -> VoteStore:
    return VoteStore(tmp_path / "sub" / "votes.sqlite")


def test_default_db_path():
    assert default_db_path(Path("runs")) == Path("runs") / DEFAULT_DB == Path("runs/votes.sqlite")


def test_record_and_read_back(store):
    vote = Vote(prompt="What is 2+2?", reply_a="4", reply_b="four, ünïcode ✓", tuned_side="b",
                choice="tie", settings={"temperature": 0.3, "top_p": 0.9, "max_new_tokens": 64,
                                        "seed": 7, "profile": "qa"},
                run="runs/x", history=[{"role": "user", "content": "hey"},
                                       {"role": "assistant", "content": "hello"}])
    first = store.record(vote)
    second = store.record(make_vote())
    assert second == first + 1
    back = store.votes()
    assert len(back) == 2
    assert back[0].created  # filled by the store
    assert back[0] == replace(vote, created=back[0].created)
    assert back[1].history == []
    explicit = replace(vote, created="2024-01-01T00:00:00+00:00")
    store.record(explicit)
    assert store.votes()[2] == explicit
    assert store.path.parent.name == "sub"


@pytest.mark.parametrize("field, value", [("choice", "c"), ("choice", "A"), ("tuned_side", "tie"),
                                          ("tuned_side", "")])
def test_validation(store, field, value):
    with pytest.raises(AssistantError, match="invalid"):
        store.record(replace(make_vote(), **{field: value}))
    assert store.votes() == []


def test_all_choices_accepted(store):
    for choice in CHOICES:
        store.record(make_vote(choice=choice))
    assert [v.choice for v in store.votes()] == list(CHOICES)


def test_tally_known_numbers(store):
    # tuned on a: a wins tuned (3), b wins base (1); tuned on b: b wins tuned (2), a wins base (2)
    spec = [("a", "a")] * 3 + [("a", "b")] * 1 + [("b", "b")] * 2 + [("b", "a")] * 2
    spec += [("a", "tie")] * 3 + [("b", "both_bad")] * 4
    for side, choice in spec:
        store.record(make_vote(choice=choice, tuned_side=side))
    t = store.tally()
    assert (t["total"], t["tuned_wins"], t["base_wins"], t["ties"], t["both_bad"]) == (15, 5, 3, 3, 4)
    assert t["win_rate"] == pytest.approx((5 + 1.5) / 11)
    assert t["ci95"] == pytest.approx(list(wilson_interval(6.5, 11)))
    lo, hi = t["ci95"]
    assert 0 <= lo < t["win_rate"] < hi <= 1


def test_tally_empty_and_only_both_bad(store):
    t = store.tally()
    assert t == {"total": 0, "tuned_wins": 0, "base_wins": 0, "ties": 0, "both_bad": 0,
                 "win_rate": None, "ci95": None}
    store.record(make_vote(choice="both_bad"))
    t = store.tally()
    assert (t["total"], t["both_bad"], t["win_rate"], t["ci95"]) == (1, 1, None, None)


def test_per_run_filtering(store):
    for _ in range(3):
        store.record(make_vote(run="runs/r1", choice="a", tuned_side="a"))
    for _ in range(2):
        store.record(make_vote(run="runs/r2", choice="a", tuned_side="b"))
    assert len(store.votes()) == 5
    assert {v.run for v in store.votes("runs/r1")} == {"runs/r1"}
    assert len(store.votes(Path("runs/r2"))) == 2
    assert store.votes("runs/none") == []
    assert store.tally("runs/r1")["tuned_wins"] == 3
    assert store.tally("runs/r2")["base_wins"] == 2
    assert store.tally()["total"] == 5


def test_export_preferences(store, tmp_path):
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    store.record(make_vote(prompt="p1", choice="a", tuned_side="a", history=history))  # tuned won
    store.record(make_vote(prompt="p2", choice="b", tuned_side="a"))  # base won
    store.record(make_vote(prompt="p3", choice="a", tuned_side="b"))  # base won
    store.record(make_vote(prompt="p4", choice="b", tuned_side="b"))  # tuned won
    store.record(make_vote(prompt="p5", choice="tie"))
    store.record(make_vote(prompt="p6", choice="both_bad"))
    store.record(make_vote(prompt="p7", choice="a", run="runs/other"))
    out = tmp_path / "out" / "prefs.jsonl"
    assert store.export_preferences(out, run="runs/r1") == 4
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["prompt_text"] for r in rows] == ["p1", "p2", "p3", "p4"]
    assert [(r["chosen"], r["rejected"]) for r in rows] == [
        ("A:p1", "B:p1"), ("B:p2", "A:p2"), ("A:p3", "B:p3"), ("B:p4", "A:p4")]
    assert [r["choice_was_tuned"] for r in rows] == [True, False, False, True]
    assert rows[0]["prompt"] == [*history, {"role": "user", "content": "p1"}]
    assert rows[1]["prompt"] == [{"role": "user", "content": "p2"}]
    assert {r["run"] for r in rows} == {"runs/r1"}
    assert set(rows[0]) == {"prompt", "prompt_text", "chosen", "rejected", "run", "choice_was_tuned"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["prefs.jsonl"]  # no temp file left
    # all runs; overwriting replaces the file whole
    assert store.export_preferences(out) == 5
    assert len(out.read_text().splitlines()) == 5
    assert store.export_preferences(out, run="runs/none") == 0
    assert out.read_text() == ""
    assert sorted(p.name for p in out.parent.iterdir()) == ["prefs.jsonl"]


def test_wal_mode(store):
    store.record(make_vote())
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_vote_survives_sigkill(tmp_path):
    db = tmp_path / "votes.sqlite"
    script = (
        "import sys, time\n"
        "from assistant.app.votes import Vote, VoteStore\n"
        "store = VoteStore(sys.argv[1])\n"
        "store.record(Vote(prompt='killed', reply_a='x', reply_b='y', tuned_side='a', choice='b',"
        " settings={'seed': 3}, run='runs/k'))\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, str(db)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "done"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    votes = VoteStore(db).votes()
    assert len(votes) == 1
    assert (votes[0].prompt, votes[0].choice, votes[0].settings) == ("killed", "b", {"seed": 3})


def test_concurrent_writers(store):
    errors: list[BaseException] = []
    ids: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            for i in range(25):
                row = store.record(make_vote(prompt=f"t{n}-{i}", run=f"runs/t{n}"))
                with lock:
                    ids.append(row)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 100
    assert len(store.votes()) == 100
    assert all(len(store.votes(f"runs/t{n}")) == 25 for n in range(4))


def test_not_sqlite_file(tmp_path):
    path = tmp_path / "votes.sqlite"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(AssistantError) as info:
        VoteStore(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a vote database (")
    assert "\n" not in message


def test_other_schema(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    conn.close()
    with pytest.raises(AssistantError, match="not a vote database"):
        VoteStore(path)


def test_cannot_open(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AssistantError, match="cannot open vote database"):
        VoteStore(blocker / "votes.sqlite")  # parent is a file


def test_reopen_existing(store):
    store.record(make_vote())
    assert len(VoteStore(store.path).votes()) == 1
