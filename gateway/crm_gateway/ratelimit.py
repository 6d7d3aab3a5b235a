"""Token-bucket rate limits kept in the gateway database, so that every gateway process shares them.

One atomic upsert per request refills the subject's bucket for the time elapsed, takes a token
when there is one, and returns the outcome (PostgreSQL and SQLite both run it as one statement).
Time comes from the caller's clock: processes of one deployment share a clock closely enough.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Float, bindparam, case, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from crm_shared.db import Database

from .db.models import RateLimitBucket


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0  # whole seconds until a token is back (when not allowed)


def _retry_after(tokens: float, per_second: float) -> int:
    return max(1, math.ceil((1.0 - tokens) / per_second))


def _take_token_statement(dialect_name: str):
    bucket = RateLimitBucket.__table__
    now = bindparam("now", type_=Float)
    rate = bindparam("rate", type_=Float)  # tokens per second
    burst = bindparam("burst", type_=Float)
    elapsed = case((now > bucket.c.updated_at, now - bucket.c.updated_at), else_=literal(0.0))
    level = bucket.c.tokens + elapsed * rate
    refilled = case((level > burst, burst), else_=level)
    insert = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(bucket)
    return (
        insert.values(subject=bindparam("subject"), tokens=burst - 1.0, updated_at=now, allowed=True)
        .on_conflict_do_update(
            index_elements=[bucket.c.subject],
            set_={
                "tokens": case((refilled >= 1.0, refilled - 1.0), else_=refilled),
                "updated_at": case((now > bucket.c.updated_at, now), else_=bucket.c.updated_at),
                "allowed": refilled >= 1.0,
            },
        )
        .returning(bucket.c.tokens, bucket.c.allowed)
    )


class RateLimiter:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        # Autocommit: the upsert is its own transaction, one round trip, no BEGIN/COMMIT.
        self._engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._take = _take_token_statement(db.engine.dialect.name)
        self._clock = clock

    async def acquire(self, subject: str, per_minute: float, burst: int) -> Decision:
        """Take one token from the subject's bucket, or say how long until there is one."""
        per_second = per_minute / 60.0
        async with self._engine.connect() as conn:
            row = (await conn.execute(self._take, {"subject": subject, "now": self._clock(),
                                                   "rate": per_second, "burst": float(burst)})).one()
        if row.allowed:
            return Decision(True)
        return Decision(False, _retry_after(row.tokens, per_second))

    async def peek(self, subject: str, per_minute: float, burst: int) -> Decision:
        """Whether a token is available now, without taking it."""
        per_second = per_minute / 60.0
        bucket = RateLimitBucket.__table__
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(bucket.c.tokens, bucket.c.updated_at)
                                      .where(bucket.c.subject == subject))).one_or_none()
        if row is None:
            return Decision(True)
        tokens = min(float(burst), row.tokens + max(0.0, self._clock() - row.updated_at) * per_second)
        return Decision(True) if tokens >= 1.0 else Decision(False, _retry_after(tokens, per_second))
