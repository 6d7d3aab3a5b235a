"""Catalogue rules: whether an offering may be sold, and an order's totals (integer tiyn)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

CURRENCY = "KZT"
LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "en"


def answer_language(accept_language: str | None) -> str:
    """The first of kk, ru, en that an Accept-Language header asks for (its order, q-values
    aside: the console sends one language), else English."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def name_in(names: dict[str, str] | None, language: str, fallback: str) -> str:
    """An offering's name in ``language``; the name it was written with when that one is missing."""
    return (names or {}).get(language) or fallback


class ProductLine(StrEnum):
    INTERNET = "internet"
    TV = "tv"
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    BUNDLE = "bundle"


class OfferingStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


def why_not_sellable(
    *,
    status: str,
    region_codes: list[str],
    valid_from: date | None,
    valid_to: date | None,
    region_code: str,
    today: date,
) -> str | None:
    """None when the offering may be sold to a customer in ``region_code`` today, else the reason."""
    if status != OfferingStatus.ACTIVE:
        return f"is {status} and no longer sold"
    if region_codes and region_code not in region_codes:
        return f"is not sold in region {region_code}"
    if valid_from and today < valid_from:
        return f"is sold from {valid_from.isoformat()}"
    if valid_to and today > valid_to:
        return f"was sold until {valid_to.isoformat()}"
    return None


@dataclass(frozen=True)
class PricedLine:
    quantity: int
    one_off_price_tiyn: int
    recurring_price_tiyn: int
    charged: bool = True  # a delete item costs nothing


def totals(lines: list[PricedLine]) -> tuple[int, int]:
    """(one-off, monthly recurring) totals in tiyn."""
    one_off = sum(line.quantity * line.one_off_price_tiyn for line in lines if line.charged)
    recurring = sum(line.quantity * line.recurring_price_tiyn for line in lines if line.charged)
    return one_off, recurring
