"""Cleaning message text before it becomes training data, and spotting canned turns.

`clean_text` repairs what exports and old systems do to chat text:
  - HTML from exported logs: tags stripped (block tags become line breaks), entities decoded;
  - mojibake ("cafÃ©" for "café") and other encoding damage: repaired by ftfy;
  - Unicode: NFC, control and zero-width characters removed;
  - whitespace: runs of spaces and tabs collapsed, blank-line runs cut to one, ends trimmed.
Plain ASCII text without markup (most chat messages) takes a fast path: none of the repairs
can apply to it, and prepare must keep up with millions of messages.

`Boilerplate` recognises canned turns (auto-replies, "this chat has been transferred",
queue notices). They are kept out of training: neither targets nor context.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Tags that show a message was exported as HTML. Only these count: "<3", "a < b" and
# "<jane@example.com>" are text, and a generic tag pattern would eat them.
HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|a|b|i|u|em|strong|font|ul|ol|li|table|tr|td|th|tbody|thead|h[1-6]|img|hr|"
    r"blockquote|pre|code|small|sup|sub|html|body|head|style|script|title|meta|center|section)\b[^<>]*>",
    re.IGNORECASE,
)
HTML_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
BLOCK_TAGS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "blockquote",
              "pre", "table", "ul", "ol", "section", "center", "title"}  # fmt: skip
HIDDEN_TAGS = {"script", "style", "head"}
KNOWN_TAGS = BLOCK_TAGS | HIDDEN_TAGS | {
    "span", "a", "b", "i", "u", "em", "strong", "font", "td", "th", "tbody", "thead", "img", "code",
    "small", "sup", "sub", "html", "body", "meta",
}  # fmt: skip
# Spaces other than the plain one (no-break, thin, ideographic ...) and zero-width marks.
ODD_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SPACE_RUN = re.compile(r" {2,}")
NEWLINE_RUN = re.compile(r"\n{3,}")
SPACE_AROUND_NEWLINE = re.compile(r" *\n *")


class _TextExtractor(HTMLParser):
    """HTML to text: block tags become line breaks; unknown "tags" stay as written."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag not in KNOWN_TAGS:
            self.parts.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag):
        if tag in HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag not in KNOWN_TAGS:
            self.parts.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


# A bare tag without attributes: `<p>`, `</b>`. When every "<" in a text opens one of these
# (the common case in chat exports), stripping is a split, at a tenth of HTMLParser's cost.
_BARE_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)>")
_FAST_TAGS = KNOWN_TAGS - HIDDEN_TAGS


def _strip_bare_tags(text: str) -> str | None:
    """`strip_html(text)` when the text's only markup is bare known tags, else None."""
    parts = _BARE_TAG.split(text)  # data, "/" or "", name, data, ...
    if len(parts) // 3 != text.count("<"):
        return None  # some "<" is not a bare tag: HTMLParser decides what it is
    out = [html.unescape(parts[0])]
    for i in range(1, len(parts), 3):
        name = parts[i + 1].lower()
        if name not in _FAST_TAGS:
            return None
        out += ["\n" if name in BLOCK_TAGS else "", html.unescape(parts[i + 2])]
    return "".join(out)


def strip_html(text: str) -> str:
    fast = _strip_bare_tags(text)
    if fast is not None:
        return fast
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _fix_unicode(text: str) -> str:
    import ftfy

    # Curly quotes are the brand's typography, not damage: keep them.
    return ftfy.fix_text(text, uncurl_quotes=False, unescape_html=False, normalization="NFC")


def normalise_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Again after ftfy: repairing mojibake can produce a no-break space ("Â\xa0").
    text = ZERO_WIDTH.sub("", ODD_SPACES.sub(" ", text))
    text = SPACE_AROUND_NEWLINE.sub("\n", SPACE_RUN.sub(" ", text))
    return NEWLINE_RUN.sub("\n\n", text).strip()


def _plain(text: str) -> bool:
    """ASCII with no markup, no odd spacing and no control characters (str methods only:
    this runs on every message)."""
    return (text.isascii() and "<" not in text and "&" not in text and "  " not in text
            and "\n\n\n" not in text and text == text.strip() and text.replace("\n", "").isprintable())


def clean_text(text: str) -> str:
    """The message as it should be trained on (see the module docstring). Markup goes
    first, then the characters that would hide mojibake from ftfy (controls, odd spaces,
    zero-width marks), then ftfy, which also applies NFC."""
    if _plain(text):
        return text  # the fast path: nothing below could change it
    if HTML_TAG.search(text):
        text = strip_html(text)
    elif HTML_ENTITY.search(text):
        text = html.unescape(text)
    text = ZERO_WIDTH.sub("", ODD_SPACES.sub(" ", CONTROL.sub("", text)))
    if not text.isascii():
        text = _fix_unicode(text)
    return normalise_whitespace(text)


# -- canned turns ------------------------------------------------------------------------

BUILTIN_BOILERPLATE: dict[str, str] = {
    "transfer notice": r"\b(?:this|your) (?:chat|conversation|call) (?:has been|was|is being|will be) transferred\b"
                       r"|\bplease (?:hold|wait) while I transfer you\b|\btransferring you (?:now )?to\b",
    "agent joined or left": r"\b(?:you are|you're) now (?:chatting|connected|speaking) with\b"
                            r"|\bhas (?:joined|left) the (?:chat|conversation)\b",
    "queue notice": r"\b(?:an?|the next available) (?:agent|representative|advisor|member of our team) "
                    r"will be with you\b|\ball (?:of )?our (?:agents|representatives|advisors) are (?:currently )?busy\b"
                    r"|\byour (?:estimated )?wait time is\b|\byou are number \d+ in (?:the )?queue\b",
    "auto-reply": r"\bthis is an automated (?:message|reply|response)\b|\bauto-?reply\b|\bout of (?:the )?office\b"
                  r"|\bplease do not reply to this (?:message|e-?mail)\b",
    "chat ended": r"\b(?:this|the) (?:chat|conversation|session) (?:has )?(?:ended|closed|timed out|expired)\b"
                  r"|\bplease rate (?:this|your|our) (?:chat|conversation|service)\b",
}  # fmt: skip
BOILERPLATE_MAX_WORDS = 40  # a long reply that mentions a transfer is still a real reply
# Every built-in pattern contains one of these strings (in lower case): texts without any
# skip the regexes. Each is as specific as its pattern allows ("not reply to this", not
# "reply"), since agents' real replies say "reply" and "office" all the time.
BOILERPLATE_WORDS = ("transfer", "now chatting", "now connected", "now speaking", "joined the", "left the",
                     "will be with you", "busy", "wait time is", "queue", "automated", "autoreply", "auto-reply",
                     "office", "not reply to this", "ended", "closed", "timed out", "expired", "please rate")


@dataclass
class Boilerplate:
    """Named patterns for canned agent turns: the built-in ones plus a profile's own."""

    patterns: dict[str, re.Pattern]
    profile_patterns: bool = False

    @classmethod
    def build(cls, extra: list[str] | None = None) -> "Boilerplate":
        patterns = {name: re.compile(rx, re.IGNORECASE) for name, rx in BUILTIN_BOILERPLATE.items()}
        for i, rx in enumerate(extra or [], start=1):
            patterns[f"profile pattern {i}"] = re.compile(rx, re.IGNORECASE)
        return cls(patterns, bool(extra))

    def kind(self, text: str) -> str | None:
        """The name of the canned-turn pattern `text` matches, or None for a real turn."""
        if len(text) > BOILERPLATE_MAX_WORDS * 12:
            return None
        if not self.profile_patterns:
            folded = text.casefold()
            if not any(map(folded.__contains__, BOILERPLATE_WORDS)):  # faster than a trie for these 20
                return None
        if len(text.split()) > BOILERPLATE_MAX_WORDS:  # after the keywords: most texts never get here
            return None
        return next((name for name, rx in self.patterns.items() if rx.search(text)), None)
