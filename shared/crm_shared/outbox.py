"""Transactional outbox, write side: events are rows in the business transaction.

The relay (``relay.py``) publishes them to Kafka after commit, in commit order. The backlog
figures (``refresh_backlog_metrics``) are read from the database, not from the relay: a
service's ``/metrics`` computes them when scraped, so they stay true while the relay is stuck
(a frozen broker) or dead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database, new_id, utcnow
from .envelope import CloudEvent
from .metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PARKED_NOW
from .models import OutboxEvent

NOTIFY_CHANNEL = "crm_outbox"
_NOTIFIED_IN = "crm_outbox_notified_in"  # session.info key: the transaction that already sent NOTIFY


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


async def add_event(
    session: AsyncSession,
    *,
    topic: str,
    type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    region: str | None = None,
    branch: str | None = None,
    dataschema: str | None = None,
) -> OutboxEvent:
    """Record an event in the caller's transaction; nothing is sent until it commits."""
    event = OutboxEvent(
        event_id=new_id(),
        topic=topic,
        key=subject,
        type=type,
        source=source,
        subject=subject,
        dataschema=dataschema,
        region=region,
        branch=branch,
        data=data,
        trace_headers=current_trace_headers(),
        created_at=utcnow(),
        attempts=0,
    )
    session.add(event)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Delivered at commit; wakes the relay without waiting for its next poll. Once per
        # transaction is enough (PostgreSQL would fold repeats anyway), and skipping the repeats
        # lets a transaction that emits many events insert them in one batch at flush.
        transaction = _current_transaction(session)
        if transaction is None or session.info.get(_NOTIFIED_IN) is not transaction:
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
            session.info[_NOTIFIED_IN] = _current_transaction(session)
    return event


def _current_transaction(session: AsyncSession):
    """The innermost transaction (a savepoint rolled back takes its NOTIFY with it)."""
    return session.get_nested_transaction() or session.get_transaction()


def as_cloud_event(event: OutboxEvent, trace_headers: dict[str, str] | None = None) -> CloudEvent:
    """The CloudEvent an outbox row is published as. ``trace_headers`` are those of the publish
    span (the row's own stored headers are the parent of that span, not of the consumer)."""
    return CloudEvent(
        id=event.event_id,
        source=event.source,
        type=event.type,
        subject=event.subject,
        data=event.data,
        time=event.created_at,
        dataschema=event.dataschema,
        region=event.region,
        branch=event.branch,
        trace_headers=dict(trace_headers if trace_headers is not None else event.trace_headers or {}),
    )


def topic_name(service: str, aggregate: str, version: int = 1) -> str:
    """The topic convention: crm.<service>.<aggregate>.v<N>."""
    return f"crm.{service}.{aggregate}.v{version}"


def event_type(service: str, aggregate: str, action: str) -> str:
    """The CloudEvents type convention: crm.<service>.<aggregate>.<action> (e.g. crm.sales.customer.created)."""
    return f"crm.{service}.{aggregate}.{action}"


def dataschema_uri(type_: str, version: int = 1) -> str:
    return f"urn:qazaq-crm:schema:{type_}:{version}"


class EventWriter:
    """A service's way to record its domain events by convention; one per service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.source = f"/crm/{service}"

    async def add(
        self,
        session: AsyncSession,
        *,
        aggregate: str,
        action: str,
        subject: str,
        data: dict[str, Any],
        region: str | None = None,
        branch: str | None = None,
    ) -> OutboxEvent:
        type_ = event_type(self.service, aggregate, action)
        return await add_event(
            session,
            topic=topic_name(self.service, aggregate),
            type=type_,
            source=self.source,
            subject=subject,
            data=data,
            region=region,
            branch=branch,
            dataschema=dataschema_uri(type_),
        )


# --- backlog: what waits to be published (read from the database) ---------------------------

UNSENT = (OutboxEvent.sent_at.is_(None), OutboxEvent.parked_at.is_(None))


async def outbox_backlog(db: Database) -> tuple[int, datetime | None]:
    """How many events are waiting to be sent, and when the oldest of them was written."""
    async with db.snapshot() as conn:
        count, oldest = (
            await conn.execute(select(func.count(), func.min(OutboxEvent.created_at)).where(*UNSENT))
        ).one()
    return count, oldest


async def parked_events(db: Database) -> int:
    stmt = select(func.count()).where(OutboxEvent.sent_at.is_(None), OutboxEvent.parked_at.is_not(None))
    async with db.snapshot() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def refresh_backlog_metrics(db: Database, service: str) -> int:
    """Sets the backlog, oldest-unsent age and parked gauges of ``service`` from its database
    (one read that takes no write lock); returns the backlog."""
    backlog = func.count().filter(*UNSENT)
    oldest = func.min(OutboxEvent.created_at).filter(*UNSENT)
    parked = func.count().filter(OutboxEvent.sent_at.is_(None), OutboxEvent.parked_at.is_not(None))
    stmt = select(backlog, oldest, parked).where(OutboxEvent.sent_at.is_(None))
    async with db.snapshot() as conn:
        count, oldest_at, parked_count = (await conn.execute(stmt)).one()
    if oldest_at is not None and oldest_at.tzinfo is None:  # SQLite: a plain column expression
        oldest_at = _as_utc(oldest_at)
    OUTBOX_PARKED_NOW.labels(service).set(parked_count)
    OUTBOX_BACKLOG.labels(service).set(count)
    OUTBOX_OLDEST_AGE.labels(service).set(max((utcnow() - oldest_at).total_seconds(), 0.0) if oldest_at else 0.0)
    return count


def _as_utc(value) -> datetime:
    if isinstance(value, str):  # SQLite returns an aggregate of a DateTime column as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
