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
PROMPT_EXTRA = ("Answer the customer's actual question, end with a clear next step, and when they ask for a "
                "person, offer to connect them with a human agent and say how to reach one.")


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
