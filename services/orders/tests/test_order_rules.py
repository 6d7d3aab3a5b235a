"""The order lifecycle's refusals as the domain raises them and as clients receive them (the
problem details every app answers with): types, titles, statuses and extension members. Unit
tests: no infrastructure."""

from __future__ import annotations

import pytest

from crm_orders.domain.lifecycle import (
    OrderState,
    check_draft,
    check_fulfilment_reportable,
    check_item_transition,
    check_request,
)
from crm_shared.domain import DomainError
from crm_shared.errors import PROBLEM_BASE, problem_of


def refusal(rule, *args, **kwargs) -> dict:
    with pytest.raises(DomainError) as refused:
        rule(*args, **kwargs)
    return problem_of(refused.value).body()


def test_a_move_the_state_machine_forbids_is_a_conflict_listing_the_allowed_ones():
    assert refusal(check_request, "partial", "cancelled", reason="x", item_states=["completed", "failed"]) == {
        "type": PROBLEM_BASE + "conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "the order in state partial cannot move to cancelled; allowed: none (it is final)",
        "current_state": "partial",
        "requested_state": "cancelled",
        "allowed_transitions": [],
    }


def test_an_outcome_is_never_requested_it_comes_from_fulfilment():
    body = refusal(check_request, "acknowledged", "completed", reason=None, item_states=["acknowledged"])
    assert body["status"] == 409 and body["title"] == "Conflict"
    assert body["detail"].endswith("completed is reached when every item's fulfilment is reported")
    assert body["allowed_transitions"] == ["in_progress", "held", "cancelled"]
    assert body["requested_state"] == "completed"


@pytest.mark.parametrize(
    ("current", "requested", "reason", "items", "field"),
    [
        ("held", "cancelled", "  ", ["acknowledged"], "reason"),
        ("draft", "acknowledged", None, [], "items"),
    ],
)
def test_a_missing_reason_or_item_is_a_422_naming_the_field(current, requested, reason, items, field):
    body = refusal(check_request, current, requested, reason=reason, item_states=items)
    assert (body["status"], body["type"], body["title"]) == (422, PROBLEM_BASE + "validation", "Validation failed")
    assert body["errors"] == [{"field": field, "message": body["detail"].removeprefix(f"{field}: ")}]


def test_an_order_with_a_completed_item_is_not_cancelled_any_more():
    body = refusal(check_request, "in_progress", "cancelled", reason="moved", item_states=["completed", "in_progress"])
    assert body["status"] == 409
    assert body["allowed_transitions"] == ["held"] and body["current_state"] == "in_progress"


def test_allowed_requests_give_the_target_state():
    assert check_request("draft", "acknowledged", reason=None, item_states=["acknowledged"]) is OrderState.ACKNOWLEDGED
    assert check_request("held", "cancelled", reason="moved", item_states=["acknowledged"]) is OrderState.CANCELLED


def test_fulfilment_and_draft_items_are_refused_outside_their_states():
    assert refusal(check_item_transition, "completed", "failed")["allowed_transitions"] == []
    not_open = refusal(check_fulfilment_reportable, "held")
    assert (not_open["status"], not_open["type"], not_open["current_state"]) == (409, PROBLEM_BASE + "conflict", "held")
    assert refusal(check_draft, "acknowledged")["state"] == "acknowledged"
