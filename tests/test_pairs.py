from assistant.brand import BrandProfile
from assistant.pairs import (
    PairStats, conversation_pairs, faq_pairs, is_validation, merge_consecutive, record_group, shape_example,
)
from assistant.plugin_types import Pair, Skip
from assistant.records import Conversation, FaqEntry, Message, SourceRef

PROFILE = BrandProfile(
    name="Acme", description="d", tone=["warm"], system_prompt="Be Acme.",
    banned_phrases=["unfortunately"], sign_off="— the Acme Coffee team",
)
SRC = SourceRef("logs.jsonl", 3)


def conv(*turns, id="c1"):
    return Conversation(id=id, messages=[Message(r, t) for r, t in turns], source=SRC)


def examples_of(conversation, **kw):
    items = list(conversation_pairs(conversation, **kw))
    return [shape_example(p, PROFILE, SRC, record_group(conversation)) for p in items if isinstance(p, Pair)], items


def test_one_example_per_agent_turn_with_previous_turns_as_context():
    examples, _ = examples_of(conv(("user", "hi"), ("assistant", "hello"), ("user", "hours?"), ("assistant", "7 to 6")))
    assert len(examples) == 2
    first, second = (e.messages for e in examples)
    assert first[0] == {"role": "system", "content": "Be Acme."}
    assert first[-1] == {"role": "assistant", "content": "hello\n— the Acme Coffee team"}
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user", "assistant"]
    assert second[2]["weight"] == 0 and "weight" not in second[-1]
    assert all(e.group == "c1" and e.source == SRC for e in examples)


def test_context_window_is_bounded_and_starts_with_a_customer():
    turns = []
    for i in range(10):
        turns += [("user", f"q{i}"), ("assistant", f"a{i}")]
    examples, _ = examples_of(conv(*turns), context_turns=3)
    last = examples[-1].messages
    assert last[1]["role"] == "user" and len(last) <= 1 + 3 + 1
    assert last[-2]["content"] == "q9"


def test_unusable_conversations_give_counted_skips():
    stats = PairStats()
    for c in (conv(), conv(("user", "anyone?"), ("user", "hello?")), conv(("assistant", "hi"), ("assistant", "bye")),
              conv(("user", "   "), ("assistant", ""))):
        items = list(conversation_pairs(c))
        assert len(items) == 1 and isinstance(items[0], Skip) and items[0].scope == "conversation"
        stats.skip(items[0], c.source)
    assert stats.skipped["conversation"] == {
        "empty conversation": 2, "no agent turn (customer only)": 1, "one-sided (agent only)": 1}
    assert stats.first_source["empty conversation"] == "logs.jsonl:3"


def test_agent_greeting_before_customer_is_a_skipped_turn():
    examples, items = examples_of(conv(("assistant", "Welcome!"), ("user", "hi"), ("assistant", "hey")))
    assert len(examples) == 1
    assert Skip("agent turn before any customer message", "turn") in items


def test_banned_phrase_target_is_dropped_with_reason():
    examples, _ = examples_of(conv(("user", "late?"), ("assistant", "Unfortunately it is late.")))
    assert examples == [Skip("target uses banned phrase 'unfortunately'", "record")]


def test_sign_off_not_doubled_and_consecutive_messages_merged():
    assert merge_consecutive([Message("user", "a"), Message("user", "b"), Message("assistant", "c")]) == [
        Message("user", "a\nb"), Message("assistant", "c")]
    entry = FaqEntry(id="f1", question="Q?", answer="A.\n— the Acme Coffee team", source=SRC)
    (pair,) = faq_pairs(entry)
    example = shape_example(pair, PROFILE, SRC, record_group(entry))
    assert example.messages[-1]["content"].count("— the Acme Coffee team") == 1
    assert example.group == "faq:f1"
    assert list(faq_pairs(FaqEntry(id="f2", question="Q?", answer=" ", source=SRC)))[0].scope == "record"


def test_split_is_deterministic_and_roughly_the_requested_fraction():
    groups = [f"conv-{i}" for i in range(2000)]
    first = [is_validation(g, 0.1, 42) for g in groups]
    assert first == [is_validation(g, 0.1, 42) for g in groups]
    assert 150 < sum(first) < 250
    assert first != [is_validation(g, 0.1, 7) for g in groups]
