"""Column / key names accepted for CSV headers and FAQ JSON objects."""

from __future__ import annotations

from ..errors import InputError
from .text import show

QUESTION_KEYS = ("question", "q", "prompt", "instruction")
ANSWER_KEYS = ("answer", "a", "response", "completion", "output")
CONVERSATION_KEYS = (
    "conversation_id", "conversation", "conv_id", "chat_id", "session_id", "thread_id",
)  # fmt: skip
SPEAKER_KEYS = ("speaker", "role", "from", "author", "sender")
TEXT_KEYS = ("text", "message", "content", "body", "value")
TIMESTAMP_KEYS = ("timestamp", "time", "created_at", "date")

# (what the column holds, the CLI flag that names it) for error messages.
PURPOSE = {
    QUESTION_KEYS: ("questions", "--question-column"),
    ANSWER_KEYS: ("answers", "--answer-column"),
    CONVERSATION_KEYS: ("conversation ids", "--conversation-column"),
    SPEAKER_KEYS: ("speakers", "--speaker-column"),
    TEXT_KEYS: ("message text", "--text-column"),
}


def norm(name: str) -> str:
    return name.strip().lower()


def find_column(names: list[str], wanted: str | None, aliases: tuple[str, ...]) -> int | None:
    """Index of the column named `wanted` (if set) or of the first alias present."""
    normed = [norm(n) for n in names]
    for candidate in ([wanted] if wanted else aliases):
        if norm(candidate) in normed:
            return normed.index(norm(candidate))
    return None


def missing_column(path, line: int | None, names: list[str], wanted: str | None,
                   aliases: tuple[str, ...], noun: str = "column") -> InputError:
    what, flag = PURPOSE[aliases]
    found = show(", ".join(n.strip() for n in names), 200) or "none"
    if wanted:
        expected = f"'{show(wanted)}'"
    else:
        expected = "one of " + ", ".join(aliases)
    message = f"missing {noun} for {what} (found: {found}; expected {expected}; set {flag})"
    return InputError(path, line, message)
