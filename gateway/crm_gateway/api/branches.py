"""Administration of the branch network (role admin): open, rename, close and reopen branches
(the use cases: services/branch_service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from crm_shared.concurrency import patch_changes, required_version, version_headers
from crm_shared.errors import openapi_problems

from ..services import branch_service
from ..services.branch_service import StaffedBranch
from ..state import gateway_of
from .deps import AdminCaller
from .schemas import BranchAdminList, BranchAdminOut, BranchCreate, BranchPatch

router = APIRouter(prefix="/api/v1/admin/branches", tags=["admin"])


def _out(staffed: StaffedBranch) -> dict:
    return (
        BranchAdminOut.model_validate(staffed.branch)
        .model_copy(update={"active_users": staffed.active_users})
        .model_dump(mode="json")
    )


@router.get(
    "",
    response_model=BranchAdminList,
    responses=openapi_problems(401, 403),
    summary="The branch network, closed branches included (by code)",
)
async def list_branches(
    request: Request, caller: AdminCaller, region_code: str | None = None, active: bool | None = None
) -> BranchAdminList:
    async with gateway_of(request).db.read_only() as session:
        rows = await branch_service.staffed_branches(session, region_code=region_code, active=active)
    return BranchAdminList(items=[BranchAdminOut.model_validate(_out(staffed)) for staffed in rows])


@router.get(
    "/{code}",
    response_model=BranchAdminOut,
    responses=openapi_problems(401, 403, 404),
    summary="One branch (with its ETag)",
)
async def get_branch(code: str, request: Request, caller: AdminCaller) -> JSONResponse:
    async with gateway_of(request).db.read_only() as session:
        staffed = await branch_service.staffed_branch(session, code)
    return JSONResponse(_out(staffed), headers=version_headers(staffed.branch.version))


@router.post(
    "",
    response_model=BranchAdminOut,
    status_code=201,
    responses=openapi_problems(401, 403, 409, 422),
    summary="Open a branch",
)
async def open_branch(body: BranchCreate, request: Request, caller: AdminCaller) -> JSONResponse:
    async with gateway_of(request).db.unit_of_work() as session:
        branch = await branch_service.open_branch(session, caller.principal, body.new_branch())
    return JSONResponse(
        _out(StaffedBranch(branch, 0)),
        status_code=201,
        headers=version_headers(1, f"/api/v1/admin/branches/{branch.code}"),
    )


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
    changes = patch_changes(body, branch_service.EDITABLE_FIELDS)
    async with gateway_of(request).db.unit_of_work() as session:
        staffed = await branch_service.update_branch(session, caller.principal, code, changes, expected)
    return JSONResponse(_out(staffed), headers=version_headers(staffed.branch.version))
