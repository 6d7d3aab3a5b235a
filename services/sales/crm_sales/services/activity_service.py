"""Activities: calls, meetings, tasks and notes on a customer, lead or opportunity. An activity
is visible to whoever sees the record it is about; call-centre agents may log interactions on
any customer they can see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.db import new_id, utcnow
from crm_shared.domain import InvalidField
from crm_shared.errors import conflict, field_problem, forbidden
from crm_shared.records import get_visible, mark_changed

from ..access import (
    may_change_activity,
    may_log_on,
    require_activity_writer,
    visible_through_related,
)
from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity
from ..domain.customers import CustomerStatus
from ..domain.pipeline import ActivityKind, RelatedType, check_new_activity_kind, clean_text
from ..events.publishers import Placement, activity_state, record_activity_event
from .pages import newest_first_page
from .staff_directory_service import active_staff, member_sees, own_name

ENTITY = "activity"
ACTIVITIES_PATH = "/api/v1/sales/activities"
RELATED_MODELS: dict[str, Any] = {
    RelatedType.CUSTOMER: Customer,
    RelatedType.LEAD: Lead,
    RelatedType.OPPORTUNITY: Opportunity,
}
UPDATABLE = ("subject", "body", "due_at", "done_at", "outcome")
NOWHERE: Placement = ("", "")  # the related record is gone


def activity_url(activity_id: str) -> str:
    return f"{ACTIVITIES_PATH}/{activity_id}"


@dataclass(frozen=True, kw_only=True)
class NewActivity:
    kind: str
    related_type: str
    related_id: str
    subject: str
    body: str | None = None
    due_at: datetime | None = None  # when a task or meeting is due
    done_at: datetime | None = None  # when it happened; a note is done when written
    outcome: str | None = None
    owner_id: str | None = None  # a staff member in the caller's scope who sees the record; default the caller


# --- visibility through the related record -------------------------------------------------------


def activity_visibility_clause(principal: Principal) -> ColumnElement[bool]:
    """Activities whose related record the caller sees."""
    return visible_through_related(principal, Activity.related_type, Activity.related_id, RELATED_MODELS)


async def placement_of(session: AsyncSession, related_type: str, related_id: str) -> Placement:
    model = RELATED_MODELS[related_type]
    row = (await session.execute(select(model.region_code, model.branch_code).where(model.id == related_id))).first()
    return (row[0], row[1]) if row else NOWHERE


async def placements_of(session: AsyncSession, activities: list[Activity]) -> dict[tuple[str, str], Placement]:
    """Where the related record of each activity is, in one query per related type."""
    found: dict[tuple[str, str], Placement] = {}
    for kind, model in RELATED_MODELS.items():
        ids = {a.related_id for a in activities if a.related_type == kind}
        if ids:
            rows = await session.execute(
                select(model.id, model.region_code, model.branch_code).where(model.id.in_(ids))
            )
            found.update({(str(kind), rid): (region, branch) for rid, region, branch in rows})
    return found


async def related_record(session: AsyncSession, principal: Principal, related_type: str, related_id: str):
    """The record an activity is about, if the caller sees it; 404 naming related_id otherwise."""
    return await get_visible(
        session, principal, RELATED_MODELS[related_type], related_id, what=related_type, field="related_id"
    )


async def _visible_activity(
    session: AsyncSession, principal: Principal, activity_id: str, *, for_update: bool = False
) -> Activity:
    return await get_visible(
        session,
        principal,
        Activity,
        activity_id,
        what=ENTITY,
        for_update=for_update,
        visibility=activity_visibility_clause(principal),
    )


# --- read ----------------------------------------------------------------------------------------


async def get_activity(session: AsyncSession, principal: Principal, activity_id: str) -> tuple[Activity, Placement]:
    activity = await _visible_activity(session, principal, activity_id)
    return activity, await placement_of(session, activity.related_type, activity.related_id)


async def list_activities(
    session: AsyncSession,
    principal: Principal,
    *,
    related_type: str | None = None,
    related_id: str | None = None,
    kind: str | None = None,
    owner_id: str | None = None,
    state: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[tuple[Activity, Placement]], str | None]:
    """Activities on records the caller sees, newest first (``state`` "open": not done yet, or
    "done"); with ``related_id``, one record's timeline (404 when that record is not visible)."""
    require_personal_data_access(principal)
    if related_id is not None and related_type is None:
        raise field_problem("related_type", "required with related_id")
    if related_id is not None:
        await related_record(session, principal, related_type, related_id)
    stmt = select(Activity).where(activity_visibility_clause(principal))
    for column, value in (
        (Activity.related_type, related_type),
        (Activity.related_id, related_id),
        (Activity.kind, kind),
        (Activity.owner_id, owner_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if state == "open":
        stmt = stmt.where(Activity.done_at.is_(None))
    elif state == "done":
        stmt = stmt.where(Activity.done_at.is_not(None))
    rows, next_cursor = await newest_first_page(session, stmt, Activity, limit, cursor)
    placements = await placements_of(session, rows)
    return [(a, placements.get((a.related_type, a.related_id), NOWHERE)) for a in rows], next_cursor


# --- log / change --------------------------------------------------------------------------------


async def log_activity(session: AsyncSession, principal: Principal, new: NewActivity) -> tuple[Activity, Placement]:
    """A new activity on a record the caller may log on, audited, with its event; returns it and
    where its record is."""
    require_activity_writer(principal)
    check_new_activity_kind(new.kind)
    subject = clean_text(new.subject)
    if not subject:
        raise field_problem("subject", "must not be blank")
    record = await related_record(session, principal, new.related_type, new.related_id)
    if not may_log_on(principal, new.related_type, record.region_code, record.branch_code):
        raise forbidden(f"you may not log activities on this {new.related_type}")
    if new.related_type == RelatedType.CUSTOMER and record.status == CustomerStatus.MERGED:
        raise conflict(
            f"related_id: customer {record.id} was merged into {record.merged_into_id}; log it there",
            merged_into_id=record.merged_into_id,
            errors=[{"field": "related_id", "message": "was merged into another customer"}],
        )
    owner_id, owner_name = principal.subject, await own_name(session, principal)
    if new.owner_id is not None and new.owner_id != principal.subject:
        member = await active_staff(session, principal, new.owner_id, field="owner_id")
        if not member_sees(member, record.region_code, record.branch_code):
            raise InvalidField("owner_id", f"this staff member cannot see the {new.related_type}")
        owner_id, owner_name = member.id, member.full_name or member.username
    now = utcnow()
    activity = Activity(
        id=new_id(),
        kind=new.kind,
        related_type=new.related_type,
        related_id=record.id,
        subject=subject,
        body=new.body,
        due_at=new.due_at,
        done_at=new.done_at or (now if new.kind == ActivityKind.NOTE else None),
        outcome=new.outcome,
        owner_id=owner_id,
        owner_name=owner_name,
        created_by=principal.subject,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(activity)
    placement = (record.region_code, record.branch_code)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=activity.id,
        action="created",
        changes=creation_changes(activity_state(activity, placement)),
    )
    await record_activity_event(session, "created", activity, placement)
    return activity, placement


async def get_changeable_activity(
    session: AsyncSession, principal: Principal, activity_id: str
) -> tuple[Activity, Placement]:
    """The activity (locked) if the caller may change it, and where its record is: whoever may
    change the record it is about, or the call-centre agent who logged it (403 otherwise)."""
    require_activity_writer(principal)
    activity = await _visible_activity(session, principal, activity_id, for_update=True)
    record = await related_record(session, principal, activity.related_type, activity.related_id)
    if not may_change_activity(principal, activity.owner_id, record.region_code, record.branch_code):
        raise forbidden("you may change only the activities you logged on this record")
    return activity, (record.region_code, record.branch_code)


async def change_activity(
    session: AsyncSession, principal: Principal, activity: Activity, placement: Placement, patch: Mapping[str, Any]
) -> Activity:
    """Applies the fields sent (``patch``: field -> new value) to a changeable activity (its
    version already checked); setting ``done_at`` completes it. Audited, with its event
    (crm.sales.activity.completed or .updated) when anything changed."""
    if "subject" in patch and patch["subject"] is None:
        raise field_problem("subject", "must not be null")
    sent = set(patch)
    if "subject" in sent and not clean_text(patch["subject"]):
        raise field_problem("subject", "must not be blank")
    before = activity_state(activity, placement)
    was_open = activity.done_at is None
    for field in UPDATABLE:
        if field in sent:
            value = patch[field]
            setattr(activity, field, clean_text(value) if field == "subject" else value)
    changes = diff(before, activity_state(activity, placement))
    if changes:
        action = "completed" if was_open and activity.done_at is not None else "updated"
        mark_changed(activity)
        record_change(session, principal, entity_type=ENTITY, entity_id=activity.id, action=action, changes=changes)
        await record_activity_event(session, action, activity, placement)
    return activity
