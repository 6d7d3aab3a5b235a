"""Kazakhstan's 12-digit personal (IIN) and business (BIN) identification numbers.

Both end with a check digit: the first eleven digits weighted 1..11, summed, modulo 11; when that
gives 10, the weights 3..11,1,2 are used instead; when that too gives 10 the number is not valid
(such numbers are never issued).

IIN: YYMMDD of birth, then the century-and-sex digit (1/2: 1800s, 3/4: 1900s, 5/6: 2000s; odd male,
even female), four serial digits and the check digit.
BIN: YYMM of registration, the entity-type digit (4 resident legal entity, 5 non-resident legal
entity, 6 individual entrepreneur or joint venture), an attribute digit, five serial digits and the
check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

FIRST_WEIGHTS = tuple(range(1, 12))
SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

CENTURY_BY_DIGIT = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}
BIN_ENTITY_TYPES = {4: "resident", 5: "non_resident", 6: "entrepreneur_or_joint"}


class IdentifierError(ValueError):
    """A malformed IIN/BIN; the message says exactly what is wrong, without the field name."""


def check_digit(first_eleven: str) -> int | None:
    """The check digit for eleven digits, or None when the rule yields no valid digit."""
    digits = [int(c) for c in first_eleven]
    result = sum(w * d for w, d in zip(FIRST_WEIGHTS, digits)) % 11
    if result == 10:
        result = sum(w * d for w, d in zip(SECOND_WEIGHTS, digits)) % 11
        if result == 10:
            return None
    return result


def _twelve_digits(value: str) -> str:
    if not isinstance(value, str):
        raise IdentifierError("must be a string of 12 digits")
    cleaned = value.strip()
    if len(cleaned) != 12 or not cleaned.isascii() or not cleaned.isdigit():
        raise IdentifierError("must be exactly 12 digits")
    expected = check_digit(cleaned[:11])
    if expected is None:
        raise IdentifierError("no valid check digit exists for these digits; the number cannot have been issued")
    if expected != int(cleaned[11]):
        raise IdentifierError("check digit does not match")
    return cleaned


@dataclass(frozen=True)
class Iin:
    value: str
    birth_date: date
    sex: str  # "male" | "female"


@dataclass(frozen=True)
class Bin:
    value: str
    registered_year: int
    registered_month: int
    entity_type: str


def parse_iin(value: str, *, today: date | None = None) -> Iin:
    digits = _twelve_digits(value)
    century_digit = int(digits[6])
    if century_digit not in CENTURY_BY_DIGIT:
        raise IdentifierError(f"digit 7 (century and sex) must be 1-6, got {century_digit}")
    year = CENTURY_BY_DIGIT[century_digit] + int(digits[0:2])
    month, day = int(digits[2:4]), int(digits[4:6])
    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise IdentifierError(f"digits 1-6 are not a real birth date ({year:04d}-{month:02d}-{day:02d})") from None
    if birth_date > (today or date.today()):
        raise IdentifierError(f"birth date {birth_date.isoformat()} is in the future")
    return Iin(digits, birth_date, "male" if century_digit % 2 else "female")


def parse_bin(value: str) -> Bin:
    digits = _twelve_digits(value)
    month = int(digits[2:4])
    if not 1 <= month <= 12:
        raise IdentifierError(f"digits 3-4 must be the registration month 01-12, got {digits[2:4]}")
    entity_digit = int(digits[4])
    if entity_digit not in BIN_ENTITY_TYPES:
        raise IdentifierError(
            f"digit 5 must be the legal-entity type (4 resident, 5 non-resident, 6 entrepreneur/joint), got {entity_digit}"
        )
    return Bin(
        digits,
        2000 + int(digits[0:2]) if int(digits[0:2]) < 70 else 1900 + int(digits[0:2]),
        month,
        BIN_ENTITY_TYPES[entity_digit],
    )


def complete_with_check_digit(first_eleven: str) -> str | None:
    """Appends the check digit, or returns None when these eleven digits admit none (for generators)."""
    digit = check_digit(first_eleven)
    return None if digit is None else first_eleven + str(digit)


def make_iin(birth_date: date, female: bool, serial: int) -> str | None:
    """A valid IIN for a person born on ``birth_date`` (serial 0..9999), or None for the few
    serials the check-digit rule excludes; demo data and tests generate IINs with this."""
    century = {1800: 1, 1900: 3, 2000: 5}[birth_date.year // 100 * 100] + (1 if female else 0)
    return complete_with_check_digit(f"{birth_date:%y%m%d}{century}{serial:04d}")


def make_bin(registered: date, entity_digit: int, serial: int) -> str | None:
    """A valid BIN registered in ``registered``'s month (entity digit 4/5/6, serial 0..99999), or None."""
    return complete_with_check_digit(f"{registered:%y%m}{entity_digit}0{serial:05d}")
