"""Async SQLAlchemy engine, sessions and the unit of work (commit once per request/message).

Works on PostgreSQL (asyncpg) and on the embedded on-disk SQLite default (aiosqlite).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class PlatformBase(DeclarativeBase):
    """Tables every service database holds (outbox, inbox, idempotency keys, audit log).

    A service's Alembic environment targets ``[ServiceBase.metadata, PlatformBase.metadata]``.
    """

    metadata = new_metadata()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both PostgreSQL and SQLite (which drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


POOL_RECYCLE_S = 1800
# Execution option: a transaction on this connection begins DEFERRED on SQLite instead of
# IMMEDIATE, so that it never takes (or waits for) the write lock. For work that only reads.
SQLITE_DEFERRED = "crm_sqlite_deferred"


class Database:
    """One per service process: the engine plus a session factory."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        kwargs: dict = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # No pool_pre_ping: it cost a round trip on every checkout. A connection the server
            # closed (restart, idle timeout, terminated backend) is noticed by the driver and
            # replaced at checkout for free (_replace_closed_connection); pool_recycle retires
            # connections before a firewall or proxy silently drops them.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=POOL_RECYCLE_S)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin_immediate)
            self._reads_engine = self.engine
        else:
            event.listen(self.engine.sync_engine.pool, "checkout", _replace_closed_connection)
            # The same pool; statements run without BEGIN/COMMIT (see ``reads``).
            self._reads_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reads_sessionmaker = async_sessionmaker(self._reads_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed once at the end, or rolled back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """A session for work that only reads (a GET request). On PostgreSQL its statements run
        in autocommit mode: no BEGIN and COMMIT round trips, and each statement reads the latest
        committed data. Never write through it: nothing would roll a write back."""
        async with self._reads_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a few reads that must never wait behind, nor hold up, a writer (the
        outbox relay, metrics at scrape time). On SQLite its transaction begins DEFERRED (a WAL
        reader takes no lock writers wait for); on PostgreSQL a read never blocks a writer anyway.
        Never write through it."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(**{SQLITE_DEFERRED: True})
            try:
                yield conn
            finally:
                await conn.rollback()

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _replace_closed_connection(dbapi_connection, _record, _proxy) -> None:
    """A pooled connection whose socket the server closed is discarded and another one checked
    out (the pool retries on DisconnectionError), without a round trip to find out."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The driver's own implicit BEGIN is switched off: _sqlite_begin_immediate begins instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    """Take SQLite's write lock when a transaction begins. A deferred transaction that reads and
    then writes fails at once with "database is locked" when another process (the relay, a
    consumer, a seed) writes meanwhile; an immediate one waits for busy_timeout instead.
    A connection marked SQLITE_DEFERRED (``Database.snapshot``, reads only) begins DEFERRED."""
    if connection.get_execution_options().get(SQLITE_DEFERRED):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
