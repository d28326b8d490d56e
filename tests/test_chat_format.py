"""The assistant-only loss mask: the most reported silent bug in fine-tuning tools."""

import pytest

from assistant.chat_format import IGNORE_INDEX, tokenize_example

SYSTEM = {"role": "system", "content": "You are the Acme Coffee assistant."}


def labelled_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, l in zip(example.input_ids, example.labels) if l != IGNORE_INDEX])


@pytest.mark.parametrize(
    "reply",
    [
        "We open at 7 am on weekdays.\n— the Acme Coffee team",
        "Sure! ☕ Our flat white is $4.50.",
        "Line one.\n\nLine two with trailing spaces   ",
        "Ünïcödé, emoji 🎉 and CJK 咖啡 all stay intact.",
        "assistant",
    ],
)
def test_labels_are_exactly_the_reply_and_end_of_turn(tokenizer, reply):
    messages = [SYSTEM, {"role": "user", "content": "When do you open?"}, {"role": "assistant", "content": reply}]
    example = tokenize_example(tokenizer, messages)
    assert labelled_text(tokenizer, example) == reply + tokenizer.eos_token
    assert len(example.input_ids) == len(example.labels)


def test_context_turns_with_weight_zero_are_not_labelled(tokenizer):
    messages = [
        SYSTEM,
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?", "weight": 0},
        {"role": "user", "content": "Do you ship to Canada?"},
        {"role": "assistant", "content": "Yes, we ship to Canada for $12."},
    ]
    example = tokenize_example(tokenizer, messages)
    assert labelled_text(tokenizer, example) == "Yes, we ship to Canada for $12." + tokenizer.eos_token


def test_every_weighted_assistant_turn_is_labelled(tokenizer):
    messages = [
        SYSTEM,
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "first reply"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "second reply"},
    ]
    example = tokenize_example(tokenizer, messages)
    eot = tokenizer.eos_token
    assert labelled_text(tokenizer, example) == f"first reply{eot}second reply{eot}"


def test_system_and_user_text_never_labelled(tokenizer):
    messages = [SYSTEM, {"role": "user", "content": "secret user words"}, {"role": "assistant", "content": "ok"}]
    example = tokenize_example(tokenizer, messages)
    text = labelled_text(tokenizer, example)
    assert "secret" not in text and "Acme" not in text and "<|im_start|>" not in text


def test_template_that_is_not_prefix_stable_fails_loudly(tokenizer):
    import copy

    odd = copy.deepcopy(tokenizer)
    # A template that renders the message count first changes every prefix.
    odd.chat_template = "{{ messages|length }}{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}{% if add_generation_prompt %}<|im_start|>{% endif %}"
    messages = [SYSTEM, {"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
    with pytest.raises(ValueError, match="prefix-stable"):
        tokenize_example(odd, messages)
