from assistant.brand import BrandProfile
from assistant.pairs import PairStats, conversation_examples, faq_example, is_validation, merge_consecutive
from assistant.records import Conversation, FaqEntry, Message, SourceRef

PROFILE = BrandProfile(
    name="Acme", description="d", tone=["warm"], system_prompt="Be Acme.",
    banned_phrases=["unfortunately"], sign_off="— the Acme Coffee team",
)
SRC = SourceRef("logs.jsonl", 3)


def conv(*turns, id="c1"):
    return Conversation(id=id, messages=[Message(r, t) for r, t in turns], source=SRC)


def test_one_example_per_agent_turn_with_previous_turns_as_context():
    stats = PairStats()
    examples = list(conversation_examples(
        conv(("user", "hi"), ("assistant", "hello"), ("user", "hours?"), ("assistant", "7 to 6")), PROFILE, stats))
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
    examples = list(conversation_examples(conv(*turns), PROFILE, PairStats(), context_turns=3))
    last = examples[-1].messages
    assert [m["content"] for m in last[1:-1]] == ["q9"] or last[1]["role"] == "user"
    assert len(last) <= 1 + 3 + 1


def test_unusable_conversations_are_counted_not_dropped_silently():
    stats = PairStats()
    for c in (conv(), conv(("user", "anyone?"), ("user", "hello?")), conv(("assistant", "hi"), ("assistant", "bye")),
              conv(("user", "   "), ("assistant", ""))):
        assert list(conversation_examples(c, PROFILE, stats)) == []
    assert stats.conversations == 4
    assert stats.skipped_conversations == {
        "empty conversation": 2, "no agent turn (customer only)": 1, "one-sided (agent only)": 1}
    assert stats.first_source["empty conversation"] == "logs.jsonl:3"


def test_agent_greeting_before_customer_is_counted_as_skipped_turn():
    stats = PairStats()
    examples = list(conversation_examples(conv(("assistant", "Welcome!"), ("user", "hi"), ("assistant", "hey")), PROFILE, stats))
    assert len(examples) == 1
    assert stats.skipped_turns["agent turn before any customer message"] == 1


def test_banned_phrase_target_is_dropped_with_reason():
    stats = PairStats()
    examples = list(conversation_examples(conv(("user", "late?"), ("assistant", "Unfortunately it is late.")), PROFILE, stats))
    assert examples == []
    assert stats.skipped_examples["target uses banned phrase 'unfortunately'"] == 1


def test_sign_off_not_doubled_and_consecutive_messages_merged():
    assert merge_consecutive([Message("user", "a"), Message("user", "b"), Message("assistant", "c")]) == [
        Message("user", "a\nb"), Message("assistant", "c")]
    entry = FaqEntry(id="f1", question="Q?", answer="A.\n— the Acme Coffee team", source=SRC)
    example = faq_example(entry, PROFILE, PairStats())
    assert example.messages[-1]["content"].count("— the Acme Coffee team") == 1
    assert example.group == "faq:f1"


def test_split_is_deterministic_and_roughly_the_requested_fraction():
    groups = [f"conv-{i}" for i in range(2000)]
    first = [is_validation(g, 0.1, 42) for g in groups]
    assert first == [is_validation(g, 0.1, 42) for g in groups]
    assert 150 < sum(first) < 250
    assert first != [is_validation(g, 0.1, 7) for g in groups]
