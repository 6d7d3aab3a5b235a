"""Customer rules without I/O: kinds and statuses, names, e-mail, language, the search key."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from crm_shared.identifiers import IdentifierError, parse_bin, parse_iin
from crm_shared.phones import PhoneError, normalize_phone


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


# --- the search text: any part of any name, in any script ---------------------------------------

# Kazakh letters to their Russian neighbours, then Cyrillic to Latin, so that "Әлия", "Алия" and
# "Aliya" (and the Kazakh Latin "Älia") come out the same.
_CYRILLIC_TO_LATIN = {
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Kazakh Latin (2021) letters whose plain form is not what the Cyrillic gives
    "ş": "sh", "ç": "ch", "ı": "i", "ğ": "g", "ñ": "n", "j": "zh",
}  # fmt: skip
# Spellings that vary between transliterations: the search text keeps one of each.
_LATIN_VARIANTS = (("kh", "h"), ("q", "k"), ("y", "i"), ("w", "v"), ("x", "ks"))
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1+")
_INITIAL_YE = re.compile(r"\bie")  # "Yerlan" for "Ерлан"
MIN_SEARCH_TEXT = 2


def search_text_of(text: str) -> str:
    """``text`` as the search compares it: case-folded, Kazakh and Russian letters and Latin
    spellings folded to one Latin form, accents dropped, repeated letters once ("Сейітқали",
    "Сейткали" and "Seitkali" all give "seitkali"), anything but letters and digits a space."""
    folded = unicodedata.normalize("NFC", text).casefold()
    latin = "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in folded)
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", latin) if not unicodedata.combining(ch))
    for variant, canonical in _LATIN_VARIANTS:
        plain = plain.replace(variant, canonical)
    return _INITIAL_YE.sub("e", _REPEATS.sub(r"\1", _NOT_ALNUM.sub(" ", plain))).strip()


def search_words(query: str) -> list[str]:
    """The words of a search query, each to be found in a customer's search text: anywhere in it,
    or, a one-letter word (an initial), at the start of a word."""
    return list(dict.fromkeys(search_text_of(query).split()))


def customer_search_text(
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    middle_name: str | None = None,
    legal_name: str | None = None,
    email: str | None = None,
) -> str:
    """What a customer is found by in a free-text search: every name and the e-mail address."""
    return " ".join(
        search_text_of(part) for part in (last_name, first_name, middle_name, legal_name, email) if part
    ).strip()


class SearchTerms:
    """What one search box text asks for: a phone number (any notation, as E.164), a full IIN/BIN,
    an e-mail address, or words of names (``words``, each found in some name); the first that the
    text is, in that order."""

    def __init__(self, text: str) -> None:
        self.phone: str | None = None
        self.tax_id: str | None = None
        self.email: str | None = None
        self.words: tuple[str, ...] = ()
        stripped = text.strip()
        digits = stripped.replace(" ", "")
        if _PHONE_LIKE.match(stripped):
            if len(digits) == 12 and digits.isdigit() and _valid_tax_id(digits):
                self.tax_id = digits
                return
            try:
                self.phone = normalize_phone(stripped)
                return
            except PhoneError:
                pass
        if "@" in stripped:
            self.email = stripped.casefold()
        self.words = tuple(search_words(stripped))
        if len("".join(self.words)) < MIN_SEARCH_TEXT:
            raise ValueRuleError(f"must have at least {MIN_SEARCH_TEXT} letters or digits")


_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]+$")


def _valid_tax_id(value: str) -> bool:
    for parse in (parse_iin, parse_bin):
        try:
            parse(value)
            return True
        except IdentifierError:
            pass
    return False
