"""Sign-in (OAuth2 password form -> Bearer access token) and the caller's own identity."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from crm_shared.audit import record_change
from crm_shared.db import utcnow
from crm_shared.errors import Problem

from ..authn import unauthorized
from ..db.models import User
from ..domain.users import USERNAME_PATTERN
from ..events.publishers import publish_user
from ..state import gateway_of
from .deps import CurrentCaller, client_address, too_many_requests

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(BaseModel):
    kind: Literal["user", "api_key"]
    id: str
    username: str
    full_name: str | None
    role: str
    region: str | None
    branch: str | None
    partner_id: str | None = None  # role partner: the partner the user works for
    scopes: list[str]
    language: str | None


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with username and password",
    responses={401: {"description": "Wrong username or password"}},
)
async def issue_token(
    request: Request, response: Response, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    gateway = gateway_of(request)
    address = client_address(request)
    username = form.username.strip().lower()
    user = None
    if USERNAME_PATTERN.match(username):  # no account has another name (nor could PostgreSQL compare a NUL)
        async with gateway.db.read_only() as session:
            user = await session.scalar(select(User).where(User.username == username))
    refusal = await gateway.auth_throttle.sign_in_refusal(username, address, user.id if user else None)
    if refusal is not None:
        raise too_many_requests(refusal.decision, refusal.detail)
    if user is None:
        await gateway.passwords.burn_verification(form.password)
        verified = False
    else:
        verified = await gateway.passwords.verify(user.password_hash, form.password)
    if not verified or not user.active:
        await gateway.auth_throttle.sign_in_failed(username, address)
        # One answer for an unknown user, a wrong password and a deactivated account.
        raise unauthorized("wrong username or password")
    await gateway.auth_throttle.signed_in(user.id, address)
    if gateway.passwords.needs_rehash(user.password_hash):
        new_hash = await gateway.passwords.hash(form.password)
        async with gateway.db.unit_of_work() as session:
            await session.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    token, expires_in = gateway.authenticator.issue_access_token(user)
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=MeOut, summary="The authenticated caller")
async def me(caller: CurrentCaller) -> MeOut:
    principal = caller.principal
    return MeOut(
        kind=caller.kind,
        id=principal.subject,
        username=principal.username,
        full_name=caller.full_name,
        role=principal.role.value,
        region=principal.region,
        branch=principal.branch,
        partner_id=principal.partner_id,
        scopes=list(principal.scopes),
        language=caller.language,
    )


class MePatch(BaseModel):
    """What a signed-in user may change about themselves: the language of the console."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["kk", "ru", "en"]


@router.patch("/me", response_model=MeOut, summary="Change the caller's own preferences (language)")
async def update_me(body: MePatch, request: Request, caller: CurrentCaller) -> MeOut:
    if caller.kind != "user":
        raise Problem(403, "Forbidden", "only staff users have preferences")
    gateway = gateway_of(request)
    async with gateway.db.unit_of_work() as session:
        user = await session.get(User, caller.principal.subject)
        if user.language != body.language:
            record_change(
                session,
                caller.principal,
                entity_type="user",
                entity_id=user.id,
                action="updated",
                changes={"language": [user.language, body.language]},
            )
            user.language = body.language
            user.version += 1
            user.updated_at = utcnow()
            await publish_user(session, "updated", user)  # sales writes to the person in this language
    gateway.authenticator.forget_user(user.id)
    return (await me(caller)).model_copy(update={"language": body.language})
