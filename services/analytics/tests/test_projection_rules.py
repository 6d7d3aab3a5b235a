"""The allow-list and the pseudonyms, without infrastructure: what an event with every kind of
personal data becomes in the store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from crm_analytics.domain.dashboards import filters
from crm_analytics.domain.projection import (
    COLUMN_NAMES,
    ERASED_CUSTOMER_KEY,
    Parsed,
    customer_key,
    customer_of,
    merge_of,
    opaque_key,
    project,
    retired_customers,
    retired_row,
)
from crm_shared.domain import InvalidField
from crm_shared.testing import Identities

# IIN/BIN: twelve digits; phones: +7 and ten digits, with or without separators
PERSONAL = re.compile(r"(?<!\d)\d{12}(?!\d)|\+?7[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}")
NOW = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)


def personal_values(row: dict) -> list[str]:
    return PERSONAL.findall(json.dumps(row))


def customer_event() -> Parsed:
    person = Identities(seed=3).individual()
    data = {
        "id": "2f0c9a1e-7b3d-4c55-9a10-123456789012",  # a UUID ending in twelve digits
        "kind": "individual",
        "iin": person["iin"],
        "bin": None,
        "display_name": "Aigerim Seitkali",
        "first_name": "Aigerim",
        "last_name": "Seitkali",
        "birth_date": "1990-05-15",
        "primary_phone": "+77011234567",
        "phones": [{"number": "+77011234567"}],
        "email": "aigerim@example.kz",
        "addresses": [{"line": "Abay avenue 10, Almaty"}],
        "owner_name": "Branch agent",
        "status": "active",
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "version": 2,
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": "2026-11-02T09:00:00Z",
    }
    return Parsed(
        "0a7e4c2b-9d1f-4e6a-8b3c-770112345678", "crm.sales.customer.updated", "crm.sales.customer.v1", NOW, data
    )


def test_a_customer_event_keeps_codes_states_and_times_and_no_personal_data():
    event = customer_event()
    row = project(event, customer_key("00" * 16, customer_of(event)))
    assert set(row) == set(COLUMN_NAMES)
    assert personal_values(row) == []
    text = json.dumps(row)
    for value in ("Aigerim", "Seitkali", "1990", "example.kz", "Abay", event.data["iin"], event.data["id"]):
        assert value not in text
    assert (row["aggregate"], row["state"], row["region_code"], row["branch_code"], row["kind"]) == (
        "customer",
        "active",
        "KZ-75",
        "ALA-01",
        "individual",
    )
    assert row["created_at"] == "2026-11-01 09:00:00.000"
    assert row["record_key"] == opaque_key(f"crm.sales.customer.v1/{event.data['id']}")


def test_the_customer_key_is_a_keyed_hash_per_customer_and_erased_without_a_salt():
    first, second = customer_key("01" * 16, "c-1"), customer_key("02" * 16, "c-1")
    assert first != second and first == customer_key("01" * 16, "c-1")
    assert "c-1" not in first and not re.search(r"\d{6}", first)
    assert customer_key(None, "c-1") == ERASED_CUSTOMER_KEY


def test_an_order_gives_its_amounts_and_product_line_and_drops_names_and_addresses():
    data = {
        "id": "o-1",
        "customer_id": "c-1",
        "customer_name": "Aigerim Seitkali",
        "state": "completed",
        "one_off_total_tiyn": 1_500_000,
        "recurring_total_tiyn": 890_000,
        "items": [{"product_line": "internet", "service_address": "Abay avenue 10"}],
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "version": 4,
        "created_at": "2026-11-01T09:00:00Z",
    }
    event = Parsed("e-1", "crm.orders.order.completed", "crm.orders.order.v1", NOW, data)
    row = project(event, "key")
    assert (row["product_line"], row["one_off_tiyn"], row["recurring_tiyn"], row["state"]) == (
        "internet",
        1_500_000,
        890_000,
        "completed",
    )
    assert customer_of(event) == "c-1"
    assert "Abay" not in json.dumps(row) and "Aigerim" not in json.dumps(row)


@pytest.mark.parametrize(
    ("rating", "score"),
    [({"score": 4, "comment": "Thank you, Aigerim!"}, 4), ({"score": 9}, 0), ({"score": True}, 0), (None, 0), ("5", 0)],
)
def test_a_ticket_rating_keeps_its_score_only(rating, score):
    data = {"id": "t-1", "customer_id": "c-1", "status": "resolved", "region_code": "KZ-75", "version": 5}
    if rating is not None:
        data["rating"] = rating
    row = project(Parsed("e-r", "crm.tickets.ticket.rated", "crm.tickets.ticket.v1", NOW, data), "key")
    assert row["rating_score"] == score
    assert "Aigerim" not in json.dumps(row)  # the comment is free text: never stored


def test_a_code_field_holding_an_identifier_or_text_is_dropped():
    data = {"id": "x", "region_code": "900515412345", "branch_code": "call me at home", "status": "active"}
    row = project(Parsed("e", "crm.sales.lead.created", "crm.sales.lead.v1", NOW, data, region="KZ-75"), "")
    assert row["region_code"] == "" and row["branch_code"] == ""


def test_an_erasure_and_a_merge_retire_customers_without_carrying_their_state():
    erased = Parsed(
        "e-9",
        "crm.sales.customer.erased",
        "crm.sales.customer.v1",
        NOW,
        {"customer_id": "c-1", "customer_ids": ["c-1", "c-0"], "erasure_id": "x", "requested_at": "2026-11-05"},
    )
    assert retired_customers(erased) == {"c-1": "erased", "c-0": "erased"}
    merged = Parsed(
        "e-8", "crm.sales.customer.merged", "crm.sales.customer.v1", NOW, {"id": "c-2", "duplicate_id": "c-3"}
    )
    assert retired_customers(merged) == {"c-3": "merged"}
    assert merge_of(merged) == ("c-3", "c-2") and merge_of(erased) is None
    latest = project(customer_event(), "key")
    final = retired_row(latest, "erased", erased)
    assert (final["state"], final["record_key"], final["created_at"]) == (
        "erased",
        latest["record_key"],
        latest["created_at"],
    )
    assert final["record_version"] > 10**15 and final["event_key"] != latest["event_key"]


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("from", (NOW, NOW, None, None, None)),
        ("region_code", (None, None, "KZ 75; DROP", None, None)),
        ("product_line", (None, None, None, None, "radio")),
    ],
)
def test_filters_refuse_bad_values_naming_the_field(field, args):
    with pytest.raises(InvalidField) as refused:
        filters(*args, NOW)
    assert refused.value.field == field
