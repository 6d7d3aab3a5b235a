"""The staff directory: colleagues to pick by name (a new owner for a departing manager's records,
an assignee for a ticket). Read-only; never credentials.

Visibility follows the caller's reach: admins see everyone, a regional manager the staff of its
region, branch staff their branch, the call centre (which routes tickets nationally) the active
staff everywhere; every other role no one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role
from crm_shared.domain import InvalidField
from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor

from ..db.models import Branch, User
from ..domain.branches import known_region
from .user_service import staff_role


@dataclass(frozen=True)
class StaffSearch:
    """``q``: part of the username or full name, any case; ``include_inactive`` is ignored for the
    call centre, which only ever sees active staff."""

    q: str | None = None
    role: str | None = None
    branch_code: str | None = None
    region_code: str | None = None
    include_inactive: bool = False


def visible_staff(principal: Principal) -> ColumnElement[bool]:
    role = principal.role
    if role in (Role.ADMIN, Role.CALL_CENTER_AGENT):
        return true()
    if role is Role.REGIONAL_MANAGER and principal.region:
        branches = select(Branch.code).where(Branch.region_code == principal.region)
        return or_(User.region_code == principal.region, User.branch_code.in_(branches))
    if role in (Role.BRANCH_MANAGER, Role.BRANCH_AGENT) and principal.branch:
        return User.branch_code == principal.branch
    return false()


async def list_staff(
    session: AsyncSession, principal: Principal, search: StaffSearch, *, limit: int, cursor: str | None = None
) -> tuple[list[User], str | None]:
    """A page of the colleagues in the caller's reach by full name, and the cursor of the next page
    (None after the last)."""
    # Partner users are the dealers' and agents' people, not the operator's staff.
    query = select(User).where(visible_staff(principal), User.role != Role.PARTNER.value, *_filters(search))
    if not search.include_inactive or principal.role is Role.CALL_CENTER_AGENT:
        query = query.where(User.active.is_(True))
    after = _after(cursor)
    if after is not None:
        name, user_id = after
        query = query.where(or_(User.full_name > name, and_(User.full_name == name, User.id > user_id)))
    query = query.order_by(User.full_name, User.id).limit(limit + 1)
    if search.branch_code is not None and await session.get(Branch, search.branch_code) is None:
        raise InvalidField("branch_code", f"unknown branch {search.branch_code!r}")
    users = list(await session.scalars(query))
    next_cursor = encode_cursor([users[limit - 1].full_name, users[limit - 1].id]) if len(users) > limit else None
    return users[:limit], next_cursor


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(search: StaffSearch) -> list[ColumnElement[bool]]:
    filters = []
    if search.q is not None and search.q.strip():
        pattern = _contains(search.q.strip())
        filters.append(or_(User.username.ilike(pattern, escape="\\"), User.full_name.ilike(pattern, escape="\\")))
    if search.role is not None:
        filters.append(User.role == staff_role(search.role).value)
    if search.branch_code is not None:
        filters.append(User.branch_code == search.branch_code)
    if search.region_code is not None:
        filters.append(User.region_code == known_region(search.region_code))
    return filters


def _after(cursor: str | None) -> tuple[str, str] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    return values[0], values[1]
