"""Administration (role admin): staff users and API keys of external systems (the use cases:
services/user_service.py and services/api_key_service.py).

User changes are written with their crm.gateway.user.* event in one transaction (outbox). Once a
change is committed, this process forgets the credentials it cached for that user or key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from crm_shared.concurrency import patch_changes, required_version, version_headers
from crm_shared.idempotency import find_replay, remember
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..db.models import User
from ..services import api_key_service, user_service
from ..state import gateway_of
from .deps import AdminCaller
from .schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    PasswordReset,
    UserCreate,
    UserOut,
    UserPatch,
)

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


# --- users -------------------------------------------------------------------------------


def _user_body(user: User) -> dict[str, Any]:
    return UserOut.model_validate(user).model_dump(mode="json")


def _user_response(user: User, status_code: int = 200) -> JSONResponse:
    return JSONResponse(_user_body(user), status_code=status_code, headers=version_headers(user.version))


@router.get("/users", response_model=Page[UserOut], summary="List staff users (by username)")
async def list_users(
    request: Request,
    caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
    active: bool | None = None,
    role: str | None = None,
    branch_code: str | None = None,
    region_code: str | None = None,
) -> Page[UserOut]:
    async with gateway_of(request).db.read_only() as session:
        users, next_cursor = await user_service.list_users(
            session,
            limit=limit,
            cursor=cursor,
            active=active,
            role=role,
            branch_code=branch_code,
            region_code=region_code,
        )
    return Page[UserOut](items=[UserOut.model_validate(u) for u in users], next_cursor=next_cursor)


@router.get("/users/{user_id}", response_model=UserOut, summary="One staff user (with its ETag)")
async def get_user(user_id: str, request: Request, caller: AdminCaller) -> JSONResponse:
    async with gateway_of(request).db.read_only() as session:
        return _user_response(await user_service.get_user(session, user_id))


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a staff user")
async def create_user(
    body: UserCreate,
    request: Request,
    caller: AdminCaller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    gateway = gateway_of(request)
    account = await user_service.account_to_create(gateway.passwords, body.new_user())
    # The stored request fingerprint leaves the password out.
    fingerprint = body.model_dump(exclude={"password"})
    try:
        async with gateway.db.unit_of_work() as session:
            replay = await find_replay(session, caller.principal, idempotency_key, fingerprint)
            if replay is not None:
                return JSONResponse(
                    replay.response,
                    status_code=replay.status_code,
                    headers=version_headers(replay.response.get("version", 1)),
                )
            user = await user_service.create_user(session, caller.principal, account)
            remember(session, caller.principal, idempotency_key, fingerprint, 201, _user_body(user))
    except IntegrityError:  # the username, taken by a concurrent request meanwhile
        raise user_service.username_taken(account.username) from None
    response = _user_response(user, 201)
    response.headers["Location"] = f"/api/v1/admin/users/{user.id}"
    return response


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    summary="Change a user's role, region/branch, name, language or active flag (If-Match)",
)
async def update_user(
    user_id: str,
    body: UserPatch,
    request: Request,
    caller: AdminCaller,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    expected = required_version(if_match, body.version, "user")
    changes = patch_changes(body, user_service.NOT_NULL_FIELDS)
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        user = await user_service.update_user(session, caller.principal, user_id, changes, expected)
    gateway.authenticator.forget_user(user_id)
    return _user_response(user)


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    summary="Set a new password; the user's existing access tokens stop working",
)
async def reset_password(user_id: str, body: PasswordReset, request: Request, caller: AdminCaller) -> Response:
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        await user_service.reset_password(session, caller.principal, gateway.passwords, user_id, body.password)
    gateway.authenticator.forget_user(user_id)
    return Response(status_code=204)


# --- API keys ----------------------------------------------------------------------------


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create an API key for an external system (the secret is shown once)",
)
async def create_api_key(body: ApiKeyCreate, request: Request, caller: AdminCaller) -> JSONResponse:
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        issued = await api_key_service.issue_api_key(
            session, caller.principal, gateway.passwords, body.new_api_key(), gateway.api_key_scopes
        )
    payload: dict[str, Any] = ApiKeyOut.model_validate(issued.record).model_dump(mode="json") | {"key": issued.key}
    return JSONResponse(
        payload,
        status_code=201,
        headers={"Location": f"/api/v1/admin/api-keys/{issued.record.id}", "Cache-Control": "no-store"},
    )


@router.get("/api-keys", response_model=ApiKeyList, summary="API keys (without their secrets)")
async def list_api_keys(request: Request, caller: AdminCaller, include_revoked: bool = True) -> ApiKeyList:
    async with gateway_of(request).db.read_only() as session:
        keys = await api_key_service.list_api_keys(session, include_revoked=include_revoked)
    return ApiKeyList(items=[ApiKeyOut.model_validate(k) for k in keys])


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key (every gateway process refuses it within the credential cache window)",
)
async def revoke_api_key(key_id: str, request: Request, caller: AdminCaller) -> Response:
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        await api_key_service.revoke_api_key(session, caller.principal, key_id)
    gateway.authenticator.forget_api_key(key_id)
    return Response(status_code=204)
