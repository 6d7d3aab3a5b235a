"""Customer rules without I/O: kinds and statuses, names, e-mail, language, the search key."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class CustomerKind(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # the relationship ended; the record and its history stay
    MERGED = "merged"  # a duplicate folded into merged_into_id; read-only from then on
    ERASED = "erased"  # personal data destroyed on request; the record stays for the books, read-only


class Language(StrEnum):
    KK = "kk"
    RU = "ru"
    EN = "en"


class AddressKind(StrEnum):
    REGISTRATION = "registration"
    SERVICE = "service"
    BILLING = "billing"


class ValueRuleError(ValueError):
    """A value that breaks a customer rule; the message says what is wrong, without the field name."""


PERSON_NAME_MAX = 100
LEGAL_NAME_MAX = 300
EMAIL_MAX = 254
_SPACES = re.compile(r"\s+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
_POSTAL_CODE = re.compile(r"^[A-Z0-9]{6}$")  # 6 digits (050000) or the 2015+ alphanumeric form (A15E3C)
_NAME_PUNCTUATION = {" ", "-", "'", "’", "."}
_QUOTES = str.maketrans("", "", "\"'«»“”„’`")


def collapse_spaces(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def person_name(value: str) -> str:
    """A first, middle or last name in any script (Kazakh, Russian, Latin)."""
    name = collapse_spaces(unicodedata.normalize("NFC", value))
    if not name:
        raise ValueRuleError("must not be empty")
    if len(name) > PERSON_NAME_MAX:
        raise ValueRuleError(f"must be at most {PERSON_NAME_MAX} characters")
    if not any(ch.isalpha() for ch in name) or any(not ch.isalpha() and ch not in _NAME_PUNCTUATION for ch in name):
        raise ValueRuleError("may contain only letters, spaces, hyphens, apostrophes and dots")
    return name


def legal_name(value: str) -> str:
    name = collapse_spaces(unicodedata.normalize("NFC", value))
    if not name:
        raise ValueRuleError("must not be empty")
    if len(name) > LEGAL_NAME_MAX:
        raise ValueRuleError(f"must be at most {LEGAL_NAME_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueRuleError("must not contain control characters")
    return name


def email(value: str) -> str:
    address = value.strip()
    if len(address) > EMAIL_MAX:
        raise ValueRuleError(f"must be at most {EMAIL_MAX} characters")
    if not _EMAIL.match(address):
        raise ValueRuleError("is not a valid e-mail address")
    local, domain = address.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def postal_code(value: str) -> str:
    code = value.strip().upper().replace(" ", "")
    if not _POSTAL_CODE.match(code):
        raise ValueRuleError("must be a Kazakhstan postal code: 6 digits or 6 letters and digits (e.g. 050000, A15E3C)")
    return code


def search_key(text: str) -> str:
    """How names are compared in prefix search: case-folded, quotes dropped, single spaces."""
    return collapse_spaces(unicodedata.normalize("NFC", text).translate(_QUOTES)).casefold()


# Legal-form words people write before or after a company's name (Russian, Kazakh, English);
# the search key leaves them out, so that "алатау" finds 'ТОО "Алатау Сервис"'.
LEGAL_FORM_WORDS = frozenset(
    {"тоо", "ао", "ип", "оао", "зао", "гкп", "ргп", "жшс", "ақ", "жк", "llp", "jsc", "llc", "ltd", "ie", "inc"}
)


def name_key(
    kind: CustomerKind | str,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    middle_name: str | None = None,
    legal_name: str | None = None,
) -> str:
    """The search key: "last first middle" for a person, the legal name without its legal form
    for a business."""
    key = search_key(
        display_name(kind, first_name=first_name, last_name=last_name, middle_name=middle_name, legal_name=legal_name)
    )
    if kind == CustomerKind.BUSINESS:
        words = key.split(" ")
        while len(words) > 1 and words[0] in LEGAL_FORM_WORDS:
            words.pop(0)
        while len(words) > 1 and words[-1] in LEGAL_FORM_WORDS:
            words.pop()
        key = " ".join(words)
    return key


def display_name(
    kind: CustomerKind | str,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    middle_name: str | None = None,
    legal_name: str | None = None,
) -> str:
    """How a customer is shown: "Last First Middle" (the formal order) for a person, the legal
    name for a business. The search key is this, case-folded."""
    if kind == CustomerKind.BUSINESS:
        return legal_name or ""
    return " ".join(part for part in (last_name, first_name, middle_name) if part)


def escape_like(prefix: str) -> str:
    """Escapes LIKE wildcards so that a user's "50%" is searched literally (escape char: backslash)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
