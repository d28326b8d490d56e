"""User-facing errors.

Every problem a user can cause (bad input file, unknown profile, missing run directory)
is raised as an `AssistantError`. The CLI prints its message on one line and exits with
status 2; no traceback is shown. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path


class AssistantError(Exception):
    """An error caused by the user's input or environment, shown as one line."""

    exit_code = 2


class InputError(AssistantError):
    """A problem at a known place in an input file.

    Rendered as ``path:line: what is wrong (expected ...)`` so editors and terminals can
    jump to it. ``line`` is 1-based; ``None`` when the problem concerns the whole file.
    For CSV input ``line`` is the physical line of the row (header is line 1).
    """

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
