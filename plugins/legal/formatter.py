"""The legal formatter: clause and contract Q&A to training pairs.

A record carrying the clause it asks about (metadata key `clause`, `context`, ...) becomes
one pair: the user prompt is the question, then "Clause:" and the clause text, so the
model learns to answer from the language in front of it. CUAD-style answers ("Yes.\n
Relevant contract language:\n"...") carry the clause inside the answer: the quoted
language moves to the prompt and the short answer stays the reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from assistant.pairs import conversation_pairs, faq_pairs
from assistant.plugin_types import FormatContext, Pair, Skip
from assistant.records import Conversation, FaqEntry, Message

CLAUSE_KEYS = ("clause", "clause_text", "context", "contract_text", "excerpt")
LANGUAGE_MARKER = re.compile(r"^\s*Relevant contract language:\s*$", re.IGNORECASE | re.MULTILINE)


def clause_prompt(question: str, clause: str) -> str:
    return f"{question.strip()}\n\nClause:\n{clause.strip()}"


def split_contract_language(answer: str) -> tuple[str, str] | None:
    """(short answer, contract language) of a CUAD-style answer, or None. The quoted
    spans keep one per line; their outer quotes go, inner quotes stay."""
    parts = LANGUAGE_MARKER.split(answer, maxsplit=1)
    if len(parts) < 2:
        return None
    spans = []
    for line in parts[1].splitlines():
        line = line.strip()
        if len(line) >= 2 and line[0] == line[-1] == '"':
            line = line[1:-1].strip()
        if line:
            spans.append(line)
    return parts[0].strip(), "\n".join(spans)


def record_clause(entry: FaqEntry) -> str:
    for key in CLAUSE_KEYS:
        value = entry.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def format_legal(record: Conversation | FaqEntry, context: FormatContext) -> Iterator[Pair | Skip]:
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
        return
    answer, clause = record.answer, record_clause(record)
    contract = split_contract_language(answer)
    if contract is not None:
        answer, language = contract
        clause = clause or language
        if not answer:
            # Only the quoted language, no answer to it: a reply would just repeat the prompt.
            yield Skip("contract language without an answer", "record")
            return
    if not clause.strip() or not record.question.strip() or not answer.strip():
        yield from faq_pairs(replace(record, answer=answer))
        return
    yield Pair(context=[Message("user", clause_prompt(record.question, clause))], reply=answer)
