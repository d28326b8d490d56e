"""Reader options (kept apart from __init__ so the format modules can import them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AssistantError
from .text import show

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

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise AssistantError for a bad option; called again before reading since
        dataclass fields can be reassigned after construction."""
        if self.format is not None and self.format not in FORMATS:
            raise AssistantError(
                f"unknown format '{show(self.format)}' (expected one of {', '.join(FORMATS)})"
            )
        if self.delimiter is not None and not self.delimiter.strip():
            raise AssistantError("the transcript delimiter must not be blank")
        if self.speaker_map is not None:
            from .speakers import build_speaker_map

            build_speaker_map(self.speaker_map)  # raises on a bad role
