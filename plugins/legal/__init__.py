"""Legal domain plugin: clause and contract Q&A (the clause goes into the prompt), with
evaluators for the disclaimer, hedged language and invented citations."""

from __future__ import annotations

from pathlib import Path

from assistant.hookspecs import hookimpl
from assistant.plugin_types import Evaluator, Formatter

from .evaluators import EVALUATORS
from .formatter import format_legal

DOMAIN = "legal"
PROFILE_PATH = Path(__file__).with_name("profile.yaml")
EXAMPLE_DATA = Path(__file__).with_name("example_data.jsonl")
PROMPT_EXTRA = ("Answer from the clause or contract language provided, in hedged terms (it may, generally, it "
                "depends); cite only sections that appear in the text; and remind the user that this is general "
                "information, not legal advice.")


@hookimpl
def register_formatters(register):
    register(Formatter(
        name=DOMAIN,
        description="Clause/contract Q&A: question plus the clause text as the prompt (CUAD-style 'Relevant "
                    "contract language' moves from the answer into the prompt).",
        format=format_legal,
        domain=DOMAIN,
    ))


@hookimpl
def register_evaluators(register):
    for name, description, score in EVALUATORS:
        register(Evaluator(name=f"{DOMAIN}.{name}", description=description, score=score, domain=DOMAIN))


@hookimpl
def system_prompt_extra(profile, domain):
    return PROMPT_EXTRA if domain == DOMAIN else None
