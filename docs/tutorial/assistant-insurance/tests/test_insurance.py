from assistant.brand import BrandProfile
from assistant.plugin_types import EvalCase, FormatContext, Pair, Skip
from assistant.records import FaqEntry, SourceRef

import assistant_insurance as plugin

PROFILE = BrandProfile(name="X", description="x", tone=["calm"], system_prompt="Be helpful.")
CONTEXT = FormatContext(profile=PROFILE)


def faq(answer="File a claim online.", **metadata):
    return FaqEntry(id="1", question="How do I claim?", answer=answer, source=SourceRef("faq.jsonl", 1), metadata=metadata)


def case(prompt, reply):
    return EvalCase(prompt=prompt, reply=reply, reference="", profile=PROFILE)


def test_registers_a_formatter_and_an_evaluator():
    formatters, evaluators = [], []
    plugin.register_formatters(register=formatters.append)
    plugin.register_evaluators(register=evaluators.append)
    assert [(f.name, f.domain) for f in formatters] == [("insurance", "insurance")]
    assert [(e.name, e.domain) for e in evaluators] == [("insurance.claim_next_step", "insurance")]


def test_formatter_puts_the_policy_type_into_the_prompt():
    (pair,) = plugin.format_record(faq(policy_type="Home"), CONTEXT)
    assert isinstance(pair, Pair)
    assert pair.context[0].content == "[home insurance] How do I claim?"
    assert pair.reply == "File a claim online."
    (skip,) = plugin.format_record(faq(), CONTEXT)
    assert skip == Skip("FAQ entry without policy_type", "record")


def test_claim_next_step_applies_only_to_claims():
    assert plugin.claim_next_step(case("When does my policy start?", "Today.")) is None
    assert plugin.claim_next_step(case("How do I claim?", "Call the claims line.")).value == 1.0
    assert plugin.claim_next_step(case("How do I claim?", "Upload two photos of the damage.")).value == 1.0
    assert plugin.claim_next_step(case("How do I claim?", "We are sorry to hear that.")).value == 0.0


def test_prompt_extra_and_filter_only_in_the_insurance_domain():
    assert plugin.system_prompt_extra(profile=PROFILE, domain="insurance") == plugin.NO_PROMISE
    assert plugin.system_prompt_extra(profile=PROFILE, domain="support") is None
    promise = [{"role": "assistant", "content": "Your claim will be approved tomorrow."}]
    careful = [{"role": "assistant", "content": "An adjuster reviews every claim."}]
    assert plugin.filter_pair(messages=promise, profile=PROFILE, domain="insurance")
    assert plugin.filter_pair(messages=careful, profile=PROFILE, domain="insurance") is None
    assert plugin.filter_pair(messages=promise, profile=PROFILE, domain="support") is None


def test_policy_numbers_are_redacted():
    from assistant.redaction import Redactor

    patterns = []
    plugin.register_pii_patterns(register=patterns.append)
    assert [p.type for p in patterns] == ["POLICY"]
    assert Redactor(patterns).redact("My policy LM-12345678 renews in May.") == "My policy [POLICY] renews in May."
