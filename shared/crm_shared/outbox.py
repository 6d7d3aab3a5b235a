"""Transactional outbox, write side: events are rows in the business transaction.

The relay (``relay.py``) publishes them to Kafka after commit, in commit order.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .db import new_id, utcnow
from .envelope import CloudEvent
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
