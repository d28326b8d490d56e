"""Markdown FAQs: each question is a heading or a wholly bold line, the answer is the
text below it up to the next question.

A heading without body text directly followed by a deeper heading ("# Acme FAQ" then
"## Shipping") is a section title, not a question. Lines inside fenced code blocks are
always answer text, so a "# comment" in a shell example does not start a question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..records import FaqEntry, SourceRef
from .options import ReadOptions
from .text import empty_error, iter_lines, show

EXPECTED = "questions as Markdown headings or **bold** lines, each followed by its answer"
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
BOLD = re.compile(r"^(\*\*|__)(.+)\1$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
BOLD_LEVEL = 7  # a bold question sits below every heading level


@dataclass
class _Block:
    level: int
    title: str
    line: int
    body: list[str] = field(default_factory=list)  # "" marks a paragraph break

    def answer(self) -> str:
        return "\n".join(self.body).strip()


def _question(line: str) -> tuple[int, str] | None:
    """(level, text) when the line is a heading or a wholly bold line."""
    heading = HEADING.match(line)
    if heading:
        return len(heading.group(1)), (heading.group(2) or "").strip()
    bold = BOLD.match(line.strip())
    if bold:
        marker, inner = bold.group(1), bold.group(2).strip()
        # "**a** and **b**" is not wholly bold; "*****" is not text at all.
        if marker not in inner and inner.strip("*_ "):
            return BOLD_LEVEL, inner
    return None


def _blocks(path: Path) -> Iterator[_Block]:
    block: _Block | None = None  # text before the first question is a preamble: dropped
    fence: str | None = None
    for lineno, raw in enumerate(iter_lines(path), start=1):
        line = raw.rstrip("\r\n").rstrip()
        opener = FENCE.match(line)
        if fence is not None or opener:
            if opener and fence is None:
                fence = opener.group(1)[0] * 3
            elif opener and opener.group(1).startswith(fence):
                fence = None
            if block is not None:
                block.body.append(line)
            continue
        found = _question(line)
        if found and found[1]:
            if block is not None:
                yield block
            block = _Block(found[0], found[1], lineno)
        elif block is not None:
            _append_body(block, "" if THEMATIC_BREAK.match(line) else line)
    if block is not None:
        yield block


def _append_body(block: _Block, line: str) -> None:
    """Collapse runs of blank lines so paragraphs are joined by exactly one blank line."""
    if line.strip() or (block.body and block.body[-1] != ""):
        block.body.append(line if line.strip() else "")


def read_markdown_faq(path: Path, options: ReadOptions) -> Iterator[FaqEntry]:
    blocks = _blocks(path)
    current = next(blocks, None)
    if current is None:
        if not any(line.strip() for line in iter_lines(path)):
            raise empty_error(path, EXPECTED)
        raise InputError(path, None, f"no questions found (expected {EXPECTED})")
    sections: list[tuple[int, str]] = []  # enclosing section titles, outermost first
    while current is not None:
        following = next(blocks, None)
        deeper_next = following is not None and following.level > current.level
        answer = current.answer()
        while sections and sections[-1][0] >= current.level:
            sections.pop()
        if deeper_next and (not answer or not current.title.endswith("?")):
            # A title over deeper questions; any text under it is an intro, not an answer.
            sections.append((current.level, current.title))
        elif not answer:
            raise InputError(path, current.line, f"question without an answer: '{show(current.title)}'")
        else:
            metadata = {"section": " / ".join(t for _, t in sections)} if sections else {}
            yield FaqEntry(f"{path.stem}:{current.line}", current.title, answer,
                           SourceRef(str(path), current.line), metadata)
        current = following
