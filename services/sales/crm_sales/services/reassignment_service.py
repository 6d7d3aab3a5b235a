"""Bulk reassignment: when someone leaves, everything they own within the caller's scope
(customers, leads, open opportunities, open activities) moves to a new owner in one transaction,
as one audited operation. And after a customer merge, the pipeline records that pointed at the
duplicate follow the survivor (``move_customer_records``).

The records follow their new owner into the owner's branch and region, so that the new owner
(who may work in another branch of the region, or anywhere for an admin) can see them.
Activities have no place of their own: they stay with the record they are about.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import diff, record_change
from crm_shared.auth import Principal, visibility_clause
from crm_shared.db import new_id, utcnow
from crm_shared.errors import field_problem, not_found
from crm_shared.models import AuditEntry
from crm_shared.records import mark_changed

from ..access import may_see_reassignment, require_reassigner, scope_label
from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity, Reassignment
from ..domain.customers import CustomerStatus
from ..domain.pipeline import OPEN_STAGES, RelatedType, clean_text
from ..events.publishers import (
    record_activity_event,
    record_customer_event,
    record_lead_event,
    record_opportunity_event,
)
from .activity_service import NOWHERE, activity_visibility_clause, placements_of
from .names_service import customer_names
from .staff_directory_service import active_staff, check_owner_branch_open, staff_names

ENTITY = "reassignment"
REASSIGNMENTS_PATH = "/api/v1/sales/reassignments"
MAX_ID_IN_MESSAGE = 64


def reassignment_url(operation_id: str) -> str:
    return f"{REASSIGNMENTS_PATH}/{operation_id}"


def _ownership(record: Any) -> dict[str, Any]:
    return {
        "owner_id": record.owner_id,
        "owner_name": record.owner_name,
        "branch_code": record.branch_code,
        "region_code": record.region_code,
    }


async def _locked(session: AsyncSession, stmt) -> list[Any]:
    return list(await session.scalars(stmt.with_for_update()))


async def _owned(session: AsyncSession, principal: Principal, source: str, *, lock: bool) -> tuple[list[Any], ...]:
    """What a reassignment from ``source`` moves within the caller's scope: customers (not merged
    away), leads, open opportunities, open activities; locked when ``lock``."""
    fetch = _locked if lock else _fetched
    customers = await fetch(
        session,
        select(Customer)
        .where(
            Customer.owner_id == source,
            Customer.status != CustomerStatus.MERGED,
            visibility_clause(principal, Customer),
        )
        .order_by(Customer.id),
    )
    leads = await fetch(
        session, select(Lead).where(Lead.owner_id == source, visibility_clause(principal, Lead)).order_by(Lead.id)
    )
    opportunities = await fetch(
        session,
        select(Opportunity)
        .where(
            Opportunity.owner_id == source,
            Opportunity.stage.in_([str(s) for s in OPEN_STAGES]),
            visibility_clause(principal, Opportunity),
        )
        .order_by(Opportunity.id),
    )
    activities = await fetch(
        session,
        select(Activity)
        .where(Activity.owner_id == source, Activity.done_at.is_(None), activity_visibility_clause(principal))
        .order_by(Activity.id),
    )
    return customers, leads, opportunities, activities


async def _fetched(session: AsyncSession, stmt) -> list[Any]:
    return list(await session.scalars(stmt))


async def _new_owner(session: AsyncSession, principal: Principal, from_owner_id: str, to_owner_id: str):
    if from_owner_id == to_owner_id:
        raise field_problem("to_owner_id", "must differ from from_owner_id")
    new_owner = await active_staff(session, principal, to_owner_id, field="to_owner_id")
    await check_owner_branch_open(session, new_owner.branch_code, field="to_owner_id")
    return new_owner


async def preview(
    session: AsyncSession, principal: Principal, from_owner_id: str, to_owner_id: str, *, sample_size: int = 5
) -> dict[str, Any]:
    """What ``reassign`` would move, changing nothing: the two people by name, how many records of
    each kind, and the first few of each by name (customers as their display names)."""
    require_reassigner(principal)
    new_owner = await _new_owner(session, principal, from_owner_id, to_owner_id)
    customers, leads, opportunities, activities = await _owned(session, principal, from_owner_id, lock=False)
    names = await staff_names(session, {from_owner_id})
    if from_owner_id not in names:
        names[from_owner_id] = next((r.owner_name for r in (*customers, *leads, *opportunities, *activities)), "")
    customer_names_of = await customer_names(session, (c.id for c in customers))
    titles = {
        "customer": [(c.id, customer_names_of[c.id]) for c in customers],
        "lead": [(lead.id, lead.name) for lead in leads],
        "opportunity": [(o.id, o.name) for o in opportunities],
        "activity": [(a.id, a.subject) for a in activities],
    }
    return {
        "from_owner_id": from_owner_id,
        "from_owner_name": names[from_owner_id],
        "to_owner_id": new_owner.id,
        "to_owner_name": new_owner.full_name or new_owner.username,
        "counts": {kind: len(records) for kind, records in titles.items()},
        "sample": [
            {"entity_type": kind, "entity_id": record_id, "title": title}
            for kind, records in titles.items()
            for record_id, title in records[:sample_size]
        ],
    }


async def reassign(
    session: AsyncSession, principal: Principal, from_owner_id: str, to_owner_id: str, reason: str
) -> Reassignment:
    """Moves the records and writes the operation, its audit entries and its events; the caller's
    unit of work commits them together."""
    require_reassigner(principal)
    if from_owner_id == to_owner_id:
        raise field_problem("to_owner_id", "must differ from from_owner_id")
    reason = clean_text(reason)
    if not reason:
        raise field_problem("reason", "must not be blank")
    new_owner = await _new_owner(session, principal, from_owner_id, to_owner_id)
    target = {
        "owner_id": new_owner.id,
        "owner_name": new_owner.full_name or new_owner.username,
        "branch_code": new_owner.branch_code,
        "region_code": new_owner.region_code,
    }
    operation_id = new_id()
    now = utcnow()
    source = from_owner_id

    # Everything is selected (and locked) before anything moves, so each scope test sees the
    # records where they were.
    customers, leads, opportunities, activities = await _owned(session, principal, source, lock=True)

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
            placements.get((activity.related_type, activity.related_id), NOWHERE),
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
        actor_name=principal.display_name,
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


async def get_reassignment(session: AsyncSession, principal: Principal, operation_id: str) -> Reassignment:
    """A reassignment for who ran it, admins, and whoever sees where the records went (404 otherwise)."""
    require_reassigner(principal)
    operation = await session.get(Reassignment, operation_id[:36])
    if operation is None or not may_see_reassignment(
        principal, operation.actor_id, operation.to_region_code, operation.to_branch_code
    ):
        raise not_found(ENTITY, operation_id[:MAX_ID_IN_MESSAGE])
    return operation


async def moved_records(session: AsyncSession, operation: Reassignment) -> list[AuditEntry]:
    """The audit entries of every record the operation moved, in the order they moved."""
    return list(
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.operation_id == operation.id, AuditEntry.entity_type != ENTITY)
            .order_by(AuditEntry.id)
        )
    )


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
        .where(Activity.related_type == str(RelatedType.CUSTOMER), Activity.related_id == duplicate_id)
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
