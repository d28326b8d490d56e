"""Encoding-aware, streaming access to input files as text lines.

Input files come from spreadsheets, exports and editors, so they arrive as UTF-8 (with or
without a BOM) or UTF-16 (Excel's "Unicode text"). Anything else must fail with the line
of the first bad byte, not a traceback: users fix such files by hand.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _binary_error(path: Path, line: int) -> InputError:
    return InputError(
        path,
        line,
        "looks like a binary file (contains NUL bytes); expected a UTF-8 or UTF-16 text file"
        " (UTF-16 needs a byte order mark)",
    )


def _decode_error(path: Path, line: int, bad: int | None) -> InputError:
    byte = f" (byte 0x{bad:02X})" if bad is not None else ""
    return InputError(path, line, f"not valid UTF-8 text{byte}; save the file as UTF-8 or UTF-16")


def _open_binary(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(path, None, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, None, "is a directory, expected a file") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read file ({exc.strerror or exc})") from None


def iter_lines(path: Path) -> Iterator[str]:
    """Yield the file's lines (line endings kept) one at a time; line N is the N-th item.

    UTF-8 is decoded line by line from the binary file so a decode error points at the
    exact line; UTF-16 (only recognised by its BOM) goes through a TextIOWrapper.
    """
    path = Path(path)
    with _open_binary(path) as raw:
        head = raw.read(4)
        raw.seek(0)
        if head.startswith(_UTF16_BOMS):
            yield from _iter_utf16(path, raw)
        else:
            yield from _iter_utf8(path, raw, skip_bom=head.startswith(codecs.BOM_UTF8))


def _iter_utf8(path: Path, raw, skip_bom: bool) -> Iterator[str]:
    if skip_bom:
        raw.read(len(codecs.BOM_UTF8))
    # Splitting bytes on b"\n" is safe: no multi-byte UTF-8 sequence contains 0x0A.
    for lineno, chunk in enumerate(raw, start=1):
        if b"\x00" in chunk:
            raise _binary_error(path, lineno)
        try:
            yield chunk.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise _decode_error(path, lineno, exc.object[exc.start]) from None


def _iter_utf16(path: Path, raw) -> Iterator[str]:
    # "utf-16" reads the BOM itself and picks the byte order; newline="" keeps endings
    # untouched so the csv module can see line breaks inside quoted fields.
    text = io.TextIOWrapper(raw, encoding="utf-16", errors="strict", newline="")
    lineno = 0
    try:
        for line in text:
            lineno += 1
            if "\x00" in line:
                raise _binary_error(path, lineno)
            yield line
    except UnicodeDecodeError:
        raise InputError(
            path, lineno + 1, "not valid UTF-16 text; save the file as UTF-8 or UTF-16"
        ) from None
    finally:
        text.detach()


def read_text(path: Path) -> str:
    """The whole file as one string (only for .json arrays and Markdown, read whole)."""
    return "".join(iter_lines(path))


def empty_error(path: Path, expected: str) -> InputError:
    return InputError(path, None, f"file is empty (expected {expected})")


def show(value: object, limit: int = 60) -> str:
    """File content quoted inside an error message: errors must stay on one line, so
    control characters are escaped, and long values are cut."""
    text = str(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
