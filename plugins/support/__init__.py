"""Support domain plugin: multi-turn support logs and FAQs, with boilerplate agent turns
(greetings, transfers, hold messages) kept as context but never trained as replies."""

from __future__ import annotations

from pathlib import Path

from assistant.hookspecs import hookimpl
from assistant.plugin_types import Evaluator, Formatter

from .evaluators import EVALUATORS
from .formatter import format_support

DOMAIN = "support"
PROFILE_PATH = Path(__file__).with_name("profile.yaml")
EXAMPLE_DATA = Path(__file__).with_name("example_data.jsonl")
# Short on purpose: it goes into every training example, and on a CPU every token counts.
PROMPT_EXTRA = "Answer the question asked, give a next step, and offer a human agent when asked."


@hookimpl
def register_formatters(register):
    register(Formatter(
        name=DOMAIN,
        description="Support logs and FAQs: one pair per agent turn; greeting, transfer and hold turns skipped "
                    "as targets but kept as context.",
        format=format_support,
        domain=DOMAIN,
    ))


@hookimpl
def register_evaluators(register):
    for name, description, score in EVALUATORS:
        register(Evaluator(name=f"{DOMAIN}.{name}", description=description, score=score, domain=DOMAIN))


@hookimpl
def system_prompt_extra(profile, domain):
    return PROMPT_EXTRA if domain == DOMAIN else None
