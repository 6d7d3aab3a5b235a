"""Idempotency-Key on creates: the first response is stored and replayed for a retry.

The same key with a different request body is a 422, so a client bug cannot silently
return someone else's record.
"""
from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .errors import Problem
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def find_replay(
    session: AsyncSession, principal: Principal, key: str | None, payload: Any
) -> IdempotencyRecord | None:
    """The stored record for this key, or None when the request is new."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(400, "Bad request", f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters",
                      errors=[{"field": "Idempotency-Key", "message": "invalid length"}])
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal.subject, IdempotencyRecord.key == key
        )
    )
    if record is not None and record.request_hash != request_hash(payload):
        raise Problem(422, "Idempotency key reused",
                      "this Idempotency-Key was already used with a different request body",
                      errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}])
    return record


def remember(
    session: AsyncSession, principal: Principal, key: str | None, payload: Any, status_code: int, response: Any
) -> None:
    """Store the response in the same transaction as the create (a unique key guards races)."""
    if key is None:
        return
    session.add(IdempotencyRecord(principal=principal.subject, key=key, request_hash=request_hash(payload),
                                  status_code=status_code, response=response))
