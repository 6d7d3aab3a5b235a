"""Bulk reassignment (/api/v1/sales/reassignments): when someone leaves, everything they own
within the caller's scope (customers, leads, open opportunities, open activities) moves to a new
owner in one transaction, as one audited operation.

The records follow their new owner into the owner's branch and region, so that the new owner
(who may work in another branch of the region, or anywhere for an admin) can see them.
Activities have no place of their own: they stay with the record they are about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.audit import diff, record_change
from crm_shared.auth import Principal, visibility_clause
from crm_shared.concurrency import flush_or_conflict
from crm_shared.db import new_id, utcnow
from crm_shared.errors import OPENAPI_PROBLEMS, field_problem, not_found
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.models import AuditEntry
from crm_shared.records import mark_changed
from crm_shared.schemas import Strict
from crm_shared.timefmt import iso

from ..access import may_see_reassignment, require_reassigner, scope_label
from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity, Reassignment
from ..domain.customers import CustomerStatus
from ..domain.pipeline import OPEN_STAGES, clean_text
from ..events.publishers import (
    record_activity_event,
    record_customer_event,
    record_lead_event,
    record_opportunity_event,
)
from .activities import activity_visibility_clause, placements_of
from .pipeline_common import active_staff, check_owner_branch_open

router = APIRouter(prefix="/api/v1/sales", tags=["reassignments"])

ENTITY = "reassignment"
REASSIGNMENTS_PATH = "/api/v1/sales/reassignments"
AGGREGATES = ("customer", "lead", "opportunity", "activity")

OwnerId = Annotated[str, Field(min_length=1, max_length=200)]


class ReassignmentCreate(Strict):
    from_owner_id: OwnerId = Field(description="the person whose records move (e.g. who is leaving)")
    to_owner_id: OwnerId = Field(description="an active staff member in your scope")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class MovedRecord(BaseModel):
    entity_type: str
    entity_id: str
    changes: dict[str, Any] = Field(description="field -> [old, new]")


class ReassignmentOut(BaseModel):
    id: str = Field(description="the operation id carried by every audit entry and event of this reassignment")
    from_owner_id: str
    to_owner_id: str
    to_owner_name: str
    to_branch_code: str
    to_region_code: str
    reason: str
    actor_id: str
    actor_name: str
    actor_role: str
    scope: str
    at: datetime
    counts: dict[str, int]
    moved: list[MovedRecord]


def _ownership(record: Any) -> dict[str, Any]:
    return {
        "owner_id": record.owner_id,
        "owner_name": record.owner_name,
        "branch_code": record.branch_code,
        "region_code": record.region_code,
    }


async def _locked(session: AsyncSession, stmt) -> list[Any]:
    return list(await session.scalars(stmt.with_for_update()))


async def reassign(session: AsyncSession, principal: Principal, body: ReassignmentCreate) -> Reassignment:
    """Moves the records and writes the operation, its audit entries and its events; the caller's
    unit of work commits them together."""
    require_reassigner(principal)
    if body.from_owner_id == body.to_owner_id:
        raise field_problem("to_owner_id", "must differ from from_owner_id")
    reason = clean_text(body.reason)
    if not reason:
        raise field_problem("reason", "must not be blank")
    new_owner = await active_staff(session, principal, body.to_owner_id, field="to_owner_id")
    await check_owner_branch_open(session, new_owner.branch_code, field="to_owner_id")
    target = {
        "owner_id": new_owner.id,
        "owner_name": new_owner.full_name or new_owner.username,
        "branch_code": new_owner.branch_code,
        "region_code": new_owner.region_code,
    }
    operation_id = new_id()
    now = utcnow()
    source = body.from_owner_id

    # Everything is selected (and locked) before anything moves, so each scope test sees the
    # records where they were.
    customers = await _locked(
        session,
        select(Customer)
        .where(
            Customer.owner_id == source,
            Customer.status != CustomerStatus.MERGED,
            visibility_clause(principal, Customer),
        )
        .order_by(Customer.id),
    )
    leads = await _locked(
        session, select(Lead).where(Lead.owner_id == source, visibility_clause(principal, Lead)).order_by(Lead.id)
    )
    opportunities = await _locked(
        session,
        select(Opportunity)
        .where(
            Opportunity.owner_id == source,
            Opportunity.stage.in_([str(s) for s in OPEN_STAGES]),
            visibility_clause(principal, Opportunity),
        )
        .order_by(Opportunity.id),
    )
    activities = await _locked(
        session,
        select(Activity)
        .where(Activity.owner_id == source, Activity.done_at.is_(None), activity_visibility_clause(principal))
        .order_by(Activity.id),
    )

    audit = dict(operation_id=operation_id, action="reassigned")
    extra = {"operation_id": operation_id, "previous_owner_id": source, "reason": reason}

    for entity_type, records, record_event in (
        ("customer", customers, record_customer_event),
        ("lead", leads, record_lead_event),
        ("opportunity", opportunities, record_opportunity_event),
    ):
        for record in records:
            before = _ownership(record)
            for field, value in target.items():
                setattr(record, field, value)
            mark_changed(record, now)
            record_change(
                session, principal, entity_type=entity_type, entity_id=record.id, changes=diff(before, target), **audit
            )
            await record_event(session, "reassigned", record, **extra)

    await session.flush()
    placements = await placements_of(session, activities)  # after the records they are about moved
    for activity in activities:
        before = {"owner_id": activity.owner_id, "owner_name": activity.owner_name}
        activity.owner_id, activity.owner_name = target["owner_id"], target["owner_name"]
        mark_changed(activity, now)
        record_change(
            session,
            principal,
            entity_type="activity",
            entity_id=activity.id,
            changes=diff(before, {"owner_id": activity.owner_id, "owner_name": activity.owner_name}),
            **audit,
        )
        await record_activity_event(
            session,
            "reassigned",
            activity,
            placements.get((activity.related_type, activity.related_id), ("", "")),
            **extra,
        )

    counts = {
        "customer": len(customers),
        "lead": len(leads),
        "opportunity": len(opportunities),
        "activity": len(activities),
    }
    operation = Reassignment(
        id=operation_id,
        from_owner_id=source,
        to_owner_id=new_owner.id,
        to_owner_name=target["owner_name"],
        to_branch_code=new_owner.branch_code,
        to_region_code=new_owner.region_code,
        reason=reason,
        actor_id=principal.subject,
        actor_name=principal.username,
        actor_role=principal.role.value,
        scope=scope_label(principal),
        counts=counts,
        at=now,
    )
    session.add(operation)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=operation_id,
        action="created",
        operation_id=operation_id,
        changes={
            "from_owner_id": [None, source],
            "to_owner_id": [None, new_owner.id],
            "reason": [None, reason],
            "scope": [None, operation.scope],
            "counts": [None, counts],
        },
    )
    await session.flush()
    return operation


async def move_customer_records(
    session: AsyncSession, principal: Principal, duplicate_id: str, survivor_id: str
) -> dict[str, int]:
    """After a customer merge: the leads, opportunities and activities that pointed at the
    duplicate point at the survivor, each audited and announced (``updated``). Meant to run in
    the merge's own transaction; returns how many records of each kind moved."""
    now = utcnow()
    leads = await _locked(session, select(Lead).where(Lead.customer_id == duplicate_id).order_by(Lead.id))
    opportunities = await _locked(
        session, select(Opportunity).where(Opportunity.customer_id == duplicate_id).order_by(Opportunity.id)
    )
    activities = await _locked(
        session,
        select(Activity)
        .where(Activity.related_type == "customer", Activity.related_id == duplicate_id)
        .order_by(Activity.id),
    )
    change = {"customer_id": [duplicate_id, survivor_id]}
    for entity_type, records, record_event in (
        ("lead", leads, record_lead_event),
        ("opportunity", opportunities, record_opportunity_event),
    ):
        for record in records:
            record.customer_id = survivor_id
            mark_changed(record, now)
            record_change(
                session,
                principal,
                entity_type=entity_type,
                entity_id=record.id,
                action="customer_merged",
                changes=change,
            )
            await record_event(session, "updated", record)
    if activities:
        survivor = await session.get(Customer, survivor_id)
        placement = (survivor.region_code, survivor.branch_code)
        for activity in activities:
            activity.related_id = survivor_id
            mark_changed(activity, now)
            record_change(
                session,
                principal,
                entity_type="activity",
                entity_id=activity.id,
                action="customer_merged",
                changes={"related_id": [duplicate_id, survivor_id]},
            )
            await record_activity_event(session, "updated", activity, placement)
    return {"lead": len(leads), "opportunity": len(opportunities), "activity": len(activities)}


async def operation_view(session: AsyncSession, operation: Reassignment) -> dict[str, Any]:
    entries = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.operation_id == operation.id, AuditEntry.entity_type != ENTITY)
        .order_by(AuditEntry.id)
    )
    return {
        "id": operation.id,
        "from_owner_id": operation.from_owner_id,
        "to_owner_id": operation.to_owner_id,
        "to_owner_name": operation.to_owner_name,
        "to_branch_code": operation.to_branch_code,
        "to_region_code": operation.to_region_code,
        "reason": operation.reason,
        "actor_id": operation.actor_id,
        "actor_name": operation.actor_name,
        "actor_role": operation.actor_role,
        "scope": operation.scope,
        "at": iso(operation.at),
        "counts": operation.counts,
        "moved": [{"entity_type": e.entity_type, "entity_id": e.entity_id, "changes": e.changes} for e in entries],
    }


@router.post(
    "/reassignments",
    status_code=201,
    response_model=ReassignmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="Move everything a person owns in your scope to a new owner (one transaction, one operation)",
)
async def create_reassignment(
    body: ReassignmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_reassigner(principal)

    async def create() -> dict:
        return await operation_view(session, await reassign(session, principal, body))

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda view: {"Location": f"{REASSIGNMENTS_PATH}/{view['id']}"},
        flush=lambda: flush_or_conflict(session, ENTITY),
    )


@router.get(
    "/reassignments/{operation_id}",
    response_model=ReassignmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="A reassignment and every record it moved",
)
async def get_reassignment(operation_id: str, principal: CurrentPrincipal, session: Session):
    require_reassigner(principal)
    operation = await session.get(Reassignment, operation_id[:36])
    if operation is None or not may_see_reassignment(
        principal, operation.actor_id, operation.to_region_code, operation.to_branch_code
    ):
        raise not_found(ENTITY, operation_id[:64])
    return await operation_view(session, operation)
