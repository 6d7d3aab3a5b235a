"""Administration of the branch network (role admin): open, rename, close and reopen branches.

Each change is written with its crm.gateway.branch.* event in one transaction (outbox); the sales
service keeps its branch directory from those events. A branch never moves to another region:
every record placed in it carries that region for visibility, so a move would silently change
who sees them. Open a new branch and reassign instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_shared.audit import diff, record_change
from crm_shared.concurrency import check_version, patch_changes, required_version, version_headers
from crm_shared.db import utcnow
from crm_shared.errors import Problem, conflict, not_found, openapi_problems

from ..db.models import Branch, User
from ..domain.branches import active_staff_count, known_region, normalise_code, required_text
from ..events.publishers import branch_event_data, publish_branch
from ..state import gateway_of
from .deps import AdminCaller
from .schemas import BranchAdminList, BranchAdminOut, BranchCreate, BranchPatch

router = APIRouter(prefix="/api/v1/admin/branches", tags=["admin"])
NAME_FIELDS = ("name_kk", "name_ru", "name_en")


def _out(branch: Branch, active_users: int) -> dict:
    return (
        BranchAdminOut.model_validate(branch).model_copy(update={"active_users": active_users}).model_dump(mode="json")
    )


async def _branch_or_404(session, code: str) -> Branch:
    branch = await session.get(Branch, code.strip().upper())
    if branch is None:
        raise not_found("branch", code)
    return branch


@router.get(
    "",
    response_model=BranchAdminList,
    responses=openapi_problems(401, 403),
    summary="The branch network, closed branches included (by code)",
)
async def list_branches(
    request: Request, caller: AdminCaller, region_code: str | None = None, active: bool | None = None
) -> BranchAdminList:
    staff = (
        select(User.branch_code, func.count().label("n"))
        .where(User.active.is_(True))
        .group_by(User.branch_code)
        .subquery()
    )
    query = (
        select(Branch, func.coalesce(staff.c.n, 0))
        .outerjoin(staff, staff.c.branch_code == Branch.code)
        .order_by(Branch.code)
    )
    if region_code is not None:
        query = query.where(Branch.region_code == region_code)
    if active is not None:
        query = query.where(Branch.active.is_(active))
    async with gateway_of(request).db.read_only() as session:
        rows = (await session.execute(query)).all()
    return BranchAdminList(items=[BranchAdminOut.model_validate(_out(branch, n)) for branch, n in rows])


@router.get(
    "/{code}",
    response_model=BranchAdminOut,
    responses=openapi_problems(401, 403, 404),
    summary="One branch (with its ETag)",
)
async def get_branch(code: str, request: Request, caller: AdminCaller) -> JSONResponse:
    async with gateway_of(request).db.read_only() as session:
        branch = await _branch_or_404(session, code)
        staff = await active_staff_count(session, branch.code)
    return JSONResponse(_out(branch, staff), headers=version_headers(branch.version))


@router.post(
    "",
    response_model=BranchAdminOut,
    status_code=201,
    responses=openapi_problems(401, 403, 409, 422),
    summary="Open a branch",
)
async def open_branch(body: BranchCreate, request: Request, caller: AdminCaller) -> JSONResponse:
    code = normalise_code(body.code)
    region = known_region(body.region_code.strip().upper())
    fields = {"city": required_text("city", body.city)} | {
        name: required_text(name, getattr(body, name)) for name in NAME_FIELDS
    }
    try:
        async with gateway_of(request).db.unit_of_work() as session:
            if await session.get(Branch, code) is not None:
                raise _code_taken(code)
            now = utcnow()
            branch = Branch(
                code=code, region_code=region, active=True, version=1, created_at=now, updated_at=now, **fields
            )
            session.add(branch)
            await session.flush()
            data = branch_event_data(branch)
            await publish_branch(session, "opened", branch)
            record_change(
                session,
                caller.principal,
                entity_type="branch",
                entity_id=code,
                action="created",
                changes=diff({}, data),
            )
            payload = _out(branch, 0)
    except IntegrityError:
        raise _code_taken(code) from None
    return JSONResponse(payload, status_code=201, headers=version_headers(1, f"/api/v1/admin/branches/{code}"))


def _code_taken(code: str) -> Problem:
    return conflict(f"branch {code} already exists", errors=[{"field": "code", "message": "already exists"}])


@router.patch(
    "/{code}",
    response_model=BranchAdminOut,
    responses=openapi_problems(400, 401, 403, 404, 409, 412, 422),
    summary="Rename a branch, or close (active: false) / reopen it (If-Match)",
)
async def update_branch(
    code: str,
    body: BranchPatch,
    request: Request,
    caller: AdminCaller,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    expected = required_version(if_match, body.version, "branch")
    changes_asked = {
        name: required_text(name, value) if isinstance(value, str) else value
        for name, value in patch_changes(body, ("city", *NAME_FIELDS, "active")).items()
    }
    async with gateway_of(request).db.unit_of_work() as session:
        branch = await _branch_or_404(session, code)
        check_version("branch", branch.version, expected)
        staff = await active_staff_count(session, branch.code)
        if changes_asked.get("active") is False and branch.active and staff:
            raise conflict(
                f"{staff} active staff still work in branch {branch.code}: move or deactivate them first",
                errors=[{"field": "active", "message": f"{staff} active staff still work here"}],
            )
        before = branch_event_data(branch)
        for name, value in changes_asked.items():
            setattr(branch, name, value)
        after = branch_event_data(branch)
        changes = diff(before, after)
        if changes:
            branch.version += 1
            branch.updated_at = utcnow()
            action = "closed" if before["active"] and not branch.active else "updated"
            await publish_branch(session, action, branch)
            record_change(
                session, caller.principal, entity_type="branch", entity_id=branch.code, action=action, changes=changes
            )
        payload = _out(branch, staff)
    return JSONResponse(payload, headers=version_headers(branch.version))
