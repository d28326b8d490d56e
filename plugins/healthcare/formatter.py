"""The healthcare formatter: medical FAQ pairs (MedQuAD style) and clinic chat logs.

MedQuAD answers carry text written for the web page they came from: a paragraph about how
the Human Phenotype Ontology counts symptom frequency, "click on the link", lists of
MedlinePlus resources, reference markers like "[1]". A chat reply should not learn those,
so they are cut; an answer that was nothing but such text is skipped with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from assistant.pairs import conversation_pairs, faq_pairs
from assistant.plugin_types import FormatContext, Pair, Skip
from assistant.records import Conversation, FaqEntry

from ..textutil import content_words

DOTALL = re.IGNORECASE | re.DOTALL
# Each pattern is one piece of page furniture seen in MedQuAD (GARD, GHR, CancerGov).
BOILERPLATE = [
    re.compile(r"-?\s*The Human Phenotype Ontology \(HPO\) has collected information on how often.*?may be rare or common\.?", DOTALL),
    re.compile(r"If the information is available, the table below includes how often the symptom is seen in people "
               r"with this condition\.\s*", re.IGNORECASE),
    re.compile(r"You can use the MedlinePlus Medical Dictionary to look up the definitions for these medical terms\.\s*", re.IGNORECASE),
    re.compile(r"Signs and Symptoms Approximate number of patients \(when available\)\s*", re.IGNORECASE),
    # Link lists ("These resources address the diagnosis or management of X: - Genetic
    # Testing Registry: ...") run to the end of the answer.
    re.compile(r"These resources (?:address|from MedlinePlus offer information about) the (?:diagnosis|management).*$", DOTALL),
    re.compile(r"Please click on the link to access this resource\.?", re.IGNORECASE),
    re.compile(r"Click here to view [^.]*\.", re.IGNORECASE),
    re.compile(r"These have been retrieved from NCI's listing of clinical trials\.?", re.IGNORECASE),
    re.compile(r"\s*\[\d+(?:\s*[,-]\s*\d+)*\]"),  # reference markers "[1] [2]"
]
SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")  # MedQuAD questions end with " ?"
LEADING_QUESTION = re.compile(r"^\s*([^.?!\n]{3,200}\?)\s+(?=\S)")


def clean_question(question: str) -> str:
    return SPACE_BEFORE_PUNCT.sub(r"\1", question).strip()


def clean_answer(answer: str, question: str = "") -> str:
    """The answer without page boilerplate, and without a first sentence that only
    repeats the question ("What causes X? X is caused by ...")."""
    for pattern in BOILERPLATE:
        answer = pattern.sub("", answer)
    lead = LEADING_QUESTION.match(answer)
    if lead and question:
        asked, repeated = content_words(question), content_words(lead.group(1))
        if repeated and len(asked & repeated) >= 0.6 * len(repeated):
            answer = answer[lead.end():]
    answer = re.sub(r"[ \t]{2,}", " ", answer)
    return re.sub(r"\s+\n|\n\s+(?=\n)", "\n", answer).strip()


def format_healthcare(record: Conversation | FaqEntry, context: FormatContext) -> Iterator[Pair | Skip]:
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
        return
    question = clean_question(record.question)
    answer = clean_answer(record.answer, question)
    if record.answer.strip() and not answer:
        yield Skip("answer is only source boilerplate (links, resource lists)", "record")
        return
    yield from faq_pairs(replace(record, question=question, answer=answer))
