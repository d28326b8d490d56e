"""Personal data particular to clinical text: medical record numbers and dates of birth.

Both are found only next to their label ("MRN 00123456", "DOB: 04/12/1985", "born on
1990-07-21"): a bare number or date is an order number or an appointment, not PII.
"""

from __future__ import annotations

import re

from assistant.redaction import PiiPattern

_MONTH = (r"(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
          r"|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
          r"|Januar|Februar|März|Juni|Juli|Oktober|Dezember"
          r"|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\.?")
_DATE = (
    r"(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}"  # 1990-07-21, 1958.10.03
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 04/12/1985, 12.03.1968
    r"|(?:19|20)\d{6}"  # 19850412
    rf"|\d{{1,2}}-{_MONTH}-\d{{2,4}}"  # 11-Nov-1969
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 3, 1975
    rf"|\d{{1,2}}(?:st|nd|rd|th|\.)?(?:\s+of|\s+de)?\s+{_MONTH},?\s+(?:de\s+)?\d{{4}})"  # 7 July 1982, 2 de abril de 1969
)
_DOB_LABEL = (r"\b(?:DOB|D\.O\.B\.?|date of birth|birth\s?date|born(?: on)?|birthday(?!\s+(?:sale|party|cake|discount|offer|deal|gift|promo|special|card|week|month))|Geburtsdatum|geboren(?: am)?"
              r"|né(?:\(e\)|e)? le|date de naissance|fecha de nacimiento|nacid[oa] el|nací el"
              r"|geboortedatum|geboren op|data di nascita|nato il|nata il)(?![\w])")

MRN = PiiPattern(
    "healthcare.mrn", "MRN",
    re.compile(
        r"(?i:\b(?:MRN|med(?:ical|\.)?\s+record(?:\s+(?:number|no\.?|nr\.?|#))?))"
        r"(?:\s*(?:[#:=)(-]|is\b|no\.?|number\b|\(?MRN\)?))*\s*"
        r"(?P<value>[A-Za-z]{0,3}-?\d(?:[\d-]|\s(?=\d)){3,14}\d)\b"
        r"|(?i:\brecord\s+(?:no\.?|number|#)\s*)(?P<value2>[A-Za-z]{0,3}\d{5,12})(?=\s*\(MRN\))"
    ),
    needs="digits5", keywords=("mrn", "record"), priority=55,
    description="medical record numbers (after an MRN label)",
)

DOB = PiiPattern(
    "healthcare.dob", "DOB",
    re.compile(
        rf"(?i:{_DOB_LABEL})[^.\n]{{0,25}}?(?P<value>{_DATE})(?!\d)"
        rf"|(?P<value2>{_DATE})(?!\d)(?=\s+as\s+(?:my\s+|the\s+)?(?i:date of birth|DOB|birth\s?date))",
    ),
    needs="digit", priority=55, description="dates of birth (after a DOB / date of birth / born on label)",
    keywords=("dob", "d.o.b", "birth", "born", "geburt", "geboren", "naissance", "né", "nacimiento", "nací",
              "nacid", "geboorte", "nascita", "nato il", "nata il"),
)

PII_PATTERNS = (MRN, DOB)
