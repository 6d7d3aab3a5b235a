"""Rules of the loyalty programme: discount card numbers with a check digit (Luhn), points per
tenge paid, tiers by 12-month spend, redemptions that never take the balance below zero."""

from __future__ import annotations

from crm_shared.domain import Conflict, InvalidField

CARD_PREFIX = "7707"  # the programme's issuer prefix; 16 digits in all
TIERS = ("bronze", "silver", "gold")


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def card_number(serial: int) -> str:
    body = f"{CARD_PREFIX}{serial:011d}"
    return body + luhn_check_digit(body)


def valid_card_number(value: str) -> bool:
    return len(value) == 16 and value.isdigit() and luhn_check_digit(value[:-1]) == value[-1]


def points_for(amount_tiyn: int, points_per_tenge: float) -> int:
    """Whole points for a payment: tenge paid (100 tiyn) times the rate, rounded down."""
    return int((amount_tiyn // 100) * points_per_tenge)


def tier_for(spend_12m_tiyn: int, thresholds_tiyn: dict[str, int]) -> str:
    """The highest tier whose threshold the spend reaches (bronze from the first payment)."""
    reached = "bronze"
    for tier in TIERS:
        if spend_12m_tiyn >= thresholds_tiyn.get(tier, 0):
            reached = tier
    return reached


def check_redemption(balance: int, points: int) -> None:
    if points <= 0:
        raise InvalidField("points", "must be positive")
    if points > balance:
        raise Conflict(f"not enough points: {balance} available, {points} asked")
