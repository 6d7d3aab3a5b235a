"""The staff directory (staff_members): who may own sales records. The gateway is the system of
record for its users; the staff-directory consumer keeps this projection from its user events.
Records follow their owner into the owner's branch, which must be open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.db import utcnow
from crm_shared.domain import InvalidField

from ..access import StaffView, check_new_owner, staff_sees
from ..db.pipeline_models import StaffMember
from .branch_directory_service import region_of_open_branch
from .projections import latest_state_row


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


async def own_name(session: AsyncSession, principal: Principal) -> str:
    """The caller's name as the staff directory has it (the sign-in name only while the directory
    does not know the caller yet): what a record the caller owns shows as its owner."""
    member = await session.get(StaffMember, principal.subject)
    return (member.full_name or member.username) if member is not None else principal.display_name


async def staff_names(session: AsyncSession, staff_ids: set[str]) -> dict[str, str]:
    """{id: full name} of the staff members the directory knows among ``staff_ids``."""
    ids = {i for i in staff_ids if i}
    if not ids:
        return {}
    rows = await session.execute(
        select(StaffMember.id, StaffMember.full_name, StaffMember.username).where(StaffMember.id.in_(ids))
    )
    return {member_id: full_name or username for member_id, full_name, username in rows}


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
        owner = Owner(principal.subject, await own_name(session, principal), principal.branch, principal.region)
    else:
        member = await active_staff(session, principal, owner_id, field=field)
        owner = Owner(member.id, member.full_name or member.username, member.branch_code, member.region_code)
    await check_owner_branch_open(session, owner.branch_code, field=field)
    return owner


async def check_owner_branch_open(session: AsyncSession, branch_code: str, *, field: str) -> None:
    """422 naming ``field`` (the owner) when the owner's branch is unknown to the branch directory
    or closed."""
    await region_of_open_branch(
        session, branch_code, field=field, whose="records cannot be placed in this owner's branch"
    )


async def record_staff_member(
    session: AsyncSession,
    member_id: str,
    *,
    username: str,
    full_name: str,
    role: str,
    region_code: str | None,
    branch_code: str | None,
    active: bool,
    as_of: datetime,
    email: str | None = None,
    language: str | None = None,
) -> None:
    """Sets the directory's entry of ``member_id`` to the user's state at ``as_of``, unless a later
    state is already there."""
    member = await latest_state_row(session, as_of, StaffMember, id=member_id)
    if member is None:
        return
    member.username = username
    member.full_name = full_name
    member.role = role
    member.region_code = region_code
    member.branch_code = branch_code
    member.active = active
    member.email = email
    member.language = language
    member.event_time = as_of
    member.updated_at = utcnow()
