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

import asyncpg
from sqlalchemy import Float, bindparam, case, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from crm_shared.db import Database
from crm_shared.relay import postgres_dsn

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


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The pool's default reset costs a round trip per request (RESET ALL, UNLISTEN, ...); the
    limiter's connections only ever run one autocommit statement, so there is nothing to undo."""


class RateLimiter:
    """A Worker (the app's lifespan starts it). On PostgreSQL it sends the statement through a
    small asyncpg pool of its own: the request path then costs one round trip and little CPU
    (SQLAlchemy's session machinery and pre-ping would double both)."""

    name = "rate-limiter"

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, pool_size: int = 10) -> None:
        self.db = db
        self._clock = clock
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        take = _take_token_statement(db.engine.dialect.name)
        if db.is_postgres:
            compiled = take.compile(dialect=PGDialect_asyncpg())
            self._pg_sql = compiled.string
            self._pg_params = [(name, compiled.params[name]) for name in compiled.positiontup]
        else:
            self._take = take

    async def start(self) -> None:
        if self.db.is_postgres:
            # min_size=0: connections are made on first use, so a database that is down at start
            # makes requests answer 503 instead of keeping the gateway from starting.
            self._pool = await asyncpg.create_pool(
                postgres_dsn(self.db), min_size=0, max_size=self._pool_size, reset=_nothing_to_reset
            )

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def ready(self) -> bool:
        return self._pool is not None or not self.db.is_postgres

    async def _take_token(self, values: dict[str, object]) -> tuple[float, bool]:
        if self.db.is_postgres:
            if self._pool is None:
                raise RuntimeError("the rate limiter is not started")
            args = [values.get(name, default) for name, default in self._pg_params]
            row = await self._pool.fetchrow(self._pg_sql, *args)
            return row["tokens"], row["allowed"]
        async with self.db.engine.begin() as conn:  # SQLite (dev): a short write transaction
            row = (await conn.execute(self._take, values)).one()
        return row.tokens, bool(row.allowed)

    async def acquire(self, subject: str, per_minute: float, burst: int) -> Decision:
        """Take one token from the subject's bucket, or say how long until there is one."""
        per_second = per_minute / 60.0
        tokens, allowed = await self._take_token(
            {"subject": subject, "now": self._clock(), "rate": per_second, "burst": float(burst)}
        )
        if allowed:
            return Decision(True)
        return Decision(False, _retry_after(tokens, per_second))

    async def peek(self, subject: str, per_minute: float, burst: int) -> Decision:
        """Whether a token is available now, without taking it (not on the hot path)."""
        per_second = per_minute / 60.0
        bucket = RateLimitBucket.__table__
        async with self.db.read_only() as session:
            row = (
                await session.execute(select(bucket.c.tokens, bucket.c.updated_at).where(bucket.c.subject == subject))
            ).one_or_none()
        if row is None:
            return Decision(True)
        tokens = min(float(burst), row.tokens + max(0.0, self._clock() - row.updated_at) * per_second)
        return Decision(True) if tokens >= 1.0 else Decision(False, _retry_after(tokens, per_second))
