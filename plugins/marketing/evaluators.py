"""Marketing evaluators: brand voice (with a tone check), a call to action, the channel's
length limit, and readability."""

from __future__ import annotations

import re

from assistant.plugin_types import EvalCase, Score, weighted_score

from ..textutil import any_match, clamp, compile_all, words

# -- brand voice --------------------------------------------------------------------------

EMOJI = re.compile("[\U0001F300-\U0001FAFF\U0001F1E6-\U0001F1FF\u2600-\u27BF\u2B50\u2B55]")
SHOUTING = re.compile(r"\b[A-Z]{4,}\b")  # "HUGE SALE"; four letters so USA, FAQ, XL pass
# Tone words in the profile decide how much punctuation energy fits the brand. Formal
# voices allow one "!" and no emoji or shouting; playful voices allow several.
FORMAL_TONES = {"professional", "formal", "sophisticated", "premium", "elegant", "calm", "authoritative", "luxury",
                "refined", "trustworthy", "understated", "serious"}
PLAYFUL_TONES = {"playful", "fun", "energetic", "bold", "upbeat", "casual", "quirky", "excited", "cheeky", "lively"}
LIMITS = {"formal": (1, 0, 1), "neutral": (2, 2, 2), "playful": (4, 6, 3)}  # max "!", emoji, ALL-CAPS words
# (one ALL-CAPS word is allowed even when formal: trademarks such as VELCRO and LYCRA)


def tone_style(tones: list[str]) -> str:
    tones = {t.strip().lower() for t in tones}
    if tones & FORMAL_TONES and not tones & PLAYFUL_TONES:
        return "formal"
    return "playful" if tones & PLAYFUL_TONES else "neutral"


VOICE_WEIGHTS = {"banned": 0.35, "preferred": 0.2, "sign_off": 0.2}  # + tone 0.25 below


def brand_voice(case: EvalCase) -> Score:
    """The profile's rules (`BrandProfile.voice_checks`: banned phrases absent 0.35, a
    preferred phrase used 0.2, the sign-off present 0.2) plus tone limits kept (0.25), over
    the parts the profile sets. Tone: each "!", emoji or ALL-CAPS word beyond the style's
    limit costs 0.25 of the tone part."""
    profile, reply = case.profile, case.reply
    parts = [(VOICE_WEIGHTS[c.name], float(c.passed), c.note) for c in profile.voice_checks(reply)]
    style = tone_style(profile.tone)
    counts = (reply.count("!"), len(EMOJI.findall(reply)), len(SHOUTING.findall(reply)))
    excess = [max(0, n - limit) for n, limit in zip(counts, LIMITS[style])]
    tone_notes = [f"{n} {what} for a {style} tone"
                  for what, n, over in zip(("'!'", "emoji", "ALL-CAPS words"), counts, excess) if over]
    parts.append((0.25, clamp(1 - 0.25 * sum(excess)), "; ".join(tone_notes)))
    return weighted_score(parts)


# -- call to action -----------------------------------------------------------------------

CTA = compile_all([
    r"\bshop (?:now|today|the|our|it|online)\b", r"\bbuy (?:now|today|yours|it|online)\b",
    r"\border (?:now|today|yours|online|it|by)\b", r"\bsign up\b", r"\bsubscribe\b", r"\bjoin (?:us|now|today|the|our)\b",
    r"\bvisit\b", r"\btry (?:it|them|now|today|the|our|\w+ free)\b", r"\blearn more\b", r"\bdiscover\b",
    r"\bbook (?:now|today|a|an|your)\b", r"\bget (?:yours|started|it|\d+ ?% off|the)\b", r"\bclaim (?:your|it)\b",
    r"\breserve\b", r"\bdownload\b", r"\bregister\b", r"\bcall (?:us|now|today)\b", r"\buse (?:the )?code\b",
    r"\badd (?:it )?to (?:your )?(?:cart|bag|basket)\b", r"\bgrab (?:yours|one|it)\b", r"\bexplore\b", r"\bfind (?:out|yours)\b",
    r"\b(?:tap|click) (?:here|the link|below|to)\b", r"\bdon't miss\b", r"\bpre-?order\b", r"\bstop by\b", r"\breply \w+\b",
    r"https?://\S+|\bwww\.\S+|\b\w+\.(?:com|example|shop)\b",
])
# A product page's description sits beside the Add-to-cart button: it needs no CTA.
PRODUCT_DESCRIPTION = re.compile(r"\bproduct description\b|\bdescribe (?:this|the) (?:product|item)\b", re.IGNORECASE)


def call_to_action(case: EvalCase) -> Score | None:
    """A CTA in campaign copy; not applicable to plain product descriptions."""
    if PRODUCT_DESCRIPTION.search(case.prompt) and channel_of(case.prompt) is None:
        return None
    found = any_match(CTA, case.reply)
    return Score(1.0 if found else 0.0, "" if found else "no call to action")


# -- length -------------------------------------------------------------------------------

# (limit, unit) per channel: SMS segment, tweet, subject lines shown whole in most inboxes,
# push notifications before truncation, Instagram's caption cap, ad headline (Google Ads).
CHANNEL_LIMITS = {"sms": (160, "chars"), "twitter": (280, "chars"), "email_subject": (60, "chars"),
                  "push": (120, "chars"), "instagram": (2200, "chars"), "linkedin": (3000, "chars"),
                  "ad_headline": (30, "chars"), "email": (200, "words"), "default": (150, "words")}
CHANNEL_LINE = re.compile(r"^\s*channel\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
# Channel names as written on a "Channel:" line.
CHANNEL_NAMES = {"sms": "sms", "text": "sms", "text message": "sms", "twitter": "twitter", "x": "twitter",
                 "tweet": "twitter", "push": "push", "instagram": "instagram", "ig": "instagram",
                 "linkedin": "linkedin", "email": "email", "newsletter": "email", "email subject": "email_subject",
                 "subject": "email_subject", "subject line": "email_subject", "headline": "ad_headline"}
# Words naming a channel in a free-text request, checked in order (an "email subject line"
# is not an email body). Stricter than the names above: "Push It Messenger Bag" is a product.
CHANNEL_WORDS = [
    ("email_subject", r"\bsubject lines?\b|\be-?mail subject\b"), ("sms", r"\bsms\b|\btext messages?\b"),
    ("twitter", r"\btwitter\b|\btweets?\b|\bx post\b"), ("push", r"\bpush notifications?\b"),
    ("instagram", r"\binstagram\b"), ("linkedin", r"\blinkedin\b"), ("ad_headline", r"\bad headlines?\b"),
    ("email", r"\be-?mails?\b|\bnewsletters?\b"),
]
ATTRIBUTE_LINE = re.compile(r"^[^:\n]{1,40}:.*$", re.MULTILINE)  # "Product name: ...": facts, not the request


def channel_of(prompt: str) -> str | None:
    """The channel named on a "Channel:" line, else by words in the request itself."""
    line = CHANNEL_LINE.search(prompt)
    if line:
        name = re.sub(r"[\s_/-]+", " ", line.group(1).lower()).strip()
        if name in CHANNEL_NAMES:
            return CHANNEL_NAMES[name]
        prompt = name
    else:
        prompt = ATTRIBUTE_LINE.sub(" ", prompt)
    return next((name for name, pattern in CHANNEL_WORDS if re.search(pattern, prompt, re.IGNORECASE)), None)


def length(case: EvalCase) -> Score:
    """1 within the channel's limit, falling linearly to 0 at 1.5 times the limit."""
    channel = channel_of(case.prompt) or "default"
    limit, unit = CHANNEL_LIMITS[channel]
    size = len(case.reply.strip()) if unit == "chars" else len(words(case.reply))
    if size <= limit:
        return Score(1.0)
    return Score(clamp(1 - 2 * (size - limit) / limit), f"{channel}: {size} {unit} > {limit}")


# -- readability --------------------------------------------------------------------------

_HYPHENATOR = None


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease from textstat's word and sentence counts, with syllables from
    pyphen (textstat's own fallback). textstat's English `flesch_reading_ease` needs the
    NLTK cmudict, downloaded at run time: that would need the network, so it is not used."""
    global _HYPHENATOR
    import pyphen  # a textstat dependency; imported late so loading the plugin stays fast
    import textstat

    _HYPHENATOR = _HYPHENATOR or pyphen.Pyphen(lang="en_US")
    tokens = words(text)
    syllables = sum(len(_HYPHENATOR.positions(w)) + 1 for w in tokens)
    n_words, n_sentences = max(1, textstat.lexicon_count(text)), max(1, textstat.sentence_count(text))
    return 206.835 - 1.015 * (n_words / n_sentences) - 84.6 * (syllables / max(1, len(tokens)))


def readability(case: EvalCase) -> Score | None:
    """Flesch reading ease mapped to [0, 1]: 60 ("plain English") or more is 1, 0 or less is 0."""
    if len(words(case.reply)) < 5:
        return None  # too short for a meaningful score
    ease = flesch_reading_ease(case.reply)
    return Score(clamp(ease / 60), f"Flesch reading ease {ease:.0f}" if ease < 60 else "")


EVALUATORS = [
    ("brand_voice", "Banned phrases absent, preferred phrases and sign-off present, tone limits on '!', emoji and "
                    "ALL-CAPS (from the profile's tone words).", brand_voice),
    ("call_to_action", "A call to action (shop now, sign up, book, learn more); product descriptions exempt.",
     call_to_action),
    ("length", "Within the channel's length limit (sms 160 chars, tweet 280, subject 60, push 120, ...; "
               "150 words by default).", length),
    ("readability", "Flesch reading ease (60+ scores 1).", readability),
]
