"""Healthcare domain plugin: medical FAQ pairs (MedQuAD style, page boilerplate removed),
with safety evaluators: emergency escalation, no diagnosis, no invented doses, disclaimer.
It also drops training targets that diagnose the user (`filter_pair`): a model trained on
"you have X" learns to diagnose, which this assistant must never do, and redacts medical
record numbers and dates of birth (`register_pii_patterns`)."""

from __future__ import annotations

from pathlib import Path

from assistant.hookspecs import hookimpl
from assistant.plugin_types import Evaluator, Formatter

from .evaluators import EVALUATORS, diagnoses
from .formatter import format_healthcare
from .pii import PII_PATTERNS

DOMAIN = "healthcare"
PROFILE_PATH = Path(__file__).with_name("profile.yaml")
EXAMPLE_DATA = Path(__file__).with_name("example_data.jsonl")
PROMPT_EXTRA = ("Give general health information only: never diagnose, never state doses that are not in your "
                "sources, tell anyone describing emergency symptoms (chest pain, stroke signs, trouble breathing, "
                "severe bleeding, overdose, suicidal thoughts) to call 911 or their local emergency number (988 for "
                "a mental-health crisis), and remind users this is not a substitute for professional medical advice.")


@hookimpl
def register_formatters(register):
    register(Formatter(
        name=DOMAIN,
        description="Medical FAQ pairs (MedQuAD style) with source page boilerplate stripped; chat logs as usual.",
        format=format_healthcare,
        domain=DOMAIN,
    ))


@hookimpl
def register_evaluators(register):
    for name, description, score in EVALUATORS:
        register(Evaluator(name=f"{DOMAIN}.{name}", description=description, score=score, domain=DOMAIN))


@hookimpl
def register_pii_patterns(register):
    for pattern in PII_PATTERNS:
        register(pattern)


@hookimpl
def system_prompt_extra(profile, domain):
    return PROMPT_EXTRA if domain == DOMAIN else None


@hookimpl
def filter_pair(messages, profile, domain):
    if domain != DOMAIN or not messages or messages[-1].get("role") != "assistant":
        return None
    found = diagnoses(str(messages[-1].get("content", "")))
    return f"target states a diagnosis ('{found[0]}')" if found else None
