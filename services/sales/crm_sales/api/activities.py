"""Activities (/api/v1/sales/activities): calls, meetings, tasks and notes on a customer, lead
or opportunity. An activity is visible to whoever sees the record it is about; call-centre
agents may log interactions on any customer they can see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field, StrictInt
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.concurrency import (
    IfMatch,
    check_version,
    etag,
    flush_or_conflict,
    required_version,
    version_headers,
)
from crm_shared.db import new_id, utcnow
from crm_shared.domain import InvalidField
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, forbidden, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from crm_shared.records import get_visible, mark_changed
from crm_shared.schemas import Strict

from ..access import may_change_activity, may_log_on, require_activity_writer, visible_through_related
from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity
from ..domain.customers import CustomerStatus
from ..domain.pipeline import ActivityKind, RelatedType, clean_text
from ..events.publishers import Placement, activity_state, record_activity_event
from .pipeline_common import (
    active_staff,
    member_sees,
    newest_first_page,
    reject_nulls,
)

router = APIRouter(prefix="/api/v1/sales", tags=["activities"])

ENTITY = "activity"
ACTIVITIES_PATH = "/api/v1/sales/activities"
RELATED_MODELS: dict[str, Any] = {
    RelatedType.CUSTOMER: Customer,
    RelatedType.LEAD: Lead,
    RelatedType.OPPORTUNITY: Opportunity,
}

Subject = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(max_length=10_000)]


class ActivityCreate(Strict):
    kind: ActivityKind
    related_type: RelatedType
    related_id: Annotated[str, Field(min_length=1, max_length=64)]
    subject: Subject
    body: LongText | None = None
    due_at: AwareDatetime | None = Field(None, description="when a task or meeting is due (with a time zone)")
    done_at: AwareDatetime | None = Field(None, description="when it happened; a note is done when written")
    outcome: LongText | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="who does it: a staff member in your scope who sees the record; default you"
    )


class ActivityUpdate(Strict):
    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    subject: Subject | None = None
    body: LongText | None = None
    due_at: AwareDatetime | None = None
    done_at: AwareDatetime | None = Field(None, description="set it to mark the activity done; null reopens it")
    outcome: LongText | None = None


class ActivityOut(BaseModel):
    id: str
    kind: ActivityKind
    related_type: RelatedType
    related_id: str
    subject: str
    body: str | None
    due_at: datetime | None
    done_at: datetime | None
    outcome: str | None
    owner_id: str
    owner_name: str
    created_by: str
    branch_code: str = Field(description="the branch of the record the activity is about")
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime


def activity_url(activity_id: str) -> str:
    return f"{ACTIVITIES_PATH}/{activity_id}"


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], activity_url(view["id"]))


# --- visibility through the related record -------------------------------------------------------


def activity_visibility_clause(principal: Principal) -> ColumnElement[bool]:
    """Activities whose related record the caller sees."""
    return visible_through_related(principal, Activity.related_type, Activity.related_id, RELATED_MODELS)


async def placement_of(session: AsyncSession, related_type: str, related_id: str) -> Placement:
    model = RELATED_MODELS[related_type]
    row = (await session.execute(select(model.region_code, model.branch_code).where(model.id == related_id))).first()
    return (row[0], row[1]) if row else ("", "")


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


async def get_visible_activity(
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


async def log_activity(session: AsyncSession, principal: Principal, body: ActivityCreate) -> tuple[Activity, Placement]:
    """A new activity on a record the caller may log on, audited, with its event; returns it and
    where its record is."""
    require_activity_writer(principal)
    subject = clean_text(body.subject)
    if not subject:
        raise field_problem("subject", "must not be blank")
    record = await related_record(session, principal, body.related_type, body.related_id)
    if not may_log_on(principal, body.related_type, record.region_code, record.branch_code):
        raise forbidden(f"you may not log activities on this {body.related_type}")
    if body.related_type == RelatedType.CUSTOMER and record.status == CustomerStatus.MERGED:
        raise conflict(
            f"related_id: customer {record.id} was merged into {record.merged_into_id}; log it there",
            merged_into_id=record.merged_into_id,
            errors=[{"field": "related_id", "message": "was merged into another customer"}],
        )
    owner_id, owner_name = principal.subject, principal.username
    if body.owner_id is not None and body.owner_id != principal.subject:
        member = await active_staff(session, principal, body.owner_id, field="owner_id")
        if not member_sees(member, record.region_code, record.branch_code):
            raise InvalidField("owner_id", f"this staff member cannot see the {body.related_type}")
        owner_id, owner_name = member.id, member.full_name or member.username
    now = utcnow()
    activity = Activity(
        id=new_id(),
        kind=body.kind,
        related_type=body.related_type,
        related_id=record.id,
        subject=subject,
        body=body.body,
        due_at=body.due_at,
        done_at=body.done_at or (now if body.kind == ActivityKind.NOTE else None),
        outcome=body.outcome,
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


# --- endpoints -----------------------------------------------------------------------------------


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityOut,
    responses=OPENAPI_PROBLEMS,
    summary="Log a call, meeting, task or note on a customer, lead or opportunity",
)
async def create_activity(
    body: ActivityCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_activity_writer(principal)

    async def create() -> dict:
        return activity_state(*await log_activity(session, principal, body))

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=_headers,
        flush=lambda: flush_or_conflict(session, ENTITY),
    )


@router.get("/activities/{activity_id}", response_model=ActivityOut, responses=OPENAPI_PROBLEMS, summary="One activity")
async def get_activity(activity_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    activity = await get_visible_activity(session, principal, activity_id)
    response.headers["ETag"] = etag(activity.version)
    return activity_state(activity, await placement_of(session, activity.related_type, activity.related_id))


@router.get(
    "/activities",
    response_model=Page[ActivityOut],
    responses=OPENAPI_PROBLEMS,
    summary="Activities on records you can see, newest first (e.g. one customer's timeline)",
)
async def list_activities(
    principal: CurrentPrincipal,
    session: Session,
    related_type: RelatedType | None = None,
    related_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: ActivityKind | None = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[Literal["open", "done"] | None, Query(description="open: not done yet")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    require_personal_data_access(principal)
    if related_id is not None and related_type is None:
        raise field_problem("related_type", "required with related_id")
    if related_id is not None:
        await related_record(session, principal, related_type, related_id)  # 404 when not visible
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
    return {
        "items": [activity_state(a, placements.get((a.related_type, a.related_id), ("", ""))) for a in rows],
        "next_cursor": next_cursor,
    }


UPDATABLE = ("subject", "body", "due_at", "done_at", "outcome")


@router.patch(
    "/activities/{activity_id}",
    response_model=ActivityOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change an activity or mark it done (optimistic concurrency)",
)
async def update_activity(
    activity_id: str,
    body: ActivityUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    require_activity_writer(principal)
    activity = await get_visible_activity(session, principal, activity_id, for_update=True)
    record = await related_record(session, principal, activity.related_type, activity.related_id)
    if not may_change_activity(principal, activity.owner_id, record.region_code, record.branch_code):
        raise forbidden("you may change only the activities you logged on this record")
    check_version(ENTITY, activity.version, required_version(if_match, body.version, ENTITY))
    reject_nulls(body, ("subject",))
    sent = body.model_fields_set - {"version"}
    if "subject" in sent and not clean_text(body.subject):
        raise field_problem("subject", "must not be blank")
    placement = (record.region_code, record.branch_code)
    before = activity_state(activity, placement)
    was_open = activity.done_at is None
    for field in UPDATABLE:
        if field in sent:
            value = getattr(body, field)
            setattr(activity, field, clean_text(value) if field == "subject" else value)
    changes = diff(before, activity_state(activity, placement))
    if changes:
        action = "completed" if was_open and activity.done_at is not None else "updated"
        mark_changed(activity)
        record_change(session, principal, entity_type=ENTITY, entity_id=activity.id, action=action, changes=changes)
        await record_activity_event(session, action, activity, placement)
    response.headers["ETag"] = etag(activity.version)
    return activity_state(activity, placement)
