"""Small text helpers shared by the domain plugins: word lists, pattern matching, clamping.

Evaluators here are heuristics on purpose (no network, no models): every pattern is a
regular expression compiled case-insensitively, and the helpers return what matched so
that a score's detail can say exactly which words caused a flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.plugin_types import EvalCase

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Function words carry no answer content; dropping them keeps overlap scores about facts.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just let me more
most my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves also may might must shall us get got ok okay please hi
hello thanks thank sure yes i'm i'll i've you're you'll we're we'll it's that's there's don't can't
""".split())


def compile_all(patterns: Iterable[str]) -> list[re.Pattern]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """Lower-cased words minus stopwords, with a plural 's' dropped so 'refunds' ~ 'refund'."""
    result = set()
    for word in words(text):
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        result.add(word)
    return result


def matches(patterns: Iterable[re.Pattern], text: str) -> list[str]:
    """Every match of every pattern, as the matched text (for score details)."""
    return [m.group(0).strip() for p in patterns for m in p.finditer(text)]


def any_match(patterns: Iterable[re.Pattern], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def grounding_text(case: EvalCase) -> str:
    """Everything the reply may legitimately draw on: the prompt, the conversation it
    answered (system prompt included) and the reference answer."""
    parts = [case.prompt, case.reference]
    parts += [str(m.get("content", "")) for m in case.messages if isinstance(m, dict)]
    return "\n".join(p for p in parts if p)


def short_list(items: Iterable[str], limit: int = 3) -> str:
    """Unique items in order, at most `limit`, for a one-line score detail."""
    unique = list(dict.fromkeys(items))
    more = f" (+{len(unique) - limit} more)" if len(unique) > limit else ""
    return ", ".join(unique[:limit]) + more
