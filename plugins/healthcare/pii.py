"""Personal data particular to clinical text: medical record numbers and dates of birth.

Both are found only next to their label ("MRN 00123456", "DOB: 04/12/1985", "born on
1990-07-21"): a bare number or date is an order number or an appointment, not PII.
"""

from __future__ import annotations

import re

from assistant.redaction import PiiPattern

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}"  # 1990-07-21
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 04/12/1985, 12.03.1968
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 3, 1975
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH},?\s+\d{{4}})"  # 7 July 1982, 3rd of March 1975
)

MRN = PiiPattern(
    "healthcare.mrn", "MRN",
    re.compile(
        r"(?i:\b(?:MRN|medical record(?: number| no\.?| #)?)\b)\s*(?:#|:|no\.?|number)?\s*:?\s*#?\s*"
        r"(?P<value>[A-Za-z]{0,3}-?\d{5,12})\b"
        r"|(?i:\brecord\s+(?:no\.?|number|#)\s*)(?P<value2>[A-Za-z]{0,3}\d{5,12})(?=\s*\(MRN\))"
    ),
    needs="digit", priority=55, description="medical record numbers (after an MRN label)",
)

DOB = PiiPattern(
    "healthcare.dob", "DOB",
    re.compile(
        r"(?i:\b(?:DOB|D\.O\.B\.?|date of birth|birth\s?date|born(?: on)?|birthday)(?![\w.]))"
        r"(?:\s*(?:is|was|of|:|-|,))*\s*"
        rf"(?P<value>{_DATE})(?!\d)",
    ),
    needs="digit", priority=55, description="dates of birth (after a DOB / date of birth / born on label)",
)

PII_PATTERNS = (MRN, DOB)
