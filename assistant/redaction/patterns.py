"""What a PII pattern is, and the checks that tell real personal data from look-alikes.

A pattern is a regular expression that finds candidates plus an optional `check` that
confirms one (Luhn for cards, mod-97 for IBANs, digit counts and context for phones).
Regexes alone cannot tell a card number from an order number, or a phone number from a
date; the checks are what keeps precision up on real chat text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Callable

Span = tuple[int, int]


@dataclass(frozen=True)
class PiiPattern:
    """One kind of personal data to redact.

    name:     unique among registered patterns, e.g. "email" or "healthcare.mrn".
    type:     the placeholder name, upper case: "EMAIL" becomes "[EMAIL]".
    regex:    finds candidates; its group "value" (or "value2", ... in other branches of
              the regex; else the whole match) is what is redacted.
    check:    `check(text, match) -> (start, end) | None` confirms a candidate and may
              narrow its span; None keeps every match.
    needs:    a cheap pre-test of the text, so patterns that cannot match are not run at
              all: "" (always), "@", "://", "digit", or "digitsN" (a run of at least N
              digits, counting only digits split by spaces, dots, dashes, slashes and
              brackets: a phone number needs "digits7", a card "digits13").
    keywords: lower-case words one of which the text must contain (any case) for the
              regex to be tried: a label such as "dob" for a pattern whose regex is slow.
    anchor:   where a match can start (e.g. a digit at a word start): the regex is then
              tried only there, instead of at every position of the text.
    prefilter: a regex that must find something in the text before `regex` is tried at
              all; cheap when it starts with a literal character, which Python scans
              for far faster than a character class (IPv4: a dot, digits, a dot,
              digits, a dot, a digit).
    priority: where candidates of several patterns overlap, the lower priority wins.
    """

    name: str
    type: str
    regex: re.Pattern
    check: Callable[[str, re.Match], Span | None] | None = None
    needs: str = ""
    priority: int = 60
    description: str = field(default="", compare=False)
    keywords: tuple[str, ...] = ()
    anchor: re.Pattern | None = None
    prefilter: re.Pattern | None = None

    def matches(self, text: str):
        if self.anchor is None:
            yield from self.regex.finditer(text)
            return
        end = -1
        for start in self.anchor.finditer(text):
            if start.start() >= end and (match := self.regex.match(text, start.start())):
                end = match.end()
                yield match

    def __post_init__(self):
        # The groups that hold the value, looked up once: spans() runs on most messages.
        object.__setattr__(self, "_value_groups", tuple(g for g in self.regex.groupindex if g.startswith("value")))

    def spans(self, text: str):
        for match in self.matches(text):
            group = next((g for g in self._value_groups if match.group(g) is not None), 0)
            span = match.span(group)
            if self.check is not None:
                span = self.check(text, match)
            if span is not None and span[1] > span[0]:
                yield span


def digits_of(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


IBAN_LENGTHS = dict(
    (entry[:2], int(entry[2:])) for entry in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 "
        "ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 "
        "LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 "
        "QA29 RO24 RS22 SA24 SC31 SD18 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
    ).split()
)  # the SWIFT IBAN registry: country code -> IBAN length


def iban_valid(compact: str) -> bool:
    """ISO 13616: a registry country with its length, then the first four characters moved
    to the end, letters to numbers, mod 97 == 1 (creditor references "RF.." share the
    checksum but not a country)."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def context_before(text: str, start: int, width: int = 30) -> str:
    return text[max(0, start - width):start].lower()


# -- checks --------------------------------------------------------------------------------

CARD_PREFIXES = ("2", "3", "4", "5", "6")  # Mastercard 2-series, Amex/JCB/Diners, Visa, MC, Discover/UnionPay


def check_card(text: str, match: re.Match) -> Span | None:
    number = digits_of(match.group())
    if 13 <= len(number) <= 19 and number.startswith(CARD_PREFIXES) and luhn_valid(number):
        return match.span()
    return None


def check_iban(text: str, match: re.Match) -> Span | None:
    """The longest prefix of the candidate (whole groups) that is a valid IBAN: the regex
    may have run on into a following word in capitals."""
    start, value = match.start(), match.group()
    cuts = [m.start() for m in re.finditer(r" ", value)] + [len(value)]
    for cut in sorted(cuts, reverse=True):
        compact = value[:cut].replace(" ", "").upper()
        if iban_valid(compact):
            return start, start + cut
    return None


def check_ip(text: str, match: re.Match) -> Span | None:
    value = match.group()
    if ":" in value:
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return None
        if value.count(":") < 2 or not re.search(r"[0-9a-fA-F]{2}", value):
            return None
    elif re.search(r"\b(?:v|ver|version|build|firmware|release|release of|update|os|ios|android)\s*$",
                   context_before(text, match.start(), 20)):
        return None  # "version 1.2.3.4"
    return match.span()


NOT_PHONE_CONTEXT = re.compile(
    r"(?:order|invoice|inv|ref|reference|ticket|case|account|acct|tracking|confirmation|booking|"
    r"reservation|sku|serial|model|part|version|build|isbn|po|transaction|txn|id|mrn|record|code|"
    r"policy|claim|member|patient|receipt|item|batch|lot|meter|reading|rechnung|bestellung|auftrag|"
    r"kunden|vertrag|facture|commande|dossier|pedido|factura|referencia|loyalty|membership|rewards|"
    r"customer|card|voucher|coupon|gift|points)"
    r"(?:\s*(?:number|no\.?|nr\.?|num|nummer|numéro|número|#|id))?[^a-z]{0,6}$|#\s*$"
)
PHONE_CONTEXT = re.compile(
    r"call|phone|tel\b|tél|telephone|mobile?|cell|fax|whatsapp|sms|text me|ring|dial|handy|telefon|"
    r"portable|móvil|movil|teléfono|reach me|contact"
)
NUMBER_WORD = re.compile(r"\b(?:number|nummer|numéro|número|no\.)")
YEAR = re.compile(r"(?:19|20)\d\d$")


def _phone_shape_ok(value: str, groups: list[str]) -> bool:
    """False for digit groups shaped like something else: dates, years, ZIP+4, SSNs, ISBNs."""
    sizes = [len(g) for g in groups]
    plain = not value.startswith(("+", "("))
    if len(groups) == 2 and all(YEAR.match(g) for g in groups):
        return False  # 2019-2021
    if plain and YEAR.match(groups[0]) and len(digits_of(value)) <= 8:
        return False  # invoice 2024-118
    if plain and sizes in ([4, 2, 2], [2, 2, 4], [1, 2, 4], [2, 1, 4], [1, 1, 4], [5, 4], [3, 2, 4]):
        return False  # 2024-03-15, 15.03.2024, ZIP+4, SSN
    if groups[0].startswith("000"):
        return False  # product codes (NDC 0002-7510-01), never a dialled number
    if len(digits_of(value)) == 13 and digits_of(value).startswith(("978", "979")):
        return False  # ISBN-13
    if "." in value and plain and sizes != [3, 3, 4]:
        return False  # dotted numbers are versions or amounts unless 555.010.2345
    return True


def check_phone(text: str, match: re.Match) -> Span | None:
    value = match.group()
    digits = digits_of(value)
    if not 7 <= len(digits) <= 15:
        return None
    before = context_before(text, match.start())
    if NOT_PHONE_CONTEXT.search(before) and not PHONE_CONTEXT.search(before):
        return None
    groups = re.findall(r"\d+", value)
    if not _phone_shape_ok(value, groups):
        return None
    previous = before.rstrip().rsplit(None, 1)[-1] if before.strip() else ""
    if re.search(r"\d", previous) and re.search(r"[a-z]", previous) and previous[-1].isalnum():
        return None  # the tail of a code like "1Z 999 AA1 01 2345 6784"
    if len(groups) == 1 and not value.startswith("+"):
        # A bare run of digits is a phone number only in a national shape (0...) or when
        # the text says so: otherwise it is an order, account or reference number.
        said = PHONE_CONTEXT.search(before) or NUMBER_WORD.search(before)
        if not (len(digits) in (10, 11) and ((digits[0] == "0" and digits[1] != "0") or said)):
            return None
    return match.span()


def check_url(text: str, match: re.Match) -> Span | None:
    """Only URLs that carry a secret: user:password@, a token-like parameter, or a long
    random code after a reset/verify/login path segment."""
    url = match.group().rstrip(".,;:!?)]}'\"")
    scheme, rest = url.split("://", 1)
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    secret = ("@" in netloc and ":" in netloc.split("@", 1)[0]) or SECRET_PARAM.search(url) or SECRET_PATH.search(url)
    return (match.start(), match.start() + len(url)) if secret else None


SECRET_PARAM = re.compile(
    r"[?&#;](?:[\w.-]*(?:token|secret|passw(?:or)?d|api[_-]?key|apikey|signature|credential|session|auth)[\w.-]*"
    r"|key|sig|pwd|pass|sid|code|otp|jwt)=[^&#\s]{4,}",
    re.IGNORECASE,
)
SECRET_PATH = re.compile(
    r"/(?:reset|verify|verification|confirm|activate|invite|magic|login|unsubscribe|password)[\w-]*/"
    r"(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{16,}",
    re.IGNORECASE,
)


STREET_ABBREVIATIONS = {"st", "ave", "rd", "blvd", "ln", "dr", "ct", "pl", "ter", "pkwy", "hwy", "cir", "sq",
                        "cres", "n", "s", "e", "w", "apt", "ste", "fl"}  # fmt: skip


def check_address(text: str, match: re.Match) -> Span | None:
    """A full stop after a spelt-out word ("Row.") ends the sentence; after "St." it is
    part of the abbreviation."""
    start, end = match.span()
    value = match.group()
    if value.endswith(".") and re.split(r"[\s,]+", value[:-1])[-1].lower() not in STREET_ABBREVIATIONS:
        end -= 1
    return start, end
