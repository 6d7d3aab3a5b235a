"""Pipeline rules without infrastructure: lead statuses, opportunity stages, probabilities, who
may own records; and the branch-stats projection's arithmetic on an embedded SQLite database."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_sales.access import StaffView, check_new_owner
from crm_sales.db import models, pipeline_models  # noqa: F401  (every table on SalesBase)
from crm_sales.db.base import SalesBase
from crm_sales.db.pipeline_models import CustomerCount
from crm_sales.domain.pipeline import (
    DEFAULT_PROBABILITY,
    LEAD_TRANSITIONS,
    STAGE_TRANSITIONS,
    LeadStatus,
    Stage,
    TransitionNotAllowed,
    check_close_reason,
    check_lead_convertible,
    check_lead_update,
    check_stage_transition,
    probability_for,
)
from crm_sales.events.consumers import apply_customer_event
from crm_shared.auth import Principal, Role
from crm_shared.db import Database, PlatformBase
from crm_shared.domain import InvalidField
from crm_shared.envelope import CloudEvent
from crm_shared.errors import problem_of


def test_every_stage_can_reach_a_close_and_closed_is_final():
    for stage in (Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION):
        assert Stage.CLOSED_LOST in STAGE_TRANSITIONS[stage]
    assert STAGE_TRANSITIONS[Stage.CLOSED_WON] == STAGE_TRANSITIONS[Stage.CLOSED_LOST] == ()
    assert [s for s, nexts in STAGE_TRANSITIONS.items() if Stage.CLOSED_WON in nexts] == [Stage.NEGOTIATION]


@pytest.mark.parametrize(
    ("current", "requested", "allowed"),
    [
        (Stage.PROSPECTING, Stage.PROPOSAL, ["qualification", "closed_lost"]),
        (Stage.QUALIFICATION, Stage.CLOSED_WON, ["prospecting", "proposal", "closed_lost"]),
        (Stage.CLOSED_WON, Stage.NEGOTIATION, []),
    ],
)
def test_an_illegal_stage_change_names_the_allowed_ones(current, requested, allowed):
    with pytest.raises(TransitionNotAllowed) as refused:
        check_stage_transition(current, requested)
    problem = problem_of(refused.value)
    assert problem.status == 409
    assert refused.value.allowed == allowed
    assert problem.body()["errors"] == [{"field": "stage", "message": problem.body()["errors"][0]["message"]}]
    assert (", ".join(allowed) or "none") in refused.value.detail


def test_staying_in_the_same_stage_is_not_a_transition():
    check_stage_transition(Stage.PROPOSAL, Stage.PROPOSAL)


def test_probability_defaults_by_stage_and_is_fixed_when_closed():
    assert probability_for(Stage.PROPOSAL, None) == DEFAULT_PROBABILITY[Stage.PROPOSAL] == 50
    assert probability_for(Stage.PROPOSAL, 65) == 65
    assert probability_for(Stage.CLOSED_WON, None) == 100
    assert probability_for(Stage.CLOSED_LOST, 0) == 0
    with pytest.raises(InvalidField) as refused:
        probability_for(Stage.CLOSED_LOST, 30)
    assert refused.value.field == "probability" and problem_of(refused.value).status == 422


def test_lost_needs_a_reason_won_does_not():
    check_close_reason(Stage.CLOSED_WON, None)
    with pytest.raises(InvalidField, match="close_reason"):
        check_close_reason(Stage.CLOSED_LOST, " ")


def test_lead_statuses():
    assert LEAD_TRANSITIONS[LeadStatus.NEW] == (LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED)
    check_lead_update(LeadStatus.CONTACTED, LeadStatus.QUALIFIED, None)
    with pytest.raises(TransitionNotAllowed) as by_update:
        check_lead_update(LeadStatus.QUALIFIED, LeadStatus.CONVERTED, None)
    assert by_update.value.allowed == ["disqualified"]  # conversion has its own operation
    with pytest.raises(InvalidField, match="disqualify_reason"):
        check_lead_update(LeadStatus.NEW, LeadStatus.DISQUALIFIED, "")
    check_lead_convertible(LeadStatus.QUALIFIED)
    for status in (LeadStatus.NEW, LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        with pytest.raises(TransitionNotAllowed):
            check_lead_convertible(status)


MANAGER = Principal("m", "m", Role.BRANCH_MANAGER, region="KZ-75", branch="ALA-01")
REGIONAL = Principal("r", "r", Role.REGIONAL_MANAGER, region="KZ-75", branch="ALA-02")
ADMIN = Principal("a", "a", Role.ADMIN)


@pytest.mark.parametrize(
    ("principal", "staff", "problem"),
    [
        (MANAGER, StaffView("s", "branch_agent", "KZ-75", "ALA-01", True), None),
        (MANAGER, StaffView("s", "branch_agent", "KZ-75", "ALA-02", True), "outside your branch/region"),
        (REGIONAL, StaffView("s", "branch_agent", "KZ-75", "ALA-01", True), None),
        (REGIONAL, StaffView("s", "branch_agent", "KZ-71", "AST-01", True), "outside your branch/region"),
        (ADMIN, StaffView("s", "branch_manager", "KZ-71", "AST-01", True), None),
        (ADMIN, StaffView("s", "branch_agent", "KZ-71", "AST-01", False), "deactivated"),
        (ADMIN, StaffView("s", "call_center_agent", None, None, True), "cannot own"),
        (ADMIN, None, "not a known staff member"),
    ],
)
def test_who_can_take_over_records(principal, staff, problem):
    if problem is None:
        check_new_owner(principal, staff)
        return
    with pytest.raises(InvalidField, match=problem) as refused:
        check_new_owner(principal, staff)
    assert refused.value.field == "to_owner_id"


# --- the branch-stats projection -----------------------------------------------------------------


@pytest_asyncio.fixture
async def stats_db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'sales.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(PlatformBase.metadata.create_all)
        await conn.run_sync(SalesBase.metadata.create_all)
    yield database
    await database.dispose()


def customer_event(action: str, customer_id: str, **state) -> CloudEvent:
    data = {
        "id": customer_id,
        "kind": "individual",
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "status": "active",
    } | state
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type=f"crm.sales.customer.{action}", subject=customer_id, data=data
    )


async def apply(db: Database, *events: CloudEvent) -> dict[tuple[str, str, str], int]:
    for event in events:
        async with db.unit_of_work() as session:
            await apply_customer_event(session, event)
    async with db.read_only() as session:
        return {
            (c.region_code, c.branch_code, c.kind): c.count
            for c in await session.scalars(select(CustomerCount))
            if c.count
        }


async def test_counts_follow_creation_moves_status_and_merges(stats_db):
    a, b, c = "cust-a", "cust-b", "cust-c"
    counts = await apply(
        stats_db,
        customer_event("created", a),
        customer_event("created", b),
        customer_event("created", c, kind="business"),
    )
    assert counts == {("KZ-75", "ALA-01", "individual"): 2, ("KZ-75", "ALA-01", "business"): 1}

    counts = await apply(
        stats_db,
        customer_event("reassigned", c, kind="business", branch_code="ALA-02"),
        customer_event("updated", b, status="inactive"),
    )
    assert counts == {("KZ-75", "ALA-01", "individual"): 1, ("KZ-75", "ALA-02", "business"): 1}
    counts = await apply(stats_db, customer_event("updated", b, status="active"))
    assert counts[("KZ-75", "ALA-01", "individual")] == 2

    counts = await apply(stats_db, customer_event("merged", a, duplicate_id=b))
    assert counts == {("KZ-75", "ALA-01", "individual"): 1, ("KZ-75", "ALA-02", "business"): 1}
    counts = await apply(stats_db, customer_event("updated", b, status="active"))  # a merged record stays out
    assert counts[("KZ-75", "ALA-01", "individual")] == 1


async def test_a_merge_seen_before_the_duplicates_creation_still_counts_it_out(stats_db):
    # the two events are keyed by different customers, so they may arrive in either order
    counts = await apply(
        stats_db,
        customer_event("created", "survivor"),
        customer_event("merged", "survivor", duplicate_id="early-dup"),
        customer_event("created", "early-dup"),
    )
    assert counts == {("KZ-75", "ALA-01", "individual"): 1}
