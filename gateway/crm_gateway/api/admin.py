"""Administration (role admin): staff users and API keys of external systems.

User changes are written with their crm.gateway.user.* event in one transaction (outbox).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_shared.audit import diff, record_change
from crm_shared.concurrency import check_version, patch_changes, required_version, version_headers
from crm_shared.db import new_id, utcnow
from crm_shared.errors import Problem, conflict, not_found
from crm_shared.idempotency import find_replay, remember
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

from ..db.models import ApiKey, User
from ..domain.api_keys import new_key, validate_scopes
from ..domain.users import check_password, normalise_username, staff_role
from ..events.publishers import publish_user, user_event_data
from ..services.branch_service import placement
from ..services.user_service import user_placement
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


def _user_response(user: User, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        UserOut.model_validate(user).model_dump(mode="json"),
        status_code=status_code,
        headers=version_headers(user.version),
    )


async def _user_or_404(session, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    return user


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
    query = select(User).order_by(User.username).limit(limit + 1)
    after = decode_cursor(cursor)
    if after:
        query = query.where(User.username > str(after[0]))
    for column, value in (
        (User.active, active),
        (User.role, role),
        (User.branch_code, branch_code),
        (User.region_code, region_code),
    ):
        if value is not None:
            query = query.where(column == value)
    async with gateway_of(request).db.read_only() as session:
        users = list(await session.scalars(query))
    next_cursor = encode_cursor([users[limit - 1].username]) if len(users) > limit else None
    return Page[UserOut](items=[UserOut.model_validate(u) for u in users[:limit]], next_cursor=next_cursor)


@router.get("/users/{user_id}", response_model=UserOut, summary="One staff user (with its ETag)")
async def get_user(user_id: str, request: Request, caller: AdminCaller) -> JSONResponse:
    async with gateway_of(request).db.read_only() as session:
        return _user_response(await _user_or_404(session, user_id))


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a staff user")
async def create_user(
    body: UserCreate,
    request: Request,
    caller: AdminCaller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    username = normalise_username(body.username)
    role = staff_role(body.role)
    check_password(body.password)
    # The stored request fingerprint leaves the password out.
    fingerprint = body.model_dump(exclude={"password"})
    gateway = gateway_of(request)
    password_hash = await gateway.passwords.hash(body.password)
    try:
        async with gateway.db.unit_of_work() as session:
            replay = await find_replay(session, caller.principal, idempotency_key, fingerprint)
            if replay is not None:
                return JSONResponse(
                    replay.response,
                    status_code=replay.status_code,
                    headers=version_headers(replay.response.get("version", 1)),
                )
            if await session.scalar(select(User.id).where(User.username == username)):
                raise _username_taken(username)
            region, branch = await user_placement(session, role, body.region_code, body.branch_code)
            now = utcnow()
            user = User(
                id=new_id(),
                username=username,
                full_name=body.full_name.strip(),
                password_hash=password_hash,
                role=role.value,
                region_code=region,
                branch_code=branch,
                language=body.language,
                active=True,
                version=1,
                token_generation=1,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            await session.flush()
            data = user_event_data(user)
            await publish_user(session, "created", user)
            record_change(
                session,
                caller.principal,
                entity_type="user",
                entity_id=user.id,
                action="created",
                changes=diff({}, data),
            )
            response = _user_response(user, 201)
            remember(
                session,
                caller.principal,
                idempotency_key,
                fingerprint,
                201,
                UserOut.model_validate(user).model_dump(mode="json"),
            )
    except IntegrityError:
        raise _username_taken(username) from None
    response.headers["Location"] = f"/api/v1/admin/users/{user.id}"
    return response


def _username_taken(username: str) -> Problem:
    return conflict(
        f"username {username!r} is already taken", errors=[{"field": "username", "message": "already taken"}]
    )


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
    given = patch_changes(body, ("full_name", "role", "active", "language")).keys()
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        user = await _user_or_404(session, user_id)
        check_version("user", user.version, expected)
        if user.id == caller.principal.subject and (
            ("active" in given and body.active is False) or ("role" in given and body.role != user.role)
        ):
            raise conflict("administrators may not deactivate or re-role their own account; ask another admin")
        before = user_event_data(user) | {"language": user.language}
        role = staff_role(body.role) if "role" in given else staff_role(user.role)
        region = body.region_code if "region_code" in given else user.region_code
        branch = body.branch_code if "branch_code" in given else user.branch_code
        if "branch_code" in given and body.branch_code is not None and "region_code" not in given:
            region = None  # a new branch brings its own region
        reactivated = "active" in given and body.active and not user.active
        region, branch = await user_placement(
            session, role, region, branch, kept_branch=None if reactivated else user.branch_code
        )
        user.role, user.region_code, user.branch_code = role.value, region, branch
        if "full_name" in given:
            user.full_name = body.full_name.strip()
        if "language" in given:
            user.language = body.language
        if "active" in given:
            user.active = body.active
        after = user_event_data(user) | {"language": user.language}
        changes = diff(before, after)
        if changes:
            user.version += 1
            user.updated_at = utcnow()
            data = user_event_data(user)
            if data != {k: before[k] for k in data}:
                action = "deactivated" if before["active"] and not user.active else "updated"
                await publish_user(session, action, user)
            record_change(
                session, caller.principal, entity_type="user", entity_id=user.id, action="updated", changes=changes
            )
        response = _user_response(user)
    gateway.authenticator.forget_user(user_id)
    return response


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    summary="Set a new password; the user's existing access tokens stop working",
)
async def reset_password(user_id: str, body: PasswordReset, request: Request, caller: AdminCaller) -> Response:
    check_password(body.password)
    gateway = gateway_of(request)
    password_hash = await gateway.passwords.hash(body.password)
    async with gateway.db.unit_of_work() as session:
        user = await _user_or_404(session, user_id)
        user.password_hash = password_hash
        user.token_generation += 1
        user.updated_at = utcnow()
        record_change(session, caller.principal, entity_type="user", entity_id=user.id, action="password_reset")
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
    scopes = validate_scopes(body.scopes, gateway.api_key_scopes)
    prefix, secret, full_key = new_key()
    secret_hash = await gateway.passwords.hash(secret)
    async with gateway.db.unit_of_work() as session:
        region, branch = await placement(session, body.region_code, body.branch_code)
        record = ApiKey(
            id=new_id(),
            name=body.name.strip(),
            prefix=prefix,
            secret_hash=secret_hash,
            scopes=scopes,
            region_code=region,
            branch_code=branch,
            active=True,
            created_by=caller.principal.subject,
            created_at=utcnow(),
        )
        session.add(record)
        await session.flush()
        record_change(
            session,
            caller.principal,
            entity_type="api_key",
            entity_id=record.id,
            action="created",
            changes={"name": [None, record.name], "scopes": [None, scopes]},
        )
    payload: dict[str, Any] = ApiKeyOut.model_validate(record).model_dump(mode="json") | {"key": full_key}
    return JSONResponse(
        payload,
        status_code=201,
        headers={"Location": f"/api/v1/admin/api-keys/{record.id}", "Cache-Control": "no-store"},
    )


@router.get("/api-keys", response_model=ApiKeyList, summary="API keys (without their secrets)")
async def list_api_keys(request: Request, caller: AdminCaller, include_revoked: bool = True) -> ApiKeyList:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.active.is_(True))
    async with gateway_of(request).db.read_only() as session:
        keys = list(await session.scalars(query))
    return ApiKeyList(items=[ApiKeyOut.model_validate(k) for k in keys])


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key (every gateway process refuses it within the credential cache window)",
)
async def revoke_api_key(key_id: str, request: Request, caller: AdminCaller) -> Response:
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        record = await session.get(ApiKey, key_id)
        if record is None:
            raise not_found("API key", key_id)
        if record.active:
            record.active = False
            record.revoked_at = utcnow()
            record_change(session, caller.principal, entity_type="api_key", entity_id=record.id, action="revoked")
    gateway.authenticator.forget_api_key(key_id)
    return Response(status_code=204)
