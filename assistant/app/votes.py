"""Blind votes between base and tuned replies, kept in one SQLite file.

Each vote is committed (WAL journal, ``synchronous=FULL``) before `VoteStore.record`
returns, so killing the app between votes loses nothing. Every method opens and closes
its own connection, so the store can be shared by the Gradio worker threads; writers
wait up to 30 s for each other instead of failing.

Tally: ``tuned_wins`` are a/b votes for the side that showed the tuned model, ``base_wins``
a/b votes for the other side. ``win_rate = (tuned_wins + ties / 2) / n`` with
``n = tuned_wins + base_wins + ties`` (``both_bad`` excluded); ``ci95`` is
``wilson_interval(tuned_wins + ties / 2, n)`` on the same fractional count. Both are
``None`` when ``n`` is 0.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import AssistantError
from ..evaluation.metrics import wilson_interval

CHOICES = ("a", "b", "tie", "both_bad")  # A better / B better / tie / both bad
SIDES = ("a", "b")
DEFAULT_DB = "votes.sqlite"
SCHEMA_VERSION = 1
COLUMNS = ("id", "created", "run", "prompt", "history", "reply_a", "reply_b",
           "tuned_side", "choice", "settings")
_CREATE = """CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY, created TEXT, run TEXT, prompt TEXT, history TEXT,
    reply_a TEXT, reply_b TEXT, tuned_side TEXT, choice TEXT, settings TEXT)"""


def default_db_path(runs_dir: Path) -> Path:
    return Path(runs_dir) / DEFAULT_DB


@dataclass(frozen=True)
class Vote:
    prompt: str
    reply_a: str
    reply_b: str
    tuned_side: str  # "a" or "b": which side showed the tuned model
    choice: str  # one of CHOICES
    settings: dict  # temperature, top_p, max_new_tokens, seed, profile...
    run: str  # run directory
    history: list = ()  # earlier turns [{"role", "content"}]; stored and returned as a list
    created: str = ""  # ISO time; filled by the store when empty

    def __post_init__(self):
        object.__setattr__(self, "history", list(self.history))
        object.__setattr__(self, "run", str(self.run))


class VoteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE")
                self._check_or_create(conn)
                conn.execute("COMMIT")
        except AssistantError:
            raise
        except sqlite3.OperationalError as exc:
            raise AssistantError(f"{self.path}: cannot open vote database ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise AssistantError(f"{self.path}: not a vote database ({exc})") from None
        except OSError as exc:
            raise AssistantError(f"{self.path}: cannot open vote database ({exc.strerror or exc})") from None

    def _check_or_create(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        if version == 0 and not tables:
            conn.execute(_CREATE)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if version != SCHEMA_VERSION:
            raise AssistantError(f"{self.path}: not a vote database (schema version {version}, "
                                 f"tables: {', '.join(tables) or 'none'})")
        columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(votes)"))
        if columns != COLUMNS:
            raise AssistantError(f"{self.path}: not a vote database (votes table has columns "
                                 f"{', '.join(columns) or 'none'})")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._connect() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise AssistantError(f"{self.path}: vote database error ({exc})") from None

    def record(self, vote: Vote) -> int:
        """Validate and store one vote, committed before returning; returns its row id."""
        if vote.choice not in CHOICES:
            raise AssistantError(f"invalid vote choice {vote.choice!r} (expected one of {', '.join(CHOICES)})")
        if vote.tuned_side not in SIDES:
            raise AssistantError(f"invalid tuned side {vote.tuned_side!r} (expected a or b)")
        try:
            history, settings = json.dumps(vote.history), json.dumps(vote.settings)
        except (TypeError, ValueError) as exc:
            raise AssistantError(f"vote history/settings are not JSON-serialisable ({exc})") from None
        created = vote.created or datetime.now(UTC).isoformat(timespec="seconds")
        with self._session() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "INSERT INTO votes (created, run, prompt, history, reply_a, reply_b, "
                    "tuned_side, choice, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (created, vote.run, vote.prompt, history, vote.reply_a, vote.reply_b,
                     vote.tuned_side, vote.choice, settings))
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return cursor.lastrowid

    def votes(self, run: str | Path | None = None) -> list[Vote]:
        """All votes in recording order, only those of `run` when given."""
        query = "SELECT created, run, prompt, history, reply_a, reply_b, tuned_side, choice, settings FROM votes"
        params: tuple = ()
        if run is not None:
            query, params = query + " WHERE run = ?", (str(run),)
        with self._session() as conn:
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
        return [
            Vote(prompt=prompt, reply_a=a, reply_b=b, tuned_side=side, choice=choice,
                 settings=json.loads(settings), run=run_, history=json.loads(history), created=created)
            for created, run_, prompt, history, a, b, side, choice, settings in rows
        ]

    def tally(self, run: str | Path | None = None) -> dict:
        """Counts, tuned win rate (ties count half, both_bad excluded) and its Wilson 95% CI."""
        votes = self.votes(run)
        tuned = sum(v.choice == v.tuned_side for v in votes)
        base = sum(v.choice in SIDES and v.choice != v.tuned_side for v in votes)
        ties = sum(v.choice == "tie" for v in votes)
        n = tuned + base + ties
        successes = tuned + ties / 2
        return {
            "total": len(votes), "tuned_wins": tuned, "base_wins": base, "ties": ties,
            "both_bad": sum(v.choice == "both_bad" for v in votes),
            "win_rate": successes / n if n else None,
            "ci95": list(wilson_interval(successes, n)) if n else None,
        }

    def export_preferences(self, out: str | Path, run: str | Path | None = None) -> int:
        """Write the votes with a winner (a or b) as preference pairs, one JSON object a line,
        atomically; ties and both_bad are skipped. Returns the number of pairs written."""
        lines = []
        for v in self.votes(run):
            if v.choice not in SIDES:
                continue
            chosen, rejected = (v.reply_a, v.reply_b) if v.choice == "a" else (v.reply_b, v.reply_a)
            lines.append(json.dumps({
                "prompt": [*v.history, {"role": "user", "content": v.prompt}],
                "prompt_text": v.prompt, "chosen": chosen, "rejected": rejected,
                "run": v.run, "choice_was_tuned": v.choice == v.tuned_side,
            }, ensure_ascii=False))
        try:
            write_text_atomic(Path(out), "".join(line + "\n" for line in lines))
        except OSError as exc:
            raise AssistantError(f"{out}: cannot write preferences ({exc.strerror or exc})") from None
        return len(lines)
