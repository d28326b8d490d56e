"""Support evaluators: does the reply answer, with empathy, a next step and, when the
customer asks for a person, a way to reach one."""

from __future__ import annotations

from assistant.plugin_types import EvalCase, Score

from ..textutil import any_match, clamp, compile_all, content_words, matches, short_list


def answers_question(case: EvalCase) -> Score | None:
    """Recall of the reference's content words in the reply: the facts a good answer
    must carry (order numbers, days, product names), ignoring function words."""
    wanted = content_words(case.reference)
    if not wanted:
        return None  # no reference answer to compare with
    missing = sorted(wanted - content_words(case.reply))
    value = 1 - len(missing) / len(wanted)
    return Score(value, f"missing: {short_list(missing, 5)}" if missing else "")


# Politeness and empathy cues; the list is short on purpose: each one is unambiguous.
EMPATHY = compile_all([
    r"\bthanks?\b|\bthank you\b", r"\bsorry (?:to hear|about|for|that)\b", r"\bapologi[sz]e\b",
    r"\b(?:happy|glad|pleased) to (?:help|assist)\b", r"\bi (?:completely |totally |can )?understand\b",
    r"\bi can see (?:how|why)\b", r"\bthat sounds (?:frustrating|annoying|stressful|difficult)\b",
    r"\bno worries\b", r"\b(?:i|we) appreciate\b", r"\bmy pleasure\b", r"\bof course\b", r"\bi hear you\b",
])
# Curt or blaming phrases undo the politeness of any "thanks" around them.
CURT = compile_all([
    r"\bas i (?:already |just )?(?:said|mentioned|explained)\b", r"\bcalm down\b", r"\bnot (?:my|our) problem\b",
    r"\byou should have\b", r"\bthere(?:'s| is) nothing (?:i|we) can do\b", r"\bthat's (?:just )?(?:the|our) policy\b",
])


def empathy(case: EvalCase) -> Score:
    """One empathy cue scores 0.75, two or more 1; each curt phrase costs 0.5."""
    cues = matches(EMPATHY, case.reply)
    curt = matches(CURT, case.reply)
    value = clamp({0: 0.0, 1: 0.75}.get(len(cues), 1.0) - 0.5 * len(curt))
    notes = (["no politeness or empathy cue"] if not cues else []) + ([f"curt: {short_list(curt)}"] if curt else [])
    return Score(value, "; ".join(notes))


# A next step: something the customer can do or will receive. Imperatives are matched at
# the start of a sentence only, so "we visit stores" is not mistaken for "Visit ...".
NEXT_STEP = compile_all([
    r"(?:^|[.!?:]\s+|\n\s*(?:[-*]|\d+[.)])?\s*)(?:please\s+)?(?:go to|click|tap|visit|call|email|send|reply|open|select|"
    r"choose|check|log in|sign in|restart|reset|update|enter|contact|text|follow|use|try|download|return|unplug)\b",
    r"\bplease (?:send|provide|reply|share|confirm|check|visit|call|email|click|go|try|let us know|contact|keep)\b",
    r"\byou (?:can|could|may|will need to|'ll need to|need to|should)\b", r"\byou'll (?:need|want) to\b",
    r"\b(?:i|we)(?:'ll| will| am going to| are going to|'m going to) (?!be happy|be glad)\w+",
    r"\bnext step\b", r"https?://\S+|\bwww\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b", r"\b\S+\.(?:com|org|net|example)(?:/\S*)?\b",
    r"\(?\b\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b", r"\bwithin \d+ (?:hours?|days?|business days?)\b",
])


def next_step(case: EvalCase) -> Score:
    found = any_match(NEXT_STEP, case.reply)
    return Score(1.0 if found else 0.0, "" if found else "no clear next step")


# The customer asks for a person rather than the assistant.
WANTS_HUMAN = compile_all([
    r"\b(?:speak|talk|chat)(?:ing)? (?:to|with) (?:a |an |the |your |some )?(?:real |live |actual )?"
    r"(?:human|person|manager|supervisor|agent|representative|rep|someone|somebody|people)\b",
    r"\b(?:real|live|actual) (?:person|human|agent)\b", r"\bhuman being\b",
    r"\b(?:your|a|the) (?:manager|supervisor)\b", r"\bescalate\b",
    r"\b(?:transfer|connect) me\b", r"\b(?:not|no) (?:a |another )?(?:bot|robot|machine)\b",
])
# The reply offers a way to reach one: a handoff, a phone number, a named contact route.
HANDOFF = compile_all([
    r"\b(?:transfer|connect|put) you\b", r"\b(?:transferring|connecting) you\b", r"\bescalat\w*\b",
    r"\b(?:human|live|real) (?:agent|person|representative)\b",
    r"\b(?:manager|supervisor|specialist|colleague|team member|agent|representative) (?:will|can|to) (?:call|contact|reach|help|"
    r"get back|be with|join|take)\b",
    r"\b(?:call|phone|ring) (?:us|our|the)\b", r"\(?\b\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b", r"\b1-8\d\d-\S+",
    r"\b(?:reach|contact) (?:us|our team|a person|someone|the team)\b", r"\bcall ?back\b", r"\b[\w.+-]+@[\w-]+\.[\w.]+\b",
])


def escalation(case: EvalCase) -> Score | None:
    """Only for a customer asking for a person: the reply must offer a way to reach one."""
    if not any_match(WANTS_HUMAN, case.prompt):
        return None
    offered = any_match(HANDOFF, case.reply)
    return Score(1.0 if offered else 0.0, "" if offered else "customer asked for a person; no handoff offered")


EVALUATORS = [
    ("answers_question", "Recall of the reference answer's content words in the reply.", answers_question),
    ("empathy", "Politeness and empathy cues (thanks, sorry to hear, happy to help); curt phrases penalised.", empathy),
    ("next_step", "A clear next step: an instruction, link, contact, 'you can...', 'I'll...'.", next_step),
    ("escalation", "When the customer asks for a person, the reply offers a handoff or contact (else not applicable).",
     escalation),
]
