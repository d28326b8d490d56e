"""The trie regex finds a word exactly when one of the words is in the text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.wordtrie import literal_trie

letters = st.text(alphabet="ab.c é(*", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(letters, min_size=1, max_size=6), st.text(alphabet="ab.c é(*x", max_size=16))
def test_finds_a_word_exactly_when_one_is_in_the_text(words, text):
    assert (literal_trie(words).search(text) is not None) == any(word in text for word in words)


def test_prefixes_of_longer_words_still_match():
    trie = literal_trie(["box", "boxes", "b"])
    assert trie.pattern == "b(?:ox(?:es)?)?"
    assert trie.search("a b") and trie.search("boxes")


def test_empty_words_are_refused():
    with pytest.raises(ValueError):
        literal_trie([""])
    with pytest.raises(ValueError):
        literal_trie([])
