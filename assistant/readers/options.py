"""Reader options (kept apart from __init__ so the format modules can import them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import AssistantError, InputError
from ..records import Rejected, SourceRef
from .text import show

T = TypeVar("T")
BAD_RECORD_ACTIONS = ("raise", "reject")

FORMATS: tuple[str, ...] = (
    "chat-jsonl", "sharegpt", "csv-log", "transcript", "faq-csv", "faq-tsv", "faq-json", "faq-md",
)  # fmt: skip


@dataclass
class ReadOptions:
    """How to read input files; every field defaults to auto-detection."""

    format: str | None = None  # force one format for every file
    speaker_map: dict[str, str] | None = None  # extra speaker name -> role entries
    question_column: str | None = None
    answer_column: str | None = None
    conversation_column: str | None = None
    speaker_column: str | None = None
    text_column: str | None = None
    delimiter: str | None = None  # transcript conversation separator line
    # "raise": the first bad record is an InputError (the file is unusable as it is).
    # "reject": a bad record is yielded as a `Rejected` and reading goes on; problems
    # with the whole file (unknown format, empty, binary) still raise.
    on_bad_record: str = "raise"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise AssistantError for a bad option; called again before reading since
        dataclass fields can be reassigned after construction."""
        if self.format is not None and self.format not in FORMATS:
            raise AssistantError(
                f"unknown format '{show(self.format)}' (expected one of {', '.join(FORMATS)})"
            )
        if self.on_bad_record not in BAD_RECORD_ACTIONS:
            raise AssistantError(f"on_bad_record must be one of {', '.join(BAD_RECORD_ACTIONS)}")
        if self.delimiter is not None and not self.delimiter.strip():
            raise AssistantError("the transcript delimiter must not be blank")
        if self.speaker_map is not None:
            from .speakers import build_speaker_map

            build_speaker_map(self.speaker_map)  # raises on a bad role

    def raise_unless_rejecting(self, error: InputError) -> None:
        if self.on_bad_record != "reject":
            raise error

    def reject(self, error: InputError, text: str) -> Rejected:
        """The bad record as a `Rejected`, or the error raised when rejecting is off."""
        self.raise_unless_rejecting(error)
        # a "\ud800" escape decodes to a lone surrogate, which no UTF-8 file can hold
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return Rejected(SourceRef(error.path, error.line or 0), error.message, text)

    def guard(self, build: Callable[[], T], text: Callable[[], str]) -> T | Rejected:
        """`build()`, or its InputError as a `Rejected` holding `text()`."""
        try:
            return build()
        except InputError as exc:
            return self.reject(exc, text())
