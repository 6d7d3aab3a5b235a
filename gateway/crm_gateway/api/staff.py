"""The staff directory (GET /api/v1/staff): colleagues to pick by name, for signed-in staff (the
use case and who sees whom: services/staff_service.py). Analysts see aggregates only, and external
systems (API keys) no one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from crm_shared.auth import Role
from crm_shared.errors import Problem, openapi_problems
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..authn import Caller
from ..services import staff_service
from ..services.staff_service import StaffSearch
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
    search = StaffSearch(
        q=q, role=role, branch_code=branch_code, region_code=region_code, include_inactive=include_inactive
    )
    async with gateway_of(request).db.read_only() as session:
        users, next_cursor = await staff_service.list_staff(
            session, caller.principal, search, limit=limit, cursor=cursor
        )
    return Page[StaffOut](items=[StaffOut.model_validate(u) for u in users], next_cursor=next_cursor)
