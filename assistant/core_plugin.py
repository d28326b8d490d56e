"""The built-in behaviour, written as an ordinary plugin: the default formatter, the
brand-voice evaluator that every domain uses, and the built-in PII patterns."""

from __future__ import annotations

from .hookspecs import hookimpl
from .pairs import default_format
from .plugin_types import EvalCase, Evaluator, Formatter, Score, weighted_score
from .redaction.builtin import BUILTIN_PATTERNS


VOICE_WEIGHTS = {"banned": 0.4, "sign_off": 0.4, "preferred": 0.2}


def brand_voice(case: EvalCase) -> Score:
    """How well a reply keeps the brand's rules: no banned phrase (weight 0.4), the
    sign-off (0.4) and at least one preferred phrase (0.2), over the parts the profile sets."""
    checks = case.profile.voice_checks(case.reply)
    return weighted_score((VOICE_WEIGHTS[c.name], float(c.passed), c.note) for c in checks)


@hookimpl
def register_formatters(register):
    register(Formatter(
        name="default",
        description="One pair per agent turn of a conversation (earlier turns as context); one per FAQ entry.",
        format=default_format,
    ))


@hookimpl
def register_evaluators(register):
    register(Evaluator(
        name="brand_voice",
        description="Banned phrases absent, sign-off present, preferred phrases used (from the brand profile).",
        score=brand_voice,
    ))


@hookimpl
def register_pii_patterns(register):
    for pattern in BUILTIN_PATTERNS:
        register(pattern)
