"""csv-log (one message per row) and faq-csv / faq-tsv (one question per row).

Rows are streamed through the csv module, which copes with quoted fields spanning
several lines; every row remembers the physical line it starts on (header = line 1)
so errors and SourceRefs point where a spreadsheet user can look.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..records import Conversation, FaqEntry, Message, Rejected, SourceRef
from .columns import (
    ANSWER_KEYS, CONVERSATION_KEYS, QUESTION_KEYS, SPEAKER_KEYS, TEXT_KEYS, TIMESTAMP_KEYS,
    find_column, missing_column,
)  # fmt: skip
from .options import ReadOptions
from .speakers import build_speaker_map, resolve, unknown_speaker
from .text import empty_error, iter_lines, show

EXPECTED_LOG = "a header row with conversation, speaker and text columns, then one message per row"
EXPECTED_FAQ = "a header row with question and answer columns, then one question per row"

# Long answers exceed csv's default 128 KiB field limit; 64 MiB still bounds memory.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


class Table:
    """A CSV/TSV file's header plus a stream of (line, row) for the rows below it."""

    def __init__(self, path: Path, tab: bool):
        self.path = path
        lines = self._lines = iter_lines(path)
        leading = []
        for line in lines:  # keep blank lines before the header so line numbers stay right
            leading.append(line)
            if line.strip():
                break
        if not leading or not leading[-1].strip():
            self.names = None
            return
        self.delimiter = "\t" if tab else _sniff_delimiter(leading[-1])
        self._reader = csv.reader(itertools.chain(leading, lines), delimiter=self.delimiter)
        self._last_line = 0  # physical line where the previous row ended
        self._stream = self._rows()
        first = next(self._stream, None)
        if first is None:  # a header of only separators, e.g. ",,,"
            self.names = None
            return
        self.header_line, header = first
        self.names = [name.strip() for name in header]

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = self._reader.line_num
                raise InputError(self.path, line, f"malformed CSV ({show(exc, 200)})") from None
            start, self._last_line = self._last_line + 1, self._reader.line_num
            if any(cell.strip() for cell in row):
                yield start, row

    def rows(self) -> Iterator[tuple[int, list[str], InputError | None]]:
        """(line, cells, what is wrong with the row or None)."""
        width = len(self.names)
        for line, row in self._stream:
            error = None
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                sep = "tab" if self.delimiter == "\t" else f"'{self.delimiter}'"
                error = InputError(
                    self.path, line,
                    f"row has {len(row)} fields but the header has {width} "
                    f"(quote fields that contain {sep})",
                )
            yield line, row, error

    def row_text(self, row: list[str]) -> str:
        return self.delimiter.join(row)

    def close(self) -> None:
        """Release the file early (detection only reads the header)."""
        self._lines.close()

    def column(self, wanted: str | None, aliases: tuple[str, ...], required: bool = True) -> int | None:
        index = find_column(self.names, wanted, aliases)
        if index is None and (required or wanted):
            raise missing_column(self.path, self.header_line, self.names, wanted, aliases)
        return index


def _sniff_delimiter(header: str) -> str:
    """Comma unless the header clearly uses ';' (European Excel), tab or '|'."""
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def open_table(path: Path, tab: bool) -> Table:
    return Table(path, tab)


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


class _LogConversation:
    """The rows of one conversation of a csv-log, and the first thing wrong with them."""

    def __init__(self, conv_id: str, path: Path, line: int, metadata: dict):
        self.conversation = Conversation(conv_id, [], SourceRef(str(path), line), metadata)
        self.rows: list[str] = []
        self.error: InputError | None = None

    def finish(self, options: ReadOptions) -> Conversation | Rejected:
        """A bad row spoils its whole conversation: dropping just the row would change
        the context of every later reply."""
        if self.error is None:
            return self.conversation
        return options.reject(self.error, "\n".join(self.rows))


def read_csv_log(path: Path, options: ReadOptions, tab: bool = False) -> Iterator[Conversation | Rejected]:
    table = open_table(path, tab)
    if table.names is None:
        raise empty_error(path, EXPECTED_LOG)
    conv_col = table.column(options.conversation_column, CONVERSATION_KEYS)
    speaker_col = table.column(options.speaker_column, SPEAKER_KEYS)
    text_col = table.column(options.text_column, TEXT_KEYS)
    time_col = table.column(None, TIMESTAMP_KEYS, required=False)
    speakers = build_speaker_map(options.speaker_map)
    current: _LogConversation | None = None
    finished: set[str] = set()  # ids already emitted: a repeat means the file is unsorted
    for line, row, error in table.rows():
        conv_id = _cell(row, conv_col).strip() or (current.conversation.id if current else "")
        if current is None or conv_id != current.conversation.id:
            if current is not None:
                finished.add(current.conversation.id)
                yield current.finish(options)
            metadata = {"timestamp": _cell(row, time_col).strip()} if time_col is not None else {}
            current = _LogConversation(conv_id, path, line, metadata)
            if conv_id in finished:
                error = error or InputError(
                    path, line,
                    f"conversation '{show(conv_id)}' continues after other conversations; "
                    "expected rows grouped by conversation (sort the file)",
                )
        current.rows.append(table.row_text(row))
        role = resolve(speakers, _cell(row, speaker_col))
        if error is None and not _cell(row, conv_col).strip():
            error = InputError(path, line, "empty conversation id")
        if error is None and role is None:
            error = InputError(path, line, unknown_speaker(_cell(row, speaker_col), speakers))
        if error is not None:
            current.error = current.error or error
            options.raise_unless_rejecting(current.error)
            continue
        current.conversation.messages.append(Message(role, _cell(row, text_col).strip()))
    if current is not None:
        yield current.finish(options)


def read_faq_table(path: Path, options: ReadOptions, tab: bool = False) -> Iterator[FaqEntry | Rejected]:
    table = open_table(path, tab)
    if table.names is None:
        raise empty_error(path, EXPECTED_FAQ)
    q_col = table.column(options.question_column, QUESTION_KEYS)
    a_col = table.column(options.answer_column, ANSWER_KEYS)
    id_col = table.column(None, ("id",), required=False)
    extra = [i for i in range(len(table.names)) if i not in (q_col, a_col, id_col)]
    for line, row, error in table.rows():
        if error is not None:
            yield options.reject(error, table.row_text(row))
            continue
        entry_id = _cell(row, id_col).strip() or f"{path.stem}:{line}"
        metadata = {table.names[i]: _cell(row, i) for i in extra if _cell(row, i).strip()}
        yield FaqEntry(
            entry_id, _cell(row, q_col).strip(), _cell(row, a_col).strip(),
            SourceRef(str(path), line), metadata,
        )
