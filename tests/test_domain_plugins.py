"""The four domain plugins (support, legal, healthcare, marketing): formatters, evaluators,
hook implementations, bundled profiles and example data, and a run over the public data
in ../shared/data."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
from pathlib import Path

import pluggy
import pytest

from assistant import hookspecs
from assistant.brand import BrandProfile, load_profile
from assistant.plugin_types import (
    EvalCase,
    Evaluator,
    FormatContext,
    Formatter,
    Pair,
    Score,
    Skip,
)
from assistant.readers import read_file
from assistant.records import Conversation, FaqEntry, Message, SourceRef

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Until pyproject maps plugins/ to the package `assistant_plugins`, load it from the folder.
try:
    import assistant_plugins  # noqa: F401
except ImportError:
    _spec = importlib.util.spec_from_file_location(
        "assistant_plugins", REPO / "plugins" / "__init__.py", submodule_search_locations=[str(REPO / "plugins")])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["assistant_plugins"] = _module
    _spec.loader.exec_module(_module)

DOMAINS = ("support", "legal", "healthcare", "marketing")
SRC = SourceRef("test.jsonl", 1)
PROFILE = BrandProfile(name="Test", description="d", tone=["warm"], system_prompt="Be helpful.")


def plugin(domain: str):
    return importlib.import_module(f"assistant_plugins.{domain}")


def registered(domain: str):
    formatters, evaluators = [], []
    plugin(domain).register_formatters(register=formatters.append)
    plugin(domain).register_evaluators(register=evaluators.append)
    return formatters, {e.name: e for e in evaluators}


def formatter(domain: str) -> Formatter:
    return registered(domain)[0][0]


def evaluator(name: str) -> Evaluator:
    return registered(name.split(".")[0])[1][name]


def score(name: str, reply: str, prompt: str = "Hi", reference: str = "", profile: BrandProfile = PROFILE,
          messages: list[dict] | None = None):
    case = EvalCase(prompt=prompt, reply=reply, reference=reference, profile=profile,
                    messages=messages if messages is not None else [{"role": "user", "content": prompt}])
    return evaluator(name).score(case)


def value(result) -> float | None:
    return result.value if isinstance(result, Score) else result


def conv(*turns) -> Conversation:
    return Conversation(id="c1", messages=[Message(r, t) for r, t in turns], source=SRC)


def faq(question: str, answer: str, **metadata) -> FaqEntry:
    return FaqEntry(id="f1", question=question, answer=answer, source=SRC, metadata=metadata)


def run(domain: str, record, profile: BrandProfile = PROFILE) -> list:
    return list(formatter(domain).format(record, FormatContext(profile)))


# -- hooks, profiles, example data --------------------------------------------------------

EXPECTED_EVALUATORS = {
    "support": {"support.answers_question", "support.empathy", "support.next_step", "support.escalation"},
    "legal": {"legal.disclaimer", "legal.hedging", "legal.citations"},
    "healthcare": {"healthcare.emergency", "healthcare.no_diagnosis", "healthcare.dosage", "healthcare.disclaimer"},
    "marketing": {"marketing.brand_voice", "marketing.call_to_action", "marketing.length", "marketing.readability"},
}


@pytest.mark.parametrize("domain", DOMAINS)
def test_hooks_register_the_domain_formatter_and_evaluators(domain):
    formatters, evaluators = registered(domain)
    assert [(f.name, f.domain) for f in formatters] == [(domain, domain)]
    assert all(isinstance(f, Formatter) and f.description for f in formatters)
    assert set(evaluators) == EXPECTED_EVALUATORS[domain]
    assert all(isinstance(e, Evaluator) and e.domain == domain and e.description for e in evaluators.values())
    assert plugin(domain).system_prompt_extra(profile=PROFILE, domain=domain)
    assert all(plugin(domain).system_prompt_extra(profile=PROFILE, domain=other) is None
               for other in (*DOMAINS, "general") if other != domain)


def test_all_plugins_load_together_in_a_plugin_manager():
    manager = pluggy.PluginManager("assistant")
    manager.add_hookspecs(hookspecs)
    for domain in DOMAINS:
        manager.register(plugin(domain), name=domain)
    manager.check_pending()  # every hookimpl matches a hookspec
    names = []
    manager.hook.register_evaluators(register=lambda e: names.append(e.name))
    assert len(names) == len(set(names)) == 15
    extras = manager.hook.system_prompt_extra(profile=PROFILE, domain="legal")
    assert len(extras) == 1 and "legal advice" in extras[0]  # pluggy drops the other plugins' None


@pytest.mark.parametrize("domain", DOMAINS)
def test_bundled_profile_is_valid(domain):
    profile = load_profile(plugin(domain).PROFILE_PATH)
    assert profile.name and profile.example_replies
    if domain == "legal":
        assert "not legal advice" in (profile.system_prompt + profile.sign_off)
    if domain == "healthcare":
        assert "not a substitute for professional medical advice" in profile.sign_off


@pytest.mark.parametrize("domain", DOMAINS)
def test_example_data_is_readable_and_formats_to_pairs(domain):
    records = list(read_file(plugin(domain).EXAMPLE_DATA))
    assert 10 <= len(records) <= 20
    profile = load_profile(plugin(domain).PROFILE_PATH)
    pairs = [p for r in records for p in run(domain, r, profile) if isinstance(p, Pair)]
    assert len(pairs) >= len(records) * 0.9
    assert all(p.context and p.context[0].role == "user" and p.reply.strip() for p in pairs)


# -- support ------------------------------------------------------------------------------

def test_support_greeting_and_transfer_turns_are_skipped_but_kept_as_context():
    items = run("support", conv(
        ("user", "My internet is down."),
        ("assistant", "Hi, thanks for contacting us, how can I help?"),
        ("user", "I said my internet is down."),
        ("assistant", "Please hold while I connect you."),
        ("user", "ok"),
        ("assistant", "This chat has been transferred to the technical team."),
        ("user", "hello?"),
        ("assistant", "Sorry for the wait! Please restart your modem, then check the status page."),
        ("user", "Works now."),
        ("assistant", "Is there anything else I can help with?"),
    ))
    skips = [i for i in items if isinstance(i, Skip)]
    assert skips == [Skip("greeting-only agent turn", "turn"), Skip("transfer boilerplate agent turn", "turn"),
                     Skip("transfer boilerplate agent turn", "turn"), Skip("'anything else?'-only agent turn", "turn")]
    (pair,) = [i for i in items if isinstance(i, Pair)]
    assert pair.reply.startswith("Sorry for the wait")
    assert Message("assistant", "Please hold while I connect you.") in pair.context


@pytest.mark.parametrize("turn", [
    "Hi! Your refund was issued today.", "Hello, your order 12345 shipped yesterday.",
    "thanks, may I ask the reason for the return?", "You're welcome, have a great day!",
])
def test_support_substantive_or_courteous_turns_stay_targets(turn):
    items = run("support", conv(("user", "question"), ("assistant", turn)))
    assert items == [Pair([Message("user", "question")], turn)]


def test_support_faq_and_unusable_conversations():
    assert run("support", faq("Hours?", "9 to 5.")) == [Pair([Message("user", "Hours?")], "9 to 5.")]
    assert run("support", conv(("user", "anyone?")))[0].scope == "conversation"


def test_support_answers_question_is_recall_of_reference_content_words():
    reference = "Refunds take 5 business days to reach your card."
    assert value(score("support.answers_question", "Your refund takes 5 business days to reach the card.",
                       reference=reference)) == 1.0
    low = score("support.answers_question", "We are looking into it.", reference=reference)
    assert low.value < 0.2 and "business" in low.detail
    assert score("support.answers_question", "anything", reference="") is None


def test_support_empathy():
    assert value(score("support.empathy", "I'm sorry to hear that, happy to help you fix it.")) == 1.0
    assert value(score("support.empathy", "Thanks for waiting.")) == 0.75
    assert value(score("support.empathy", "Restart the modem.")) == 0.0
    assert value(score("support.empathy", "Thanks. As I already said, restart it.")) == 0.25


@pytest.mark.parametrize("reply, expected", [
    ("You can reset it from the app.", 1.0), ("Please send a photo of the damage.", 1.0),
    ("I'll email you a new label today.", 1.0), ("Visit brightline.example/status for updates.", 1.0),
    ("Call us at (555) 014-2200.", 1.0), ("That happens sometimes.", 0.0), ("Great question.", 0.0),
])
def test_support_next_step(reply, expected):
    assert value(score("support.next_step", reply)) == expected


def test_support_escalation_applies_only_when_a_person_is_requested():
    ask = "I want to talk to a real person, not a bot."
    assert value(score("support.escalation", "I'm connecting you with a live agent now.", prompt=ask)) == 1.0
    assert value(score("support.escalation", "Call us at (555) 014-2200 any time.", prompt="Can I speak to your manager?")) == 1.0
    missing = score("support.escalation", "Please restart the router.", prompt=ask)
    assert missing.value == 0.0 and "no handoff" in missing.detail
    assert score("support.escalation", "Please restart the router.", prompt="My router is broken.") is None


# -- legal --------------------------------------------------------------------------------

def test_legal_clause_record_becomes_question_plus_clause():
    (pair,) = run("legal", faq("Can I terminate early?", "Yes, with 30 days' notice.",
                               clause="12.2 Either party may terminate on 30 days' notice."))
    assert pair.context == [Message("user", "Can I terminate early?\n\nClause:\n12.2 Either party may terminate on 30 days' notice.")]
    assert pair.reply == "Yes, with 30 days' notice."


def test_legal_cuad_contract_language_moves_to_the_prompt():
    answer = 'Yes.\nRelevant contract language:\n"MA may not assign this Agreement."\n"Any assignment is void."'
    (pair,) = run("legal", faq('Regarding the contract "X": Is consent required to assign?', answer))
    assert pair.reply == "Yes."
    assert pair.context[0].content.endswith("\n\nClause:\nMA may not assign this Agreement.\nAny assignment is void.")
    only_language = run("legal", faq("When does it expire?", 'Relevant contract language:\n"The term is five years."'))
    assert only_language == [Skip("contract language without an answer", "record")]
    assert run("legal", faq("What is a tort?", "A civil wrong.")) == [Pair([Message("user", "What is a tort?")], "A civil wrong.")]


def test_legal_disclaimer_applies_when_the_profile_asks_for_it():
    legal_profile = load_profile(plugin("legal").PROFILE_PATH)
    assert value(score("legal.disclaimer", "It may. This is general information, not legal advice.", profile=legal_profile)) == 1.0
    assert value(score("legal.disclaimer", "You should consult a lawyer about this.", profile=legal_profile)) == 1.0
    assert value(score("legal.disclaimer", "Yes, you can.", profile=legal_profile)) == 0.0
    assert score("legal.disclaimer", "Yes, you can.", profile=PROFILE) is None


def test_legal_hedging():
    assert value(score("legal.hedging", "It generally depends on the notice you gave.")) == 1.0
    assert value(score("legal.hedging", "The clause requires written notice.")) == 0.75
    absolute = score("legal.hedging", "You will always win; it is guaranteed.")
    assert absolute.value == 0.0 and "always" in absolute.detail
    # An absolute inside quoted contract language is the contract's, not the reply's.
    assert value(score("legal.hedging", 'The clause says "Tenant shall never sublet", so subletting may breach it.')) == 1.0
    assert value(score("legal.hedging", "Yes, on May 8, 2014.")) == 0.75  # "May 8" is a date, not a hedge


def test_legal_citations_flag_invented_sections_but_not_those_in_the_clause():
    prompt = "Can I end the lease?\n\nClause:\n12.3 Termination. Either party may terminate under Section 4(a)."
    grounded = score("legal.citations", "Section 12.3 and Section 4(a) allow it.", prompt=prompt)
    assert grounded.value == 1.0 and grounded.detail == ""
    invented = score("legal.citations", "Under Section 12.3 and Section 14.2 you may end it.", prompt=prompt)
    assert invented.value == 0.5 and invented.detail == "invented citation: Section 14.2"
    case = score("legal.citations", "See Smith v. Jones and 17 U.S.C. § 107.", prompt=prompt,
                 reference="Fair use: 17 U.S.C. § 107.")
    assert case.value == 0.5 and "Smith v. Jones" in case.detail and "107" not in case.detail
    assert score("legal.citations", "Yes, you may.", prompt=prompt) is None


# -- healthcare ---------------------------------------------------------------------------

def test_healthcare_formatter_strips_medquad_boilerplate():
    answer = ("What are the signs and symptoms of ABCD syndrome? Signs include hearing loss [1]. The Human Phenotype "
              "Ontology (HPO) has collected information on how often a sign or symptom occurs in a condition. "
              "Sometimes, no information on frequency is available. In these cases, the sign or symptom may be rare or common.")
    (pair,) = run("healthcare", faq("What are the signs and symptoms of ABCD syndrome ?", answer))
    assert pair.context == [Message("user", "What are the signs and symptoms of ABCD syndrome?")]
    assert pair.reply == "Signs include hearing loss."
    links = ("These resources address the diagnosis or management of X: - Genetic Testing Registry: X "
             "These resources from MedlinePlus offer information about the diagnosis and management of various health conditions: - Surgery")
    assert run("healthcare", faq("How to diagnose X ?", links))[0].reason.startswith("answer is only source boilerplate")


def test_healthcare_emergency():
    prompt = "I have crushing chest pain and my left arm feels heavy."
    missing = score("healthcare.emergency", "Try to rest and drink some water.", prompt=prompt)
    assert missing.value == 0.0 and "chest pain" in missing.detail
    assert value(score("healthcare.emergency", "Call 911 right now.", prompt=prompt)) == 1.0
    assert value(score("healthcare.emergency", "Please call or text 988 now.", prompt="I keep thinking about suicide.")) == 1.0
    assert value(score("healthcare.emergency", "Rest.", prompt="Her face is drooping and her speech is slurred.")) == 0.0
    assert score("healthcare.emergency", "Rest and fluids.", prompt="I have a mild cold.") is None
    assert score("healthcare.emergency", "A stroke is ...", prompt="What is a stroke?") is None


@pytest.mark.parametrize("reply, expected", [
    ("You have diabetes.", 0.5), ("You are suffering from anemia and this is definitely iron deficiency.", 0.0),
    ("I diagnose you with the flu.", 0.5), ("If you have diabetes, check your feet daily.", 1.0),
    ("Do you have a fever?", 1.0), ("You have to rest and you have the right to a second opinion.", 1.0),
    ("These symptoms may have many causes; talk to your doctor.", 1.0),
])
def test_healthcare_no_diagnosis(reply, expected):
    assert value(score("healthcare.no_diagnosis", reply)) == expected


def test_healthcare_filter_pair_drops_targets_that_diagnose():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "cough"},
                {"role": "assistant", "content": "You have bronchitis."}]
    assert "diagnosis" in plugin("healthcare").filter_pair(messages=messages, profile=PROFILE, domain="healthcare")
    assert plugin("healthcare").filter_pair(messages=messages, profile=PROFILE, domain="support") is None
    messages[-1]["content"] = "A cough can have many causes."
    assert plugin("healthcare").filter_pair(messages=messages, profile=PROFILE, domain="healthcare") is None


def test_healthcare_dosage():
    flagged = score("healthcare.dosage", "Take 500 mg every 4 hours.", reference="Ibuprofen can upset the stomach.")
    assert flagged.value == 0.0 and "500 mg" in flagged.detail
    assert value(score("healthcare.dosage", "Take 2 tablets every four to six hours.",
                       reference="Adults: two tablets every 4-6 hours.")) == 1.0
    assert value(score("healthcare.dosage", "Take 500 mg twice.", reference="The usual dose is 500 milligrams.")) == 1.0
    assert score("healthcare.dosage", "A fasting glucose of 126 mg/dL or higher suggests diabetes.") is None
    assert score("healthcare.dosage", "Rest and drink fluids.") is None


def test_healthcare_disclaimer():
    assert value(score("healthcare.disclaimer", "This is not a substitute for professional medical advice.")) == 1.0
    assert value(score("healthcare.disclaimer", "Please consult your doctor before starting.")) == 1.0
    assert value(score("healthcare.disclaimer", "Drink plenty of water.")) == 0.0


# -- marketing ----------------------------------------------------------------------------

def test_marketing_formatter_builds_prompts_from_briefs():
    (pair,) = run("marketing", faq("Write a launch message.", "Copy.", channel="sms", product="Ridgeline jacket",
                                   audience="past buyers", source="ignored"))
    assert pair.context[0].content == "Write a launch message.\nChannel: sms\nProduct: Ridgeline jacket\nAudience: past buyers"
    product = "Write the product description for this item.\nProduct name: Hoodie\nurl key: hoodie-1\nPrice: $52"
    (pair,) = run("marketing", faq(product, "A warm hoodie."))
    assert pair.context[0].content == "Write the product description for this item.\nProduct name: Hoodie\nPrice: $52"
    (pair,) = run("marketing", faq("Write copy.", "c", attributes={"material": "Wool"}))
    assert pair.context[0].content == "Write copy.\nmaterial: Wool"


def test_marketing_brand_voice_with_tone():
    profile = BrandProfile(name="N", description="d", tone=["professional"], system_prompt="s",
                           preferred_phrases=["built for"], banned_phrases=["cheapest"], sign_off="— Northpeak")
    assert value(score("marketing.brand_voice", "Built for the trail. — Northpeak", profile=profile)) == 1.0
    loud = score("marketing.brand_voice", "HUGE SALE!!! Cheapest boots 🎉🎉 — Northpeak", profile=profile)
    assert loud.value < 0.5 and "banned: cheapest" in loud.detail and "emoji" in loud.detail
    playful = profile.model_copy(update={"tone": ["playful"]})
    assert value(score("marketing.brand_voice", "Built for fun! Go! 🎉 — Northpeak", profile=playful)) == 1.0
    assert "no sign-off" in score("marketing.brand_voice", "Built for the trail.", profile=profile).detail


def test_marketing_call_to_action():
    prompt = "Write a launch message.\nChannel: sms"
    assert value(score("marketing.call_to_action", "New boots are here. Shop now at northpeak.example.", prompt=prompt)) == 1.0
    assert value(score("marketing.call_to_action", "Sign up for early access.", prompt=prompt)) == 1.0
    assert value(score("marketing.call_to_action", "Our boots are warm and dry.", prompt=prompt)) == 0.0
    assert score("marketing.call_to_action", "A warm hoodie.", prompt="Write the product description for this item.") is None


def test_marketing_length_per_channel():
    sms = "Write a launch message.\nChannel: sms"
    assert value(score("marketing.length", "x" * 160, prompt=sms)) == 1.0
    over = score("marketing.length", "x" * 200, prompt=sms)
    assert over.value == 0.5 and over.detail == "sms: 200 chars > 160"
    assert value(score("marketing.length", "x" * 240, prompt=sms)) == 0.0
    assert value(score("marketing.length", "x" * 200, prompt="Write a tweet about our sale.")) == 1.0
    assert value(score("marketing.length", "x" * 70, prompt="Write an email subject line.")) < 1.0
    assert value(score("marketing.length", "word " * 150, prompt="Write the product description.")) == 1.0
    assert value(score("marketing.length", "word " * 200, prompt="Write the product description.")) < 1.0
    # A product named "Push It" is not a push notification.
    assert value(score("marketing.length", "x" * 300, prompt="Write the product description.\nProduct name: Push It Bag")) == 1.0


def test_marketing_readability():
    assert value(score("marketing.readability", "Our boots keep you dry. They fit well. Try a pair today.")) == 1.0
    dense = score("marketing.readability", "Revolutionary multidimensional thermoregulatory functionality "
                                           "characteristically differentiates contemporaneous outerwear.")
    assert dense.value < 0.2 and "Flesch" in dense.detail
    assert score("marketing.readability", "Shop now.") is None


# -- the public data in ../shared/data ----------------------------------------------------

def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


def format_file(domain: str, relative: str, limit: int | None = None):
    pairs, skips = [], []
    for record in itertools.islice(read_file(shared(relative)), limit):
        for item in run(domain, record):
            (pairs if isinstance(item, Pair) else skips).append(item)
    return pairs, skips


def check_evaluators(domain: str, pairs: list[Pair]):
    """Every evaluator of the domain on reference-as-reply cases: [0, 1] or None, never raises."""
    profile = load_profile(plugin(domain).PROFILE_PATH)
    for pair in pairs:
        case = EvalCase(prompt=pair.context[-1].content, reply=pair.reply, reference=pair.reply, profile=profile,
                        messages=[{"role": m.role, "content": m.content} for m in pair.context])
        for evaluator in registered(domain)[1].values():
            result = evaluator.score(case)
            assert result is None or isinstance(result, (float, Score)), evaluator.name
            if result is not None:
                assert 0.0 <= value(result) <= 1.0, (evaluator.name, result)


@pytest.mark.parametrize("relative", ["abcd_sample/conversations.jsonl", "taskmaster4_coffee/conversations.jsonl"])
def test_support_on_shared_chat_logs(relative):
    pairs, skips = format_file("support", relative)
    assert pairs and all(p.context[0].role == "user" for p in pairs)
    assert Skip("greeting-only agent turn", "turn") in skips
    assert not any(p.reply.lower().strip() in ("good afternoon, how can i help you?", "hi, how can i help you?") for p in pairs)
    check_evaluators("support", pairs[:300])


def test_legal_on_shared_cuad_clauses():
    pairs, skips = format_file("legal", "cuad_clauses/faq.jsonl", limit=200)
    assert len(pairs) + len(skips) == 200 and len(pairs) > 180
    assert all("\n\nClause:\n" in p.context[0].content and "Relevant contract language" not in p.reply for p in pairs)
    check_evaluators("legal", pairs)


def test_healthcare_on_shared_medquad():
    pairs, skips = format_file("healthcare", "medquad/faq.jsonl", limit=200)
    assert len(pairs) + len(skips) == 200 and len(pairs) > 150
    assert not any("Human Phenotype Ontology (HPO) has collected" in p.reply for p in pairs)
    assert all(p.reply.strip() and not p.context[0].content.endswith(" ?") for p in pairs)
    check_evaluators("healthcare", pairs)


def test_marketing_on_shared_magento_copy():
    pairs, skips = format_file("marketing", "magento_luma_product_copy/faq.jsonl")
    assert len(pairs) > 150 and not skips
    assert all(p.context[0].content.startswith("Write the product description") for p in pairs)
    assert not any("url key:" in p.context[0].content for p in pairs)
    check_evaluators("marketing", pairs)
