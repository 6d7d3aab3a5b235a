"""Request dependencies of the gateway's routers: the authenticated (and rate-limited) caller."""

from __future__ import annotations

import logging
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from crm_shared.auth import Role
from crm_shared.errors import Problem

from ..authn import Caller, unauthorized
from ..ratelimit import Decision
from ..state import gateway_of

log = logging.getLogger("crm.gateway.auth")


def client_address(request: Request) -> str:
    """The connection's peer, or the client a configured proxy names (uvicorn's proxy headers,
    trusted only from ``forwarded_allow_ips``)."""
    return request.client.host if request.client else "unknown"


def too_many_requests(decision: Decision, detail: str) -> Problem:
    return Problem(
        429,
        "Too many requests",
        detail,
        headers={"Retry-After": str(decision.retry_after_s)},
        retry_after_s=decision.retry_after_s,
    )


async def current_caller(request: Request) -> Caller:
    """Authenticate (Bearer access token or API key), then apply the caller's rate limit. A customer
    (portal token) is refused here: every endpoint but the portal's is for staff and systems."""
    caller = await any_caller(request)
    if caller.kind == "customer":
        raise Problem(403, "Forbidden", "a customer's portal token opens /api/v1/portal/ only")
    return caller


async def current_customer(request: Request) -> Caller:
    """A customer signed in to the self-service portal; staff tokens and API keys are refused (403)."""
    caller = await any_caller(request)
    if caller.kind != "customer":
        raise Problem(403, "Forbidden", "the portal is for customers: sign in with a one-time code")
    return caller


async def any_caller(request: Request) -> Caller:
    try:
        return await _authenticate_and_admit(request)
    except (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        # Credentials not in the cache, and the rate limits, need the gateway database.
        log.warning("gateway database unavailable while authenticating: %r", exc)
        raise Problem(
            503,
            "Service unavailable",
            "the gateway cannot check credentials right now; retry shortly",
            headers={"Retry-After": "5"},
        ) from None


async def _authenticate_and_admit(request: Request) -> Caller:
    gateway = gateway_of(request)
    authenticator = gateway.authenticator
    credentials = authenticator.credentials(request)
    if credentials is None:
        raise unauthorized(
            "authentication required: 'Authorization: Bearer <access token>', "
            "'Authorization: ApiKey <key>' or 'X-API-Key: <key>'"
        )
    kind, value = credentials
    if kind == "bearer":
        caller = await authenticator.authenticate_bearer(value)
    else:
        caller = authenticator.cached_api_key(value)
        if caller is None:
            address = client_address(request)
            refusal = await gateway.auth_throttle.api_key_refusal(address)
            if refusal is not None:
                raise too_many_requests(refusal.decision, refusal.detail)
            caller = await authenticator.verify_api_key(value)
            if caller is None:
                await gateway.auth_throttle.api_key_failed(address)
                raise unauthorized("the API key is not valid or has been revoked")
    decision = await gateway.admit(caller)
    if not decision.allowed:
        raise too_many_requests(
            decision, f"rate limit of {gateway.settings.rate_limit_per_minute:g} requests per minute exceeded"
        )
    request.state.principal = caller.principal
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentCustomer = Annotated[Caller, Depends(current_customer)]


async def admin_caller(caller: CurrentCaller) -> Caller:
    if caller.kind != "user" or caller.principal.role is not Role.ADMIN:
        raise Problem(403, "Forbidden", "only administrators may manage users and API keys")
    return caller


AdminCaller = Annotated[Caller, Depends(admin_caller)]
