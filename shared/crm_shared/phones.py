"""Kazakhstan phone numbers, normalised to E.164 (+7 followed by ten digits).

Kazakhstan shares country code +7 with Russia; its numbers are the ones whose national part
starts with 6 or 7 (mobile +7 70x/747/77x, city numbers such as +7 7172 for Astana). People
write them in many ways: with the trunk prefix 8, with or without +7, with spaces, dashes,
dots and parentheses; all of those are accepted.
"""

from __future__ import annotations

import re

KZ_COUNTRY_CODE = "7"
KZ_LEADING_DIGITS = ("6", "7")
_SEPARATORS = re.compile(r"[\s\-().\u00a0]")
MAX_INPUT_LENGTH = 40


class PhoneError(ValueError):
    """A value that is not a Kazakhstan phone number; the message says why."""


def normalize_phone(raw: str) -> str:
    """ "8 701 123 45 67", "+7 (701) 1234567", "7011234567", "8(7172)123456" ... -> "+77011234567"."""
    if not isinstance(raw, str):
        raise PhoneError("must be a string")
    text = raw.strip()
    if not text:
        raise PhoneError("must not be empty")
    if len(text) > MAX_INPUT_LENGTH:
        raise PhoneError(f"is too long (at most {MAX_INPUT_LENGTH} characters)")
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("+"):
        digits = compact[1:]
        if not digits.isascii() or not digits.isdigit():
            raise PhoneError("may contain only digits, spaces, dashes, dots, parentheses and a leading +")
        if not digits.startswith(KZ_COUNTRY_CODE):
            raise PhoneError("is not a Kazakhstan number (the country code must be +7)")
        national = digits[1:]
    else:
        if not compact.isascii() or not compact.isdigit():
            raise PhoneError("may contain only digits, spaces, dashes, dots, parentheses and a leading +")
        if compact.startswith("00"):  # international call prefix: 007...
            compact = compact[2:]
            if not compact.startswith(KZ_COUNTRY_CODE):
                raise PhoneError("is not a Kazakhstan number (the country code must be 7)")
            national = compact[1:]
        elif len(compact) == 11 and compact[0] in ("8", "7"):  # trunk prefix 8 or country code 7
            national = compact[1:]
        elif len(compact) == 10:
            national = compact
        else:
            raise PhoneError(f"must have 10 digits after +7 or 8 (got {len(compact)} digits)")
    if len(national) != 10:
        raise PhoneError(f"must have 10 digits after +7 (got {len(national)})")
    if not national.startswith(KZ_LEADING_DIGITS):
        raise PhoneError(f"is not a Kazakhstan number (+7 {national[:3]} ...; Kazakhstan numbers are +7 6xx or +7 7xx)")
    return "+" + KZ_COUNTRY_CODE + national


def is_mobile(e164: str) -> bool:
    """Mobile ranges are +7 70x, +7 747 and +7 77x; other +7 7xxx numbers are fixed lines."""
    national = e164[2:]
    return national.startswith(("70", "747", "77"))
