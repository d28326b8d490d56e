"""The held-out cases an evaluation answers: a questions file, or the run's validation split.

A case is the conversation the model answers (user first, ending with a user message; no
system message, the ChatModel adds its own) and the reference reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError
from ..rundir import RunDir


@dataclass(frozen=True)
class Case:
    history: list[dict]  # [{"role", "content"}, ...] ending with the user message answered
    reference: str

    @property
    def prompt(self) -> str:
        """The last user message."""
        return self.history[-1]["content"]

    @property
    def single_turn(self) -> bool:
        return len(self.history) == 1


def data_dir(run: RunDir) -> Path | None:
    """The prepared-data folder the run was trained on (run.json's "data"), if recorded."""
    data = run.summary().get("data")
    return Path(data) if data else None


def validation_file(run: RunDir) -> Path | None:
    folder = data_dir(run)
    return folder / "validation.jsonl" if folder else None


def case_from_messages(messages: list[dict]) -> Case | None:
    """Prompt = the messages before the last assistant message, without the system
    message; reference = that assistant message. None when it has no user message before."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        return None
    history = [{"role": m["role"], "content": m["content"]} for m in messages[:last] if m.get("role") != "system"]
    if not history or history[-1]["role"] != "user":
        return None
    return Case(history=history, reference=messages[last]["content"])


def cases_from_validation(run: RunDir) -> list[Case]:
    from ..training import load_pairs

    path = validation_file(run)
    if path is None or not path.is_file():
        raise AssistantError(
            f"{run.path}: no validation split to evaluate on "
            f"({path or 'run.json has no data folder'} not found); pass --questions FILE"
        )
    cases = [case_from_messages(messages) for messages in load_pairs(path)]
    return [case for case in cases if case is not None]


def cases_from_questions(path: str | Path) -> list[Case]:
    from ..compare import load_heldout

    return [
        Case(history=[{"role": "user", "content": item["question"]}], reference=item["reference"])
        for item in load_heldout(Path(path))
    ]


def load_cases(run: RunDir, questions: str | Path | None = None, limit: int | None = None) -> list[Case]:
    """The cases from `questions` (JSONL question/reference) or the validation split; the
    first `limit` of them when given."""
    cases = cases_from_questions(questions) if questions else cases_from_validation(run)
    if limit is not None:
        if limit < 1:
            raise AssistantError(f"--limit must be at least 1 (got {limit})")
        cases = cases[:limit]
    if not cases:
        source = questions or validation_file(run)
        raise AssistantError(f"{source}: no cases to evaluate")
    return cases
