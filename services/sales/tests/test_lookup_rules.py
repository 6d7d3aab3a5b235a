"""The budget of look-ups by IIN/BIN (crm_sales.domain.lookups) and the masking of what a
masked caller is shown (crm_sales.access), without infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_sales.access import masked_changes, masked_customer, masked_text
from crm_sales.domain.lookups import retry_after
from crm_shared.testing import PRINCIPALS

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_caller_under_the_budget_goes_on():
    assert retry_after([], NOW, 3) is None
    assert retry_after([ago(1), ago(2)], NOW, 3) is None
    assert retry_after([ago(61), ago(70), ago(80)], NOW, 3) is None  # all outside the window


def test_a_full_window_says_when_a_place_frees():
    assert retry_after([ago(10), ago(20), ago(50)], NOW, 3) == 10  # the oldest leaves the window in 10 s
    assert retry_after([ago(59.5), ago(5), ago(1)], NOW, 3) == 1
    assert retry_after([ago(1), ago(2), ago(3), ago(40)], NOW, 3) == 57  # the newest three count
    assert retry_after([ago(1)], NOW, 0) == 60  # no budget at all


def test_the_masked_view_keeps_the_year_and_the_last_four_digits():
    state = {
        "iin": "900515412345",
        "bin": None,
        "birth_date": "1990-05-15",
        "email": "900515412345@mail.kz",
        "id": "0c2b1f4e-8d1a-4c3b-9a7e-123456789012",
        "display_name": "Seitkali Aigerim",
    }
    masked = masked_customer(state, PRINCIPALS["call_center_agent"])
    assert masked["iin"] == "********2345" and masked["birth_date"] is None and masked["birth_year"] == 1990
    assert masked["email"] == "********2345@mail.kz"
    assert masked["id"] == state["id"]  # a UUID ending in twelve digits is no IIN
    full = masked_customer(state, PRINCIPALS["privacy_officer"])
    assert (full["iin"], full["birth_date"], full["birth_year"]) == ("900515412345", "1990-05-15", 1990)


def test_history_entries_are_masked_in_every_field():
    changes = {
        "tax_id": [None, "900515412345"],
        "birth_date": [None, "1990-05-15"],
        "email": ["900515412345@mail.kz", None],
        "note": [None, ["IIN 900515412345", 3]],
    }
    assert masked_changes(changes, PRINCIPALS["call_center_agent"]) == {
        "tax_id": [None, "********2345"],
        "birth_date": [None, 1990],
        "email": ["********2345@mail.kz", None],
        "note": [None, ["IIN ********2345", 3]],
    }
    assert masked_changes(changes, PRINCIPALS["admin"]) == changes
    assert masked_text("+77011234567 and 12345678901234") == "+77011234567 and 12345678901234"
