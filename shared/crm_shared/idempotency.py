"""Idempotency-Key on creates: the first response is stored and replayed for a retry.

The same key with a different request body is a 422, so a client bug cannot silently
return someone else's record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Header, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .errors import Problem
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="makes a retried create safe")]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def find_replay(
    session: AsyncSession, principal: Principal, key: str | None, payload: Any
) -> IdempotencyRecord | None:
    """The stored record for this key, or None when the request is new."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            400,
            "Bad request",
            f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters",
            errors=[{"field": "Idempotency-Key", "message": "invalid length"}],
        )
    if not key.isascii() or not key.isprintable():
        # A header has no agreed encoding (this one arrives as bytes read as latin-1): the same key
        # sent by two clients could differ here. The draft standard's keys are printable ASCII.
        raise Problem(
            400,
            "Bad request",
            "Idempotency-Key must be printable ASCII (e.g. a UUID); other characters are not accepted",
            errors=[{"field": "Idempotency-Key", "message": "not printable ASCII"}],
        )
    record = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.principal == principal.subject, IdempotencyRecord.key == key)
    )
    if record is not None and record.request_hash != request_hash(payload):
        raise Problem(
            422,
            "Idempotency key reused",
            "this Idempotency-Key was already used with a different request body",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    return record


def remember(
    session: AsyncSession, principal: Principal, key: str | None, payload: Any, status_code: int, response: Any
) -> None:
    """Store the response in the same transaction as the create (a unique key guards races)."""
    if key is None:
        return
    session.add(
        IdempotencyRecord(
            principal=principal.subject,
            key=key,
            request_hash=request_hash(payload),
            status_code=status_code,
            response=response,
        )
    )


async def create_once(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    payload: Any,
    response: Response,
    *,
    create: Callable[[], Awaitable[Any]],
    headers: Callable[[Any], dict[str, str]],
    flush: Callable[[], Awaitable[None]],
    status_code: int = 201,
) -> Any:
    """A create endpoint's answer, made safe to retry with ``key``: a repeated key gets the first
    answer again (``replay_response``); a new one gets ``create()``'s JSON-ready body, remembered in
    the same transaction. ``flush`` runs after that (crm_shared.concurrency.flush_or_conflict), so
    that a concurrent request with the same key fails here, as a 409, and not at the commit after a
    success. ``headers(body)`` are the answer's headers (ETag, Location), the same for a replay."""
    replay = await find_replay(session, principal, key, payload)
    if replay is not None:
        return replay_response(replay, headers(replay.response))
    body = await create()
    remember(session, principal, key, payload, status_code, body)
    await flush()
    response.status_code = status_code
    response.headers.update(headers(body))
    return body


def replay_response(record: IdempotencyRecord, headers: dict[str, str] | None = None) -> JSONResponse:
    """The stored answer again, marked as a replay; ``headers`` are the ones the first answer had
    besides its body (ETag, Location)."""
    return JSONResponse(
        record.response, status_code=record.status_code, headers=(headers or {}) | {REPLAYED_HEADER: "true"}
    )


def is_key_in_flight(database_message: str) -> bool:
    """Whether a unique violation is this table's: a concurrent request with the same key won."""
    return IdempotencyRecord.__tablename__ in database_message
