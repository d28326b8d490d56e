"""Encoding-aware, streaming access to input files as text lines.

Input files come from spreadsheets, exports and editors, so they arrive as UTF-8 (with or
without a BOM), UTF-16 (Excel's "Unicode text", with or without a BOM) or a legacy 8-bit
Windows/Latin-1 code page. A file that is not valid UTF-8 but was plain ASCII up to its
first bad byte is read as Windows-1252 (the superset of Latin-1 that browsers also use for
both labels). A file that mixes UTF-8 with another encoding cannot be read correctly and
fails with the line of the first bad byte, never a traceback: users fix such files by hand.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _binary_error(path: Path, line: int) -> InputError:
    return InputError(
        path,
        line,
        "looks like a binary file (contains NUL bytes); expected a UTF-8, UTF-16 or Windows-1252 text file",
    )


def _decode_error(path: Path, line: int, bad: int | None) -> InputError:
    byte = f" (byte 0x{bad:02X})" if bad is not None else ""
    return InputError(
        path, line,
        f"not valid UTF-8 text{byte}, though earlier lines are UTF-8 (the file mixes encodings); "
        "save the file as UTF-8 or UTF-16",
    )


def _open_binary(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(path, None, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, None, "is a directory, expected a file") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read file ({exc.strerror or exc})") from None


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the first characters are ASCII written as UTF-16
    without a byte order mark (every other byte NUL), else None."""
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    return None


def iter_lines(path: Path) -> Iterator[str]:
    """Yield the file's lines (line endings kept) one at a time; line N is the N-th item.

    UTF-8 is decoded line by line from the binary file so a decode error points at the
    exact line; UTF-16 goes through a TextIOWrapper.
    """
    path = Path(path)
    with _open_binary(path) as raw:
        head = raw.read(4)
        raw.seek(0)
        if head.startswith(_UTF16_BOMS):
            yield from _iter_utf16(path, raw, "utf-16")
        elif utf16 := utf16_without_bom(head):
            yield from _iter_utf16(path, raw, utf16)
        else:
            yield from _iter_utf8(path, raw, skip_bom=head.startswith(codecs.BOM_UTF8))


def _latin1_for_undefined(error: UnicodeDecodeError) -> tuple[str, int]:
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("assistant-latin-1", _latin1_for_undefined)


def decode_cp1252(chunk: bytes) -> str:
    """Windows-1252, with Latin-1 for the five bytes it leaves undefined (0x81, 0x8D,
    0x8F, 0x90, 0x9D), so every byte string decodes."""
    return chunk.decode("cp1252", errors="assistant-latin-1")


_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def _physical_lines(raw) -> Iterator[bytes]:
    """Lines ending in LF, CRLF or a lone CR (old Mac and Excel for Mac files), endings
    kept, as the UTF-16 path's TextIOWrapper(newline="") splits them."""
    for chunk in raw:
        if chunk.count(b"\r") > chunk.endswith(b"\r\n"):
            yield from (part for part in _LONE_CR.split(chunk) if part)
        else:
            yield chunk


def _iter_utf8(path: Path, raw, skip_bom: bool) -> Iterator[str]:
    if skip_bom:
        raw.read(len(codecs.BOM_UTF8))
    legacy = False  # switched to Windows-1252 at the first line that is not UTF-8
    seen_utf8 = False  # a non-ASCII UTF-8 line came before: the file cannot be legacy
    # Splitting bytes on b"\n" is safe: no multi-byte UTF-8 sequence contains 0x0A.
    for lineno, chunk in enumerate(_physical_lines(raw), start=1):
        if b"\x00" in chunk:
            raise _binary_error(path, lineno)
        if legacy:
            yield decode_cp1252(chunk)
            continue
        try:
            line = chunk.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            if skip_bom or seen_utf8:
                raise _decode_error(path, lineno, exc.object[exc.start]) from None
            legacy = True
            yield decode_cp1252(chunk)
            continue
        seen_utf8 = seen_utf8 or not line.isascii()
        yield line


def _iter_utf16(path: Path, raw, encoding: str) -> Iterator[str]:
    # "utf-16" reads the BOM itself and picks the byte order; newline="" keeps endings
    # untouched so the csv module can see line breaks inside quoted fields.
    text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
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
