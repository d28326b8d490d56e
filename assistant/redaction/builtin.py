"""The built-in PII patterns (the core plugin registers them; plugins and brand profiles
add more). Each regex errs towards finding candidates; its check in `patterns.py` decides."""

from __future__ import annotations

import re

from .patterns import PiiPattern, check_address, check_card, check_iban, check_ip, check_phone, check_url

# Where number-first patterns can begin: anchors are cheap scans that rule out most numbers
# (order numbers, amounts) before the full regex is tried. Each starts with a digit and
# only then looks behind it ("not after a letter, digit or dot"): a regex that starts with
# a character class is scanned for far faster than one that starts with a lookbehind.
_ADDRESS_START = re.compile(
    r"\d(?<![\w.]\d)\d{0,5}[A-Za-z]?(?:-\d{1,4})?,?\s+(?=[A-Z]|\d{1,3}(?:st|nd|rd|th)\b|(?:bis|ter|rue|avenue|boulevard|bd|"
    r"place|chemin|allée|impasse)\b)"
)
_IPV4_START = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d")

EMAIL = PiiPattern(
    "email", "EMAIL",
    re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})(?![\w-])"),
    needs="@", priority=20, description="e-mail addresses",
)

URL_WITH_SECRET = PiiPattern(
    "url", "URL",
    re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s<>\"'`]+", re.IGNORECASE),
    check=check_url, needs="://", priority=10,
    description="URLs with credentials or secret tokens (user:pass@, ?token=, reset codes)",
)

IBAN = PiiPattern(
    "iban", "IBAN",
    re.compile(r"(?<![\w-])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?(?![\w-])"),
    check=check_iban, needs="digits10", priority=30, description="IBANs (mod-97 checked)",
)

CARD = PiiPattern(
    "card", "CARD",
    re.compile(r"(?<![\w,-])(?<!\d\.)\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)"),
    check=check_card, needs="digits13", priority=40, description="payment card numbers (Luhn checked)",
)

SSN = PiiPattern(
    "ssn", "SSN",
    re.compile(
        r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])"
        r"|(?i:\b(?:ssn|social security(?: number| no\.?| #)?)\b[^\d\n]{0,20})"
        r"(?P<value>(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})\b"
    ),
    needs="digits9", priority=50, description="US social security numbers",
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = PiiPattern(
    "ip", "IP",
    re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"),
    check=check_ip, needs="digits4", anchor=_IPV4_START, prefilter=re.compile(r"\.\d{1,3}\.\d{1,3}\.\d"),
    priority=70, description="IPv4 addresses",
)
IPV6 = PiiPattern(
    "ipv6", "IP",
    re.compile(
        rf"(?<![\w:])(?:[0-9A-Fa-f]{{0,4}}:){{2,6}}{_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"  # ::ffff:192.0.2.1
        r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})(?![\w:])"
        r"|(?<![\w:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:])"
    ),
    check=check_ip, prefilter=re.compile(r":[0-9A-Fa-f]{0,4}:"), priority=69, description="IPv6 addresses",
)

PHONE = PiiPattern(
    "phone", "PHONE",
    re.compile(
        r"(?<![\w#+/.,:-])"
        r"(?:(?:\+|\b00)\d{1,3}[ .-]?(?:\(0?\d{0,4}\)[ .-]?)?\d{1,8}(?:[ .-]\d{1,8}){0,5}"  # +44 20 7946 0958
        r"|\(\d{2,5}\)[ .-]?\d{2,8}(?:[ .-]\d{2,8}){0,3}"  # (555) 010-2345, (030) 1234567
        r"|\d{1,5}(?:[ .-]\d{1,8}){1,5}"  # 020 7946 0958, 555-010-2345, 0151 23456789
        r"|\d{7,15})"  # 07700900123
        r"(?![\w/]|[.,:]\d)"
    ),
    check=check_phone, needs="digits7", priority=80, description="phone numbers, national and international",
)

_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Terrace|Ter|Way|"
    r"Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Crescent|Cres|Close|Gardens|Row|Mews|Hill|Alley|"
    r"Plaza|Walk|Concourse|Broadway|Expressway|Turnpike|Pike|Loop"
)
_DIRECTION = r"(?:\s+(?:North|South|East|West|NE|NW|SE|SW|[NSEW])\b\.?)?"
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|#)\.?\s*#?[\w-]{1,6})?"
ADDRESS = PiiPattern(
    "address", "ADDRESS",
    re.compile(
        r"\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?,?\s+(?:(?:[NSEW]|North|South|East|West|Old|Upper|Lower)\.?\s+)?"
        r"(?:[A-Z][\w'-]*\.?|\d{1,3}(?:st|nd|rd|th))(?:\s+[A-Z][\w'-]*\.?){0,3}\s+"
        rf"(?i:{_STREET_TYPES})\b\.?{_DIRECTION}{_UNIT}"
        rf"|\b\d{{1,6}}\s+(?:Highway|Hwy|Route|Rte|State Route|County Road)\s+\d{{1,4}}{_DIRECTION}{_UNIT}"
        r"|\b\d{1,4}(?:bis|ter)?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse)\s+(?:d[eu']\s?|la\s|l')?"
        r"[\w'-]+(?:\s+[A-Z][\w'-]+){0,3}"
    ),
    check=check_address, needs="digit", anchor=_ADDRESS_START, priority=90,
    description="street addresses (number first: US, UK, French forms)",
)
NAMED_ADDRESS = PiiPattern(
    "address_named", "ADDRESS",
    re.compile(
        r"\b(?:P\.?\s?O\.?\s?Box|Post Office Box)\s+\d{1,7}\b"
        r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee)\s+\d{1,4}[a-z]?\b"
        r"|\b(?:Calle|Avenida|Plaza|Paseo|Carrer)\s+(?:de\s+(?:la\s+)?)?[A-Z][\w-]+(?:\s+[A-Z][\w-]+){0,2},?\s+\d{1,4}\b"
    ),
    needs="digit", keywords=("box", "straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "calle", "avenida",
                             "plaza", "paseo", "carrer"),
    priority=90, description="PO boxes and street-name-first addresses (German, Spanish forms)",
)

HANDLE = PiiPattern(
    "handle", "HANDLE",
    re.compile(r"(?<![\w@.+-])@(?!\d{1,2}(?::\d\d)?\s?(?:am|pm)?\b)[A-Za-z0-9_](?:[\w.]{0,28}[A-Za-z0-9_])?(?![\w@])"),
    needs="@", priority=100, description="social-media @handles",
)

BUILTIN_PATTERNS = (URL_WITH_SECRET, EMAIL, IBAN, CARD, SSN, IPV6, IPV4, PHONE, ADDRESS, NAMED_ADDRESS, HANDLE)
