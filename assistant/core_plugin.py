"""The built-in behaviour, written as an ordinary plugin: the default formatter and the
brand-voice evaluator that every domain uses."""

from __future__ import annotations

from .hookspecs import hookimpl
from .pairs import default_format
from .plugin_types import EvalCase, Evaluator, Formatter, Score


def brand_voice(case: EvalCase) -> Score:
    """How well a reply keeps the brand's rules: no banned phrase (weight 0.4), the
    sign-off (0.4) and at least one preferred phrase (0.2), over the parts the profile sets."""
    profile, reply = case.profile, case.reply
    parts, notes = [], []
    banned = profile.banned_phrases_in(reply)
    parts.append((0.4, 0.0 if banned else 1.0))
    if banned:
        notes.append(f"banned: {', '.join(banned)}")
    if profile.sign_off:
        signed = profile.sign_off.strip().lower() in reply.lower()
        parts.append((0.4, 1.0 if signed else 0.0))
        if not signed:
            notes.append("no sign-off")
    if profile.preferred_phrases:
        used = any(p.lower() in reply.lower() for p in profile.preferred_phrases)
        parts.append((0.2, 1.0 if used else 0.0))
    total = sum(weight for weight, _ in parts)
    return Score(sum(weight * value for weight, value in parts) / total, "; ".join(notes))


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
