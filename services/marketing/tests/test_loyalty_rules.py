"""The loyalty programme's pure rules."""

from __future__ import annotations

import pytest

from crm_marketing.domain.loyalty import card_number, check_redemption, points_for, tier_for, valid_card_number
from crm_shared.domain import Conflict, InvalidField


def test_card_numbers_carry_a_luhn_check_digit():
    for serial in (1, 42, 99_999_999_999):
        number = card_number(serial)
        assert len(number) == 16 and valid_card_number(number)
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not valid_card_number(wrong)
    assert valid_card_number("4539578763621486")  # a known Luhn-valid number


def test_points_per_tenge_round_down():
    assert points_for(12_345_67, 0.01) == 123
    assert points_for(99, 1.0) == 0


def test_tiers_by_twelve_month_spend():
    thresholds = {"bronze": 0, "silver": 100_000_00, "gold": 300_000_00}
    assert tier_for(0, thresholds) == "bronze"
    assert tier_for(100_000_00, thresholds) == "silver"
    assert tier_for(300_000_00, thresholds) == "gold"


def test_a_redemption_never_takes_more_than_the_balance():
    check_redemption(10, 10)
    with pytest.raises(Conflict):
        check_redemption(10, 11)
    with pytest.raises(InvalidField):
        check_redemption(10, 0)
