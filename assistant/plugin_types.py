"""The objects plugins register: formatters (records to training pairs) and evaluators
(score one reply). Plain dataclasses, so a plugin needs nothing but this module and
`assistant.hookspecs.hookimpl`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal, Union

from .brand import BrandProfile
from .records import Conversation, FaqEntry, Message


@dataclass(frozen=True)
class FormatContext:
    """What a formatter may use besides the record itself."""

    profile: BrandProfile
    context_turns: int = 6  # earlier messages to keep before a reply


@dataclass
class Pair:
    """One training pair before brand shaping: the conversation so far (starting with a
    user message, ending with the user message being answered) and the reply to learn.
    The host adds the system prompt and sign-off and applies banned phrases and filters."""

    context: list[Message]
    reply: str


@dataclass(frozen=True)
class Skip:
    """A formatter's reason for not making a pair; counted in the prepare report.
    scope: "conversation" (the whole record), "turn" (one agent turn) or "record"."""

    reason: str
    scope: Literal["conversation", "turn", "record"] = "turn"


FormatFunction = Callable[[Union[Conversation, FaqEntry], FormatContext], Iterable[Union[Pair, Skip]]]


@dataclass(frozen=True)
class Formatter:
    name: str  # unique, lowercase, e.g. "support"; chosen with `prepare --formatter`
    description: str
    format: FormatFunction
    domain: str = "general"  # the domain whose evaluators and prompt extras go with it


@dataclass(frozen=True)
class EvalCase:
    """One reply to score."""

    prompt: str  # the last user message
    reply: str  # the model's reply
    reference: str  # the reference answer
    profile: BrandProfile
    messages: list[dict] = field(default_factory=list)  # system + history the reply answered


@dataclass(frozen=True)
class Score:
    """A score in [0, 1] (higher is better) with an optional note for the report."""

    value: float
    detail: str = ""


def weighted_score(parts: Iterable[tuple[float, float, str]]) -> Score:
    """Combine (weight, value in [0, 1], note) parts into one Score: the weighted mean,
    with the non-empty notes joined as its detail."""
    parts = list(parts)
    total = sum(weight for weight, _, _ in parts)
    value = sum(weight * v for weight, v, _ in parts) / total if total else 0.0
    return Score(value, "; ".join(note for _, _, note in parts if note))


ScoreFunction = Callable[[EvalCase], Union[float, Score, None]]  # None: not applicable


@dataclass(frozen=True)
class Evaluator:
    name: str  # unique, e.g. "legal.disclaimer"
    description: str
    score: ScoreFunction
    domain: str = "general"  # "general" evaluators run for every domain
