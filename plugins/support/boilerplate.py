"""Recognising agent turns that are pure boilerplate: greetings, transfers, hold messages
and a lone "anything else?". Such turns stay in the conversation as context, but training
on them teaches the model to stall instead of answering.

How: each pattern below is cut out of the turn; if what remains is only filler words
(ok, sure, thanks, ...) or a single capitalised word (the customer's name, "Hi Maria!"),
the turn was boilerplate. Any remaining content (a question, a fact, a number) keeps it
as a target, so "Hi! Your refund was issued today." is never skipped.
"""

from __future__ import annotations

import re

from ..textutil import compile_all

# "to the billing team", "with a specialist": where a transfer goes is still boilerplate.
_TARGET = (r"(?:\s+(?:to|with)\s+(?:an?|the|our|one of our|another)?\s*(?:[\w-]+\s+){0,2}?"
           r"(?:team|department|agent|specialist|representative|colleague|supervisor|manager|member|rep|person)s?)?")

KINDS: dict[str, list[re.Pattern]] = {
    # Transfers first: "please hold while I connect you" is a transfer, not a hold.
    "transfer": compile_all([
        r"\b(?:this|the|your) (?:chat|call|conversation|case|ticket|request) (?:has been|is being|will be|was|is going to be) "
        r"(?:transferred|escalated|forwarded|routed|passed on)" + _TARGET,
        r"\b(?:please )?(?:hold|wait)(?: on)? while (?:i|we) (?:connect|transfer|put) you(?: through)?" + _TARGET,
        r"\b(?:i'll|i will|i'm going to|i am going to|let me|i'm|i am|we'll|we will) (?:now )?"
        r"(?:transfer|connect|transferring|connecting|put|putting) you(?: through)?(?: now)?" + _TARGET,
        r"\b(?:transferring|connecting) you(?: now)?" + _TARGET,
        r"\byou(?:'re| are| have been| will be| 'll be)? (?:now )?being (?:transferred|connected)" + _TARGET,
        r"\b(?:an?|the next) (?:available )?(?:agent|representative|specialist)s? will be with you"
        r"(?: (?:shortly|soon|in a moment|momentarily))?",
    ]),
    "hold": compile_all([
        r"\bplease (?:hold|wait|stay on the line|bear with me)(?: on)?(?: for)?(?: (?:a|one|just a) (?:moment|second|sec|minute))?",
        r"\b(?:one|a|just a|just one) (?:moment|second|sec|minute)(?: please)?",
        r"\bgive me (?:a|one|just a) (?:moment|second|sec|minute)",
        r"\b(?:bear with me|hold on)",
        r"\b(?:let me|i'll|i will) (?:check|look|see|verify|take a look|have a look)(?: (?:into|at|on))?"
        r"(?: (?:that|this|it))?(?: for you)?(?: real quick| quickly| now)?",
        r"\b(?:i'm|i am) (?:checking|looking)(?: (?:into|at|on))? (?:that|this|it)(?: for you)?(?: now)?",
    ]),
    "anything_else": compile_all([
        r"\b(?:is|was|would) there (?:be )?anything else(?: (?:that )?(?:i|we) (?:can|could|may) (?:help|assist|do)(?: you)?"
        r"(?: with| for you)?)?(?: today)?",
        r"\b(?:can|could|may) (?:i|we) (?:help|assist) (?:you )?with anything else(?: today)?",
        r"\bdo you (?:need|have) (?:help with )?anything else(?: today)?",
        r"\banything else(?: (?:i|we) can (?:help|assist|do)(?: you)?(?: with| for you)?)?(?: today)?",
    ]),
    "greeting": compile_all([
        r"\b(?:hi|hello|hey|hiya|greetings|good (?:morning|afternoon|evening|day))\b(?: there)?",
        r"\bwelcome to(?: [\w'&-]+){1,3}",
        r"\bmy name(?: is|'s) \w+(?: and i(?:'ll| will) be (?:helping|assisting) you(?: today)?)?",
        r"\b(?:how|what) (?:can|may|could) (?:i|we) (?:help|assist|do for)(?: you)?(?: with)?(?: today| this (?:morning|afternoon|evening))?",
        r"\bwhat (?:can|may|could) (?:i|we) get (?:for )?you(?: today)?",  # coffee-counter greeting
        r"\bhow (?:can|may) (?:i|we) be of (?:help|assistance|service)(?: (?:to you|today))?",
        r"\bhow are you(?: doing)?(?: today)?",
        r"\bwhat brings you (?:here|in) today",
    ]),
    # Courtesies alone never make a turn boilerplate (a warm reply to "thanks!" is a fine
    # target); they are only cut so that "Hi, thanks for contacting us!" counts as greeting.
    "courtesy": compile_all([
        r"\b(?:thanks?|thank you)(?: so much| very much| again)?(?: for (?:contacting|reaching out(?: to)?|chatting with|choosing|"
        r"calling|messaging|writing to|your patience|waiting|holding|your time|shopping with)(?: us| [A-Z]?\w+)?)?",
        r"\byou(?:'re| are) (?:very |most )?welcome",
        r"\b(?:my|a) pleasure(?: to help(?: you)?)?",
        r"\b(?:happy|glad) (?:i could |to )?(?:help|assist)(?: you)?(?: today)?",
        r"\bhave an? (?:great|nice|good|wonderful|lovely|fantastic) (?:day|night|evening|weekend|one|afternoon|morning)",
        r"\b(?:take care|(?:good)?bye)\b",
    ]),
}
PRIORITY = ("transfer", "hold", "anything_else", "greeting")  # the reason reported when several match

REASONS = {
    "transfer": "transfer boilerplate agent turn",
    "hold": "hold/wait boilerplate agent turn",
    "anything_else": "'anything else?'-only agent turn",
    "greeting": "greeting-only agent turn",
}

FILLER = frozenset("ok okay sure alright right great perfect yes yeah so and also well again today please "
                   "now there thanks thank you the us our team all just".split())


def boilerplate_kind(text: str) -> str | None:
    """The kind of boilerplate `text` is ("greeting", "transfer", ...), or None if it says
    anything of substance."""
    found, rest = set(), text
    for kind, patterns in KINDS.items():
        for pattern in patterns:
            rest, count = pattern.subn(" ", rest)
            if count:
                found.add(kind)
    kinds = [k for k in PRIORITY if k in found]
    if not kinds:
        return None
    leftover = [w for w in re.findall(r"[A-Za-z0-9']+", rest) if w.lower() not in FILLER]
    if len(leftover) > 1 or (leftover and not leftover[0][:1].isupper()):
        return None
    return kinds[0]
