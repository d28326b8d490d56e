"""prepare's data-quality steps end to end: redaction, cleaning, canned turns, duplicates
(within the data and across train/validation), rejects, encodings, the dataset card, and
the fast token counter against the chat template."""

import json
import re

from assistant.chat_format import count_tokens
from assistant.dedup import ExactIndex, NearDuplicateIndex, normalise
from assistant.prepare import PrepareSettings, prepare
from assistant.shaping import TokenCounter
from conftest import REPO, write


def conv(i, user, reply, **extra):
    return json.dumps({"id": f"c{i}", "messages": [{"role": "user", "content": user},
                                                   {"role": "assistant", "content": reply}], **extra})


def run(tmp_path, *files, **settings):
    settings.setdefault("card", False)
    return prepare(PrepareSettings(inputs=list(files), profile="acme_coffee", out=tmp_path / "out", **settings))


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_personal_data_never_reaches_the_output_and_is_counted(tmp_path):
    data = write(tmp_path / "chats.jsonl", "\n".join([
        conv(1, "I'm jo@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958",
             "Thanks! I've noted jo@example.com; we'll call +44 20 7946 0958."),
        conv(2, "Server 192.168.1.24 says hi, SSN 123-45-6789", "Noted: 192.168.1.24."),
    ]) + "\n")
    report = run(tmp_path, data, validation_fraction=0.0)
    out = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8")
    for secret in ("jo@example.com", "4111", "7946", "192.168", "123-45-6789"):
        assert secret not in out
    first = lines(tmp_path / "out" / "train.jsonl")[0]["messages"]
    assert first[1]["content"] == "I'm [EMAIL], card [CARD], call [PHONE]"
    assert first[2]["content"].startswith("Thanks! I've noted [EMAIL]; we'll call [PHONE].")
    assert report["redactions"]["by_type"] == {"EMAIL": 2, "PHONE": 2, "IP": 2, "CARD": 1, "SSN": 1}

    plain = prepare(PrepareSettings(inputs=[data], profile="acme_coffee", out=tmp_path / "plain",
                                    validation_fraction=0.0, redact=False, card=False))
    assert plain["redactions"] == {"enabled": False, "total": 0, "by_type": {}}
    assert "jo@example.com" in (tmp_path / "plain" / "train.jsonl").read_text(encoding="utf-8")


def test_cleaning_canned_turns_and_rejects(tmp_path):
    canned = {"id": "c9", "messages": [
        {"role": "user", "content": "<p>Hi,<br>my order&nbsp;is late</p>"},
        {"role": "assistant", "content": "An agent will be with you shortly."},
        {"role": "assistant", "content": "Sorry! It ships today, cafÃ© beans included."},
    ]}
    data = write(tmp_path / "chats.jsonl", json.dumps(canned) + "\n{broken\n")
    report = run(tmp_path, data, validation_fraction=0.0)
    (example,) = [e for e in lines(tmp_path / "out" / "train.jsonl") if e["messages"][1]["content"] == "Hi,\nmy order is late"]
    assert example["messages"][1]["content"] == "Hi,\nmy order is late"
    assert example["messages"][2]["content"].startswith("Sorry! It ships today, café beans included.")
    assert len(example["messages"]) == 3  # the canned turn is neither target nor context
    rejects = lines(tmp_path / "out" / "rejects.jsonl")
    assert [(r["kind"], r["reason"]) for r in rejects] == [
        ("turn", "canned agent turn (queue notice)"), ("record", rejects[1]["reason"])]
    assert rejects[0]["source"].endswith("chats.jsonl:1") and rejects[1]["source"].endswith("chats.jsonl:2")
    assert report["cleaning"]["messages_changed"] == 2
    assert report["records_read"]["unreadable"] == 1


def test_exact_and_near_duplicates_are_removed_everywhere(tmp_path):
    items = ["grinder", "kettle", "mug set", "decaf"]
    replies = [
        "Your grinder ships on Monday; tracking follows by e-mail within the hour, and the courier will "
        "text you a delivery window on the morning it arrives.",
        "Kettles are back in stock next week, so yours leaves the roastery on Tuesday by tracked post.",
        "The mug set went out yesterday with Royal Mail and should be with you by Friday.",
        "Decaf is roasted fresh every Sunday, and we dispatch it the same afternoon.",
    ]
    records = [conv(i, f"When does my {item} ship?", reply) for i, (item, reply) in enumerate(zip(items, replies))]
    records.append(conv(10, "When does my grinder ship?", replies[0]))  # exact copy, other id
    records.append(conv(11, "when does my grinder ship??", replies[0].replace("Monday", "monday!")))  # exact after normalising
    near = [conv(100 + i, "When does my grinder ship?", replies[0].replace("hour", f"hour (ref {i})"))
            for i in range(30)]  # near twins in 30 other conversations: some land in validation
    data = write(tmp_path / "chats.jsonl", "\n".join(records + near) + "\n")
    report = run(tmp_path, data, validation_fraction=0.5)
    assert report["duplicates"]["exact_records"] == 2
    assert report["duplicates"]["near_examples"] == 30
    written = lines(tmp_path / "out" / "train.jsonl") + lines(tmp_path / "out" / "validation.jsonl")
    shipping = [e for e in written if e["messages"][1]["content"].lower().startswith("when does my")]
    assert len(shipping) == 4  # one per item: the grinder's copies and twins are gone
    assert sum("grinder" in e["messages"][1]["content"] for e in shipping) == 1
    rejects = lines(tmp_path / "out" / "rejects.jsonl")
    exact = [r for r in rejects if r["reason"] == "exact duplicate of an earlier record"]
    assert [r["duplicate_of"].rsplit(":", 1)[1] for r in exact] == ["1", "1"]


def test_no_validation_example_has_a_near_twin_in_training(tmp_path, shared_data):
    data = shared_data / "taskmaster4_coffee" / "conversations.jsonl"  # 2,000 coffee-order dialogues
    report = run(tmp_path, data, validation_fraction=0.2)
    assert report["duplicates"]["near_examples"] > 0  # ordering dialogues repeat themselves
    train = [e["messages"] for e in lines(tmp_path / "out" / "train.jsonl")]
    validation = [e["messages"] for e in lines(tmp_path / "out" / "validation.jsonl")]

    def bigrams(messages):
        last_user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        words = normalise(f"{last_user}\n{messages[-1]['content']}").split()
        return set(zip(words, words[1:])) or {tuple(words)}

    train_sets = [bigrams(m) for m in train]
    worst = max((len(v & t) / len(v | t) for v in map(bigrams, validation) for t in train_sets), default=0)
    assert worst < 0.9, f"a validation example has a training twin at Jaccard {worst:.2f}"


def test_indexes():
    exact = ExactIndex()
    assert exact.seen_before("Hello, World!", "a.jsonl", 3) is None
    assert exact.seen_before("hello world", "b.jsonl", 9) == "a.jsonl:3"
    near = NearDuplicateIndex()
    text = "Your order shipped this morning and should arrive by Friday at the latest, with tracking by e-mail."
    assert near.seen_before_many([text, text.replace("Friday", "Monday"), "Refunds take five days."]) == [
        False, True, False]
    assert near.false_positive_rate() < 1e-9


def test_near_duplicate_catch_rates_follow_the_lsh_curve():
    """Pairs of random texts (8 to 120 words) with known bigram Jaccard similarity: the
    signature agrees on a share of bins close to the similarity, and the LSH bands catch
    twins at 0.9 and up nearly always and pairs around 0.5 rarely."""
    import random

    from assistant.dedup import BANDS, ROWS

    rng, vocab = random.Random(0), [f"w{i}" for i in range(20_000)]
    near = NearDuplicateIndex()
    rows = []
    for _ in range(1500):
        a = [rng.choice(vocab) for _ in range(rng.choice([8, 15, 30, 60, 120]))]
        b = list(a)
        for _ in range(rng.randint(0, max(1, len(a) // 4))):
            b[rng.randrange(len(a))] = rng.choice(vocab)
        grams_a, grams_b = set(zip(a, a[1:])), set(zip(b, b[1:]))
        signatures = near.signatures([" ".join(a), " ".join(b)])
        agree = signatures[0] == signatures[1]
        caught = bool(agree.reshape(BANDS, ROWS).all(axis=1).any())
        rows.append((len(grams_a & grams_b) / len(grams_a | grams_b), agree.mean(), caught))
    errors = [estimate - jaccard for jaccard, estimate, _ in rows]
    assert abs(sum(errors) / len(errors)) < 0.02  # unbiased
    high = [caught for jaccard, _, caught in rows if jaccard >= 0.9]
    middle = [caught for jaccard, _, caught in rows if 0.45 <= jaccard < 0.55]
    assert len(high) > 100 and sum(high) / len(high) > 0.97
    assert len(middle) > 100 and sum(middle) / len(middle) < 0.12


def test_encodings_and_strict(tmp_path):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Customer: Un café, s'il vous plaît\nAgent: Voilà, 3 €\n".encode("cp1252"))
    report = run(tmp_path, latin, validation_fraction=0.0)
    assert report["pairs_written"]["train"] >= 1
    text = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8")
    assert "Un café, s'il vous plaît" in text and "Voilà, 3 €" in text


def test_token_counter_matches_the_chat_template(tokenizer, tmp_path, shared_data):
    counter = TokenCounter(tokenizer)
    assert counter.role_cost is not None and counter.pieces is not None
    run(tmp_path, REPO / "demo" / "data")
    examples = [e["messages"] for name in ("train.jsonl", "validation.jsonl")
                for e in lines(tmp_path / "out" / name)]
    assert examples
    for messages in examples:
        assert counter.count(messages) == count_tokens(tokenizer, messages)
    assert counter.pieces.enabled


def test_dataset_card(tmp_path):
    report = run(tmp_path, REPO / "demo" / "data", card=True)
    out = tmp_path / "out"
    card = (out / "dataset_card.md").read_text(encoding="utf-8")
    assert (out / "token_lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for section in ("## Sources", "## Counts", "## Personal data", "## Duplicates and cleaning",
                    "## Length distribution", "## Estimated training time"):
        assert section in card
    assert "chat_logs.jsonl" in card and f"**{report['pairs_written']['train']}** training" in card
    minutes = re.search(r"About \*\*([\d.]+) minutes\*\*", card)
    assert minutes and float(minutes.group(1)) > 0
    assert "tokens/s, measured on this machine" in card


def test_piece_counter_equals_the_tokenizer_on_any_text(tokenizer):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from assistant.shaping import PieceCounter

    backend = tokenizer.backend_tokenizer
    counter = PieceCounter(backend)
    assert counter.digits_apart  # SmolLM2 has no multi-digit tokens: digit runs are counted, not encoded
    texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.text(
        alphabet="ab c—“”’é€\n\t\u00a0\u2003😀1٣'", max_size=40) | st.lists(
        st.text(alphabet="abZ'’1٣é.,!—😀", max_size=6), max_size=8).map(" ".join) | st.lists(  # single spaces
        st.text(alphabet="abZ'’1٣é.,!—😀 ", max_size=12), max_size=4).map("\n".join) | st.lists(  # single newlines
        st.integers(0, 10**12).map(str) | st.sampled_from(["#", "$", "(", ")", ".", "a", "-"]), max_size=8).map(" ".join)

    @settings(max_examples=300, deadline=None)
    @given(texts)
    def same_count(text):
        if "<|" not in text:  # special tokens always go to the tokenizer
            expected = len(backend.encode(text, add_special_tokens=False).ids)
            assert counter._count(text) == counter._count(text) == expected, repr(text)  # new, then cached

    same_count()
