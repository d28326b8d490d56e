"""One regex that finds any of many fixed strings, built as a trie.

Used where a text is tested for dozens of keywords before a slow regex is tried (the
redaction patterns' labels). `any(word in text for word in words)` scans the
text once per word; a plain alternation `a|b|c` tries every word at every position. A
trie-shaped regex (`b(?:irth|o(?:rn|x))`) tries each position once, letter by letter:
on chat text it takes about half the time of the `in` loop for 30 words (for 20 words
that start with common letters, the loop is still faster). Python's `re`
does not build such a trie itself, and no well-kept library does it for `re`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def literal_trie(words: Iterable[str]) -> re.Pattern:
    """A compiled regex matching any of `words` (as plain strings) anywhere in a text."""
    trie: dict = {}
    for word in words:
        if not word:
            raise ValueError("literal_trie: an empty word would match everywhere")
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    if not trie:
        raise ValueError("literal_trie: no words")
    return re.compile(_alternatives(trie))


def _alternatives(node: dict) -> str:
    branches = [re.escape(char) + _alternatives(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # Where a word ends here and longer ones go on, the rest is optional: `box(?:es)?`.
    return f"(?:{body})?" if "" in node else body
