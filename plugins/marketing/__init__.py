"""Marketing domain plugin: product briefs and campaign requests to copy, with evaluators
for brand voice and tone, a call to action, channel length limits and readability."""

from __future__ import annotations

from pathlib import Path

from assistant.hookspecs import hookimpl
from assistant.plugin_types import Evaluator, Formatter

from .evaluators import EVALUATORS
from .formatter import format_marketing

DOMAIN = "marketing"
PROFILE_PATH = Path(__file__).with_name("profile.yaml")
EXAMPLE_DATA = Path(__file__).with_name("example_data.jsonl")
PROMPT_EXTRA = ("Write copy that fits the channel's length limit (SMS 160 characters, X/Twitter 280, email subject "
                "60, push 120), uses only the facts in the brief, and ends campaign messages with one clear call "
                "to action.")


@hookimpl
def register_formatters(register):
    register(Formatter(
        name=DOMAIN,
        description="Product briefs (attributes to copy) and campaign requests (channel, product, audience, brief "
                    "keys become the prompt).",
        format=format_marketing,
        domain=DOMAIN,
    ))


@hookimpl
def register_evaluators(register):
    for name, description, score in EVALUATORS:
        register(Evaluator(name=f"{DOMAIN}.{name}", description=description, score=score, domain=DOMAIN))


@hookimpl
def system_prompt_extra(profile, domain):
    return PROMPT_EXTRA if domain == DOMAIN else None
