"""What the pipeline routers (leads, opportunities, activities, reassignments) share: text
PATCH null checks, newest-first cursor pages, and who may own a record (the staff
directory, kept by the staff-directory consumer). Versions, If-Match, Idempotency-Key and record
visibility are the platform's (crm_shared.concurrency, .idempotency, .records); whether a branch
takes new records is the branch directory's (crm_sales.branch_directory)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.domain import InvalidField
from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor

from ..access import StaffView, check_new_owner, staff_sees
from ..branch_directory import region_of_open_branch
from ..db.pipeline_models import StaffMember


def reject_nulls(body: BaseModel, fields: tuple[str, ...]) -> None:
    """PATCH semantics: an absent field is unchanged, but these may not be sent as null."""
    for field in fields:
        if field in body.model_fields_set and getattr(body, field) is None:
            raise field_problem(field, "must not be null")


# --- newest-first cursor pages -------------------------------------------------------------------


def after_created(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, id) a newest-first list continues after."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        created_at, record_id = values
        return datetime.fromisoformat(created_at), str(record_id)
    except (TypeError, ValueError):
        raise field_problem(
            "cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400
        ) from None


async def newest_first_page(
    session: AsyncSession, stmt: Select, model: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (selecting ``model``), newest first, and the next page's cursor (or None)."""
    after = after_created(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(model.created_at, model.id) < tuple_(*after))
    rows = list(await session.scalars(stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor([last.created_at.isoformat(), last.id])
    return rows, None


# --- owners and the staff directory --------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    id: str
    name: str
    branch_code: str
    region_code: str


def staff_view(member: StaffMember) -> StaffView:
    return StaffView(
        id=member.id,
        role=member.role,
        region_code=member.region_code,
        branch_code=member.branch_code,
        active=member.active,
    )


def member_sees(member: StaffMember, region_code: str, branch_code: str) -> bool:
    """Whether this staff member's own role and place let them see a record placed there."""
    return staff_sees(staff_view(member), region_code, branch_code)


async def active_staff(session: AsyncSession, principal: Principal, staff_id: str, *, field: str) -> StaffMember:
    """A staff member who may take over records from the caller's hands (422 naming ``field`` if not)."""
    member = await session.get(StaffMember, staff_id)
    check_new_owner(principal, staff_view(member) if member is not None else None, field=field)
    return member


async def resolve_owner(
    session: AsyncSession, principal: Principal, owner_id: str | None, *, field: str = "owner_id"
) -> Owner:
    """The owner a record gets, whose branch it is placed in: the caller by default, or a staff
    member in the caller's scope; the branch must be open."""
    if owner_id is None or owner_id == principal.subject:
        if not principal.branch or not principal.region:
            raise InvalidField(field, "required: you have no branch of your own, so name the owner")
        owner = Owner(principal.subject, principal.username, principal.branch, principal.region)
    else:
        member = await active_staff(session, principal, owner_id, field=field)
        owner = Owner(member.id, member.full_name or member.username, member.branch_code, member.region_code)
    await check_owner_branch_open(session, owner.branch_code, field=field)
    return owner


async def check_owner_branch_open(session: AsyncSession, branch_code: str, *, field: str) -> None:
    """Records follow their owner into the owner's branch: 422 naming ``field`` (the owner) when
    that branch is unknown to the branch directory or closed."""
    await region_of_open_branch(
        session, branch_code, field=field, whose="records cannot be placed in this owner's branch"
    )
