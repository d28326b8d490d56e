"""The insurance domain plugin for assistant: policy Q&A in, claim-safe replies out.

Records are FAQ entries with a `policy_type` field, e.g. one JSON Lines record:
    {"id": "home-1", "question": "...", "answer": "...", "policy_type": "home"}
"""

import re

from assistant.hookspecs import hookimpl
from assistant.pairs import conversation_pairs
from assistant.plugin_types import Evaluator, Formatter, Pair, Score, Skip
from assistant.records import Conversation, Message
from assistant.redaction import PiiPattern

DOMAIN = "insurance"
NO_PROMISE = "Never promise that a claim will be approved."


# -- the formatter: records to (context, reply) pairs --------------------------------------

def format_record(record, context):
    """FAQ entries: one pair whose prompt names the policy type. Conversations: one pair
    per agent turn, as the default formatter makes them."""
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
        return
    policy_type = str(record.metadata.get("policy_type") or "").strip().lower()
    if not policy_type:
        yield Skip("FAQ entry without policy_type", "record")
        return
    if not record.question.strip() or not record.answer.strip():
        yield Skip("FAQ entry with empty question or answer", "record")
        return
    prompt = f"[{policy_type} insurance] {record.question.strip()}"
    yield Pair(context=[Message("user", prompt)], reply=record.answer)


# -- the evaluator: does a reply to a claim question say what to do next? -----------------

ABOUT_A_CLAIM = re.compile(r"\bclaim", re.IGNORECASE)
NEXT_STEPS = {
    "file a claim online": re.compile(r"\bfile (a|your|the) claim online\b|\bonline claim form\b", re.IGNORECASE),
    "call the claims line": re.compile(r"\bcall (the|our) claims? (line|hotline|team)\b", re.IGNORECASE),
    "upload photos": re.compile(r"\bupload (\w+ )?(photos?|pictures?)\b", re.IGNORECASE),
}


def claim_next_step(case):
    """None when the prompt is not about a claim; else 1.0 when the reply names at least
    one next step (file a claim online, call the claims line, upload photos), 0.0 if not."""
    if not ABOUT_A_CLAIM.search(case.prompt):
        return None
    steps = [step for step, pattern in NEXT_STEPS.items() if pattern.search(case.reply)]
    if steps:
        return Score(1.0, "next step: " + ", ".join(steps))
    return Score(0.0, "no next step for the claimant")


# -- the hooks -----------------------------------------------------------------------------

@hookimpl
def register_formatters(register):
    register(Formatter(
        name=DOMAIN,
        description="Policy Q&A (FAQ records with a policy_type field); the policy type goes into the prompt.",
        format=format_record,
        domain=DOMAIN,
    ))


@hookimpl
def register_evaluators(register):
    register(Evaluator(
        name="insurance.claim_next_step",
        description="A reply about a claim tells the claimant what to do next.",
        score=claim_next_step,
        domain=DOMAIN,
    ))


@hookimpl
def system_prompt_extra(profile, domain):
    if domain == DOMAIN:
        return NO_PROMISE
    return None


PROMISES_APPROVAL = re.compile(
    r"\b(will|'ll)\s+(definitely\s+|certainly\s+)?(be\s+)?approved?\b|\bapproval is guaranteed\b|\bguaranteed? approval\b",
    re.IGNORECASE,
)


@hookimpl
def filter_pair(messages, profile, domain):
    if domain != DOMAIN:
        return None
    if PROMISES_APPROVAL.search(messages[-1]["content"]):
        return "reply promises that a claim will be approved"
    return None


# A policy number identifies a customer as surely as an e-mail address does.
POLICY_NUMBER = PiiPattern(
    "insurance.policy_number", "POLICY",
    re.compile(r"\bLM-?\d{8}\b"),
    needs="digit", priority=55, description="Lantern Mutual policy numbers (LM-12345678)",
)


@hookimpl
def register_pii_patterns(register):
    register(POLICY_NUMBER)
