"""Opportunities: a deal with a customer moving through the pipeline stages to won or lost. A won
opportunity emits crm.sales.opportunity.won (the orders service turns it into an order)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import BOOKKEEPING_FIELDS, creation_changes, diff, record_change
from crm_shared.auth import Principal, require_personal_data_access, require_writer, visibility_clause
from crm_shared.db import new_id, utcnow
from crm_shared.domain import InvalidField
from crm_shared.errors import conflict, field_problem
from crm_shared.records import get_visible, get_writable, mark_changed

from ..access import check_may_open_opportunity_for
from ..db.models import Customer
from ..db.pipeline_models import Opportunity, StaffMember
from ..domain.customers import CustomerStatus
from ..domain.pipeline import (
    CLOSED_STAGES,
    OPEN_STAGES,
    Stage,
    check_close_reason,
    check_stage_transition,
    clean_text,
    probability_for,
)
from ..events.publishers import opportunity_state, record_opportunity_event
from .branch_directory_service import region_of_open_branch
from .customer_service import get_visible_customer
from .pages import newest_first_page
from .staff_directory_service import active_staff, member_sees, own_name

ENTITY = "opportunity"
OPPORTUNITIES_PATH = "/api/v1/sales/opportunities"
UPDATABLE = ("name", "product_line", "amount_tiyn", "expected_close_date")
NOT_NULL = ("name", "stage", "amount_tiyn")


def opportunity_url(opportunity_id: str) -> str:
    return f"{OPPORTUNITIES_PATH}/{opportunity_id}"


@dataclass(frozen=True, kw_only=True)
class NewOpportunity:
    customer_id: str
    name: str
    product_line: str | None = None
    stage: str = Stage.PROSPECTING
    amount_tiyn: int = 0
    probability: int | None = None
    expected_close_date: date | None = None
    owner_id: str | None = None  # a staff member in the caller's scope who sees the customer; default the caller


async def get_opportunity(session: AsyncSession, principal: Principal, opportunity_id: str) -> Opportunity:
    return await get_visible(session, principal, Opportunity, opportunity_id, what=ENTITY)


async def get_writable_opportunity(session: AsyncSession, principal: Principal, opportunity_id: str) -> Opportunity:
    return await get_writable(session, principal, Opportunity, opportunity_id, what=ENTITY)


async def list_opportunities(
    session: AsyncSession,
    principal: Principal,
    *,
    stage: str | None = None,
    state: str | None = None,
    customer_id: str | None = None,
    owner_id: str | None = None,
    branch_code: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Opportunity], str | None]:
    """Opportunities the caller sees, newest first; ``state`` "open" or "closed" limits the stages."""
    require_personal_data_access(principal)
    stmt = select(Opportunity).where(visibility_clause(principal, Opportunity))
    for column, value in (
        (Opportunity.stage, stage),
        (Opportunity.customer_id, customer_id),
        (Opportunity.owner_id, owner_id),
        (Opportunity.branch_code, branch_code),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if state is not None:
        stmt = stmt.where(Opportunity.stage.in_([str(s) for s in (OPEN_STAGES if state == "open" else CLOSED_STAGES)]))
    return await newest_first_page(session, stmt, Opportunity, limit, cursor)


async def create_opportunity_record(
    session: AsyncSession,
    principal: Principal,
    *,
    customer: Customer,
    name: str,
    stage: Stage | str,
    amount_tiyn: int,
    probability: int | None,
    expected_close_date: date | None,
    owner_id: str,
    owner_name: str,
    product_line: str | None = None,
    lead_id: str | None = None,
) -> Opportunity:
    """Opens an opportunity on ``customer`` (placed in the customer's branch), audited, with its
    crm.sales.opportunity.created event; the caller's transaction commits it."""
    stage = Stage(stage)
    if stage in CLOSED_STAGES:
        raise InvalidField("stage", f"an opportunity opens in an open stage ({', '.join(OPEN_STAGES)})")
    await region_of_open_branch(
        session,
        customer.branch_code,
        field="customer_id",
        whose="no opportunity can be opened in this customer's branch",
    )
    now = utcnow()
    opportunity = Opportunity(
        id=new_id(),
        customer_id=customer.id,
        lead_id=lead_id,
        name=name,
        product_line=product_line,
        stage=stage,
        probability=probability_for(stage, probability),
        amount_tiyn=amount_tiyn,
        expected_close_date=expected_close_date,
        owner_id=owner_id,
        owner_name=owner_name,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(opportunity)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=opportunity.id,
        action="created",
        changes=creation_changes(opportunity_state(opportunity), (*BOOKKEEPING_FIELDS, "currency")),
    )
    await record_opportunity_event(session, "created", opportunity)
    return opportunity


async def _opportunity_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Customer:
    customer = await get_visible_customer(session, principal, customer_id, field="customer_id")
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer_id: customer {customer.id} was merged into {customer.merged_into_id}",
            merged_into_id=customer.merged_into_id,
            errors=[{"field": "customer_id", "message": "was merged into another customer"}],
        )
    check_may_open_opportunity_for(principal, customer.region_code, customer.branch_code)
    return customer


async def _owner_for(
    session: AsyncSession, principal: Principal, owner_id: str | None, customer: Customer
) -> StaffMember | None:
    """None: the caller owns it. Otherwise a staff member in the caller's scope who sees the customer."""
    if owner_id is None or owner_id == principal.subject:
        return None
    member = await active_staff(session, principal, owner_id, field="owner_id")
    if not member_sees(member, customer.region_code, customer.branch_code):
        raise InvalidField("owner_id", "this staff member cannot see the customer (another branch or region)")
    return member


async def open_opportunity(session: AsyncSession, principal: Principal, new: NewOpportunity) -> Opportunity:
    """A new opportunity with a customer the caller may change, owned by the caller or by a staff
    member in the caller's scope who sees the customer; audited, with its event."""
    require_personal_data_access(principal)
    require_writer(principal)
    name = clean_text(new.name)
    if not name:
        raise field_problem("name", "must not be blank")
    customer = await _opportunity_customer(session, principal, new.customer_id)
    owner = await _owner_for(session, principal, new.owner_id, customer)
    return await create_opportunity_record(
        session,
        principal,
        customer=customer,
        name=name,
        stage=new.stage,
        amount_tiyn=new.amount_tiyn,
        probability=new.probability,
        expected_close_date=new.expected_close_date,
        product_line=new.product_line,
        owner_id=owner.id if owner else principal.subject,
        owner_name=(owner.full_name or owner.username) if owner else await own_name(session, principal),
    )


async def change_opportunity(
    session: AsyncSession, principal: Principal, opportunity: Opportunity, patch: Mapping[str, Any]
) -> Opportunity:
    """Applies the fields sent (``patch``: field -> new value) to a writable opportunity (its
    version already checked): a stage move, a win or a loss (with its reason), or details; audited,
    with its event when anything changed (crm.sales.opportunity.won, .lost or .updated)."""
    for field in NOT_NULL:
        if field in patch and patch[field] is None:
            raise field_problem(field, "must not be null")
    sent = set(patch)
    current = Stage(opportunity.stage)
    if current in CLOSED_STAGES and sent:
        raise conflict(
            f"opportunity {opportunity.id} is {current}; a closed opportunity does not change",
            errors=[{"field": "stage", "message": f"the opportunity is {current}"}],
        )
    if "name" in sent and not clean_text(patch["name"]):
        raise field_problem("name", "must not be blank")
    target = Stage(patch["stage"]) if "stage" in sent else current
    check_stage_transition(current, target)
    close_reason = clean_text(patch["close_reason"]) if "close_reason" in sent else None
    if close_reason and target not in CLOSED_STAGES:
        raise field_problem("close_reason", "only a won or lost opportunity has a close reason")
    check_close_reason(target, close_reason)

    before = opportunity_state(opportunity)
    for field in UPDATABLE:
        if field in sent:
            value = patch[field]
            setattr(opportunity, field, clean_text(value) if field == "name" else value)
    if "probability" in sent or target != current:
        requested = patch["probability"] if "probability" in sent else None
        opportunity.probability = probability_for(target, requested)
    now = utcnow()
    if target != current:
        opportunity.stage = target
        if target in CLOSED_STAGES:
            opportunity.closed_at = now
            opportunity.close_reason = close_reason
    changes = diff(before, opportunity_state(opportunity))
    if changes:
        action = (
            {Stage.CLOSED_WON: "won", Stage.CLOSED_LOST: "lost"}.get(target, "updated")
            if target != current
            else "updated"
        )
        mark_changed(opportunity, now)
        record_change(session, principal, entity_type=ENTITY, entity_id=opportunity.id, action=action, changes=changes)
        await record_opportunity_event(session, action, opportunity)
    return opportunity
