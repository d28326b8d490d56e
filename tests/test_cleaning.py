"""Cleaning message text and spotting canned agent turns."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.cleaning import BOILERPLATE_WORDS, BUILTIN_BOILERPLATE, Boilerplate, clean_text


@pytest.mark.parametrize("raw, clean", [
    ("<p>Hello&nbsp;there,<br>your order <b>#123</b> shipped.</p><script>track()</script>",
     "Hello there,\nyour order #123 shipped."),
    ("<div>Line one</div><div>Line two</div>", "Line one\n\nLine two"),
    ("Fish &amp; chips &#8212; &lt;3", "Fish & chips — <3"),
    ("Contact <jane@example.com> if a < b, <3", "Contact <jane@example.com> if a < b, <3"),  # not HTML
    ("cafÃ© au lait â€” the best", "café au lait — the best"),  # mojibake repaired
    ("Cafe\u0301 ok", "Café ok"),  # NFC: e + combining accent -> é
    ("zero\u200bwidth\u00a0space", "zerowidth space"),
    ("  Tab\there   and  \r\n\r\n\r\n\r\nthere  ", "Tab here and\n\nthere"),
    ("bell\x07 and\x00 nul", "bell and nul"),
    ("“Curly quotes” stay", "“Curly quotes” stay"),
    ("plain ascii text", "plain ascii text"),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean
    assert clean_text(clean) == clean  # idempotent


@pytest.mark.parametrize("text, kind", [
    ("This chat has been transferred to our billing team.", "transfer notice"),
    ("Please hold while I transfer you.", "transfer notice"),
    ("You are now chatting with Sam.", "agent joined or left"),
    ("Thanks for waiting! An agent will be with you shortly.", "queue notice"),
    ("All our agents are currently busy. Your estimated wait time is 4 minutes.", "queue notice"),
    ("This is an automated reply: we are out of the office until Monday.", "auto-reply"),
    ("This conversation has ended. Please rate this chat!", "chat ended"),
    ("Your grinder ships today; I've added tracking to your account.", None),
    ("I'm transferring the refund now " + "and here is a long real answer with details " * 5, None),
])
def test_builtin_boilerplate(text, kind):
    assert Boilerplate.build().kind(text) == kind


def test_profile_boilerplate_patterns():
    boilerplate = Boilerplate.build([r"^Ticket #\d+ created\.?$"])
    assert boilerplate.kind("Ticket #4411 created.") == "profile pattern 1"
    assert boilerplate.kind("Your ticket is open.") is None


@pytest.mark.parametrize("name", list(BUILTIN_BOILERPLATE))
def test_every_text_a_canned_turn_pattern_matches_has_one_of_the_prefilter_words(name):
    """The word prefilter may only skip texts the patterns would not match anyway."""
    pattern = Boilerplate.build().patterns[name]

    @settings(max_examples=150, deadline=None)
    @given(st.from_regex(pattern))
    def check(text):
        assert pattern.search(text)
        assert any(word in text.casefold() for word in BOILERPLATE_WORDS), repr(text)

    check()
