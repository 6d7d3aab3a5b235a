"""The staff directory: colleagues to pick by name (a new owner for a departing manager's records,
an assignee for a ticket). Read-only, for signed-in staff; never credentials.

Visibility follows the caller's reach: admins see everyone, a regional manager the staff of its
region, branch staff their branch, the call centre (which routes tickets nationally) the active
staff everywhere; analysts see aggregates only, and external systems (API keys) no one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import ColumnElement, and_, false, or_, select, true

from crm_shared.auth import Role
from crm_shared.errors import Problem, field_problem, openapi_problems
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from crm_shared.reference import REGIONS_BY_CODE

from ..authn import Caller
from ..db.models import Branch, User
from ..domain.users import staff_role
from ..state import gateway_of
from .deps import CurrentCaller
from .schemas import StaffOut

router = APIRouter(prefix="/api/v1", tags=["staff"])
MAX_QUERY_LENGTH = 100


async def staff_reader(caller: CurrentCaller) -> Caller:
    if caller.kind != "user":
        raise Problem(403, "Forbidden", "the staff directory is for signed-in staff, not for API keys")
    if caller.principal.role is Role.HQ_ANALYST:
        raise Problem(403, "Forbidden", "role hq_analyst sees aggregates only, not staff")
    return caller


StaffReader = Annotated[Caller, Depends(staff_reader)]


def visible_staff(caller: Caller) -> ColumnElement[bool]:
    principal = caller.principal
    role = principal.role
    if role in (Role.ADMIN, Role.CALL_CENTER_AGENT):
        return true()
    if role is Role.REGIONAL_MANAGER and principal.region:
        branches = select(Branch.code).where(Branch.region_code == principal.region)
        return or_(User.region_code == principal.region, User.branch_code.in_(branches))
    if role in (Role.BRANCH_MANAGER, Role.BRANCH_AGENT) and principal.branch:
        return User.branch_code == principal.branch
    return false()


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(
    q: str | None, role: str | None, branch_code: str | None, region_code: str | None
) -> list[ColumnElement[bool]]:
    filters = []
    if q is not None and q.strip():
        pattern = _contains(q.strip())
        filters.append(or_(User.username.ilike(pattern, escape="\\"), User.full_name.ilike(pattern, escape="\\")))
    if role is not None:
        filters.append(User.role == staff_role(role).value)
    if branch_code is not None:
        filters.append(User.branch_code == branch_code)
    if region_code is not None:
        if region_code not in REGIONS_BY_CODE:
            raise field_problem("region_code", f"unknown region {region_code!r}")
        filters.append(User.region_code == region_code)
    return filters


def _after(cursor: str | None) -> tuple[str, str] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    return values[0], values[1]


@router.get(
    "/staff",
    response_model=Page[StaffOut],
    responses=openapi_problems(400, 401, 403, 422),
    summary="Colleagues in the caller's reach, by full name (q: part of the name or username)",
)
async def list_staff(
    request: Request,
    caller: StaffReader,
    q: Annotated[
        str | None, Query(max_length=MAX_QUERY_LENGTH, description="part of the username or full name, any case")
    ] = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    region_code: Annotated[str | None, Query(max_length=16)] = None,
    include_inactive: Annotated[bool, Query(description="also deactivated accounts (not for the call centre)")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Page[StaffOut]:
    query = select(User).where(visible_staff(caller), *_filters(q, role, branch_code, region_code))
    if not include_inactive or caller.principal.role is Role.CALL_CENTER_AGENT:
        query = query.where(User.active.is_(True))
    after = _after(cursor)
    if after is not None:
        name, user_id = after
        query = query.where(or_(User.full_name > name, and_(User.full_name == name, User.id > user_id)))
    query = query.order_by(User.full_name, User.id).limit(limit + 1)
    async with gateway_of(request).db.read_only() as session:
        if branch_code is not None and await session.get(Branch, branch_code) is None:
            raise field_problem("branch_code", f"unknown branch {branch_code!r}")
        users = list(await session.scalars(query))
    next_cursor = encode_cursor([users[limit - 1].full_name, users[limit - 1].id]) if len(users) > limit else None
    return Page[StaffOut](items=[StaffOut.model_validate(u) for u in users[:limit]], next_cursor=next_cursor)
