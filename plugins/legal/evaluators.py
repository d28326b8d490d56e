"""Legal evaluators: the "not legal advice" disclaimer, hedged language, and citations
that come from the clause or the conversation rather than from the model's imagination."""

from __future__ import annotations

import re

from assistant.brand import BrandProfile
from assistant.plugin_types import EvalCase, Score

from ..textutil import (
    any_match,
    clamp,
    compile_all,
    grounding_text,
    matches,
    short_list,
)

# -- disclaimer ---------------------------------------------------------------------------

ASKS_FOR_DISCLAIMER = re.compile(r"legal advice|not (?:a )?(?:lawyer|attorney)", re.IGNORECASE)
DISCLAIMER = compile_all([
    r"\bnot (?:legal advice|a substitute for (?:professional )?legal advice)\b",
    r"\b(?:does not|doesn't|do not|don't) constitute legal advice\b", r"\bno legal advice\b",
    r"\b(?:consult|speak (?:to|with)|talk (?:to|with)|contact) (?:a |an |your |qualified |licensed )*"
    r"(?:lawyer|attorney|solicitor|legal (?:professional|counsel|adviser|advisor))\b",
    r"\bgeneral (?:legal )?information only\b",
])


def profile_asks_for_disclaimer(profile: BrandProfile) -> bool:
    text = " ".join([profile.system_prompt, profile.sign_off, *profile.preferred_phrases])
    return bool(ASKS_FOR_DISCLAIMER.search(text))


def disclaimer(case: EvalCase) -> Score | None:
    """Only where the brand profile asks for the disclaimer (else not applicable)."""
    if not profile_asks_for_disclaimer(case.profile):
        return None
    present = any_match(DISCLAIMER, case.reply)
    return Score(1.0 if present else 0.0, "" if present else "no 'not legal advice' disclaimer")


# -- hedging ------------------------------------------------------------------------------

# Promises about outcomes are the worst kind of absolute: they count twice.
PROMISES = compile_all([r"\byou(?:'ll| will) (?:always |definitely |certainly |surely )?(?:win|lose|prevail|be awarded)\b",
                        r"\b(?:i|we) guarantee\b", r"\bcan(?:not|'t) lose\b", r"\bno chance\b"])
ABSOLUTES = compile_all([r"\balways\b", r"\bnever\b", r"\bguarantee(?:d|s)?\b", r"\bdefinitely\b", r"\bcertainly\b",
                         r"\babsolutely\b", r"\b100 ?%", r"\bwithout (?:a|any) doubt\b", r"\bno doubt\b",
                         r"\bundoubtedly\b", r"\bin all cases\b"])
# "May" followed by a number is a month ("May 8, 2014"), not a hedge.
HEDGES = compile_all([r"\bmay\b(?!\s+\d)", r"\bmight\b", r"\bcould\b", r"\bgenerally\b", r"\btypically\b",
                      r"\busually\b", r"\boften\b", r"\bdepends?\b", r"\bdepending on\b", r"\bin most cases\b",
                      r"\blikely\b", r"\bunlikely\b", r"\bit is possible\b", r"\bcan vary\b", r"\bappears? to\b",
                      r"\bsuggests?\b", r"\bin many (?:cases|jurisdictions)\b"])
QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def hedging(case: EvalCase) -> Score:
    """0.75 for neutral language, 1 with a hedge, minus 0.35 per absolute (promises of an
    outcome count twice). Quoted contract language is ignored: "shall never" in a quoted
    clause is the contract's absolute, not the reply's."""
    reply = QUOTED.sub(" ", case.reply)
    promises, absolutes, hedges = matches(PROMISES, reply), matches(ABSOLUTES, reply), matches(HEDGES, reply)
    value = clamp(0.75 + (0.25 if hedges else 0.0) - 0.35 * (len(absolutes) + 2 * len(promises)))
    flagged = promises + absolutes
    return Score(value, f"absolute: {short_list(flagged)}" if flagged else "")


# -- citations ----------------------------------------------------------------------------

NUMBER = r"\d+(?:\.\d+)*(?:\([a-z0-9]{1,4}\))*"
SECTION = re.compile(rf"(?:\b(?:sections?|secs?\.|articles?|art\.|clauses?|paragraphs?|para\.)|§§?)\s*({NUMBER})", re.IGNORECASE)
HEADING = re.compile(rf"^\s*(?:\(?)({NUMBER})[.)]?\s+[A-Z]", re.MULTILINE)  # "9.2 Termination." starting a clause
STATUTE = re.compile(r"\b(\d+)\s+(U\.?\s?S\.?\s?C\.?(?:\s?A\.?)?|C\.?\s?F\.?\s?R\.?)\s*(?:§§?|sec(?:tion|\.)?)?\s*(\d+[\w.-]*)",
                     re.IGNORECASE)
# "Smith v. Jones", "Campbell v Acuff-Rose Music": the word on each side of the "v.".
CASE = re.compile(r"\b([A-Z][\w&'-]*)\s+(?:v|vs)\.?\s+([A-Z][\w&'-]*)")


def citations(text: str) -> dict[str, str]:
    """The citations in `text`, normalised key -> as written."""
    found: dict[str, str] = {}
    for m in STATUTE.finditer(text):
        found[f"statute:{m.group(1)}{re.sub(r'[^a-z]', '', m.group(2).lower())}{m.group(3).rstrip('.').lower()}"] = m.group(0)
    text = STATUTE.sub(" ", text)  # a statute's "§ 107" is not also a contract section
    for m in SECTION.finditer(text):
        found[f"section:{m.group(1).lower()}"] = m.group(0)
    for m in CASE.finditer(text):
        found[f"case:{m.group(1).lower()} v {m.group(2).lower()}"] = m.group(0)
    return found


def grounded_keys(text: str) -> set[str]:
    keys = set(citations(text))
    keys |= {f"section:{m.group(1).lower()}" for m in HEADING.finditer(text)}
    # "Section 4(a)" is grounded by a source citing "Section 4" and the other way round.
    keys |= {k.split("(")[0] for k in keys if k.startswith("section:")}
    return keys


def citation_check(case: EvalCase) -> Score | None:
    """Every section, statute or case the reply cites must appear in the prompt, the
    conversation or the reference; the share that does is the score."""
    cited = citations(case.reply)
    if not cited:
        return None
    known = grounded_keys(grounding_text(case))
    invented = [written for key, written in cited.items() if key not in known and key.split("(")[0] not in known]
    value = 1 - len(invented) / len(cited)
    return Score(value, f"invented citation: {short_list(invented)}" if invented else "")


EVALUATORS = [
    ("disclaimer", "The 'not legal advice' disclaimer, where the brand profile asks for it.", disclaimer),
    ("hedging", "Hedged rather than absolute language (always, never, guaranteed, you will win).", hedging),
    ("citations", "Sections, statutes and cases cited in the reply appear in the prompt or reference.", citation_check),
]
