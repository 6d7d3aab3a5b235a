"""The ticket workflow's refusals as the domain raises them and as clients receive them (the
problem details every app answers with): types, titles, statuses and extension members; and the
request vocabularies agree with the domain's. Unit tests: no infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from crm_shared.domain import DomainError
from crm_shared.errors import PROBLEM_BASE, problem_of
from crm_tickets.api.schemas import Category, Priority
from crm_tickets.domain.routing import CATEGORIES
from crm_tickets.domain.sla import PRIORITIES
from crm_tickets.domain.workflow import (
    Status,
    check_not_finished,
    check_reason,
    check_reopen_window,
    check_transition,
)

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def refusal(rule, *args) -> dict:
    with pytest.raises(DomainError) as refused:
        rule(*args)
    return problem_of(refused.value).body()


def test_an_illegal_move_is_a_409_illegal_transition_naming_the_allowed_ones():
    assert refusal(check_transition, "new", "closed") == {
        "type": PROBLEM_BASE + "illegal-transition",
        "title": "Illegal transition",
        "status": 409,
        "detail": "a new ticket cannot become closed; allowed: acknowledged, in_progress, resolved, cancelled",
        "current_status": "new",
        "allowed_transitions": ["acknowledged", "in_progress", "resolved", "cancelled"],
    }
    assert refusal(check_transition, "closed", "in_progress")["detail"].endswith("allowed: none")


def test_an_unknown_status_is_a_422_naming_status_and_listing_the_real_ones():
    assert refusal(check_transition, "new", "sleeping") == {
        "type": PROBLEM_BASE + "validation",
        "title": "Validation failed",
        "status": 422,
        "detail": "status: unknown status 'sleeping'",
        "errors": [{"field": "status", "message": "one of " + ", ".join(s.value for s in Status)}],
    }


def test_pending_needs_a_reason_and_a_reopen_its_window():
    body = refusal(check_reason, Status.PENDING, None)
    assert (body["status"], body["errors"][0]["field"]) == (422, "reason")
    check_reason(Status.PENDING, "waiting for the customer")
    late = refusal(check_reopen_window, NOW - timedelta(days=15), NOW, timedelta(days=14))
    assert (late["status"], late["title"], late["allowed_transitions"]) == (409, "Conflict", ["closed"])
    check_reopen_window(NOW - timedelta(days=13), NOW, timedelta(days=14))


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_a_finished_ticket_is_kept_as_it_is(status):
    assert refusal(check_not_finished, status, "takes no more notes") == {
        "type": PROBLEM_BASE + "conflict",
        "title": "Conflict",
        "status": 409,
        "detail": f"a {status} ticket takes no more notes",
        "current_status": status,
    }


def test_the_request_vocabularies_are_the_domains():
    assert get_args(Category) == CATEGORIES
    assert get_args(Priority) == PRIORITIES
