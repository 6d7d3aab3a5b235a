"""Deliveries: the fan-out of each event from Kafka to the subscriptions that want it (in the
consumer's transaction), and one attempt at the oldest due delivery of a subscription (the
dispatcher in background.py runs one such loop per subscription, so a slow or dead endpoint holds
up only its own)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.timefmt import iso

from ..config import WebhooksSettings
from ..db.models import Delivery, Subscription
from ..domain import deliveries as rules
from .subscription_service import check_callback


def envelope(subscription: Subscription, event: CloudEvent) -> dict[str, Any]:
    """The CloudEvents 1.0 structured envelope sent to one subscriber: the CRM's own event, or
    for a TMF hub the API's notification (eventId, eventTime, eventType, event.<resource>)."""
    claims = subscription.subscriber
    data = event.data if claims.get("role") == "admin" else rules.masked(event.data)
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": iso(event.time),
        "datacontenttype": "application/json",
    }
    if subscription.api is None:
        return body | {"dataschema": event.dataschema, "data": data}
    name = rules.tmf_event_name(subscription.api, event.type)
    resource, collection = rules.TMF_RESOURCES[subscription.api]
    return body | {
        "type": name,
        "data": {
            "eventId": event.id,
            "eventTime": iso(event.time),
            "eventType": name,
            "event": {resource: {"id": event.subject, "href": f"{collection}/{event.subject}"}},
            "crmEventType": event.type,
            "crmData": data,
        },
    }


async def fan_out(session: AsyncSession, event: CloudEvent, now: datetime) -> int:
    """One pending delivery per subscription that wants this event and may see its record."""
    added = 0
    for subscription in await session.scalars(select(Subscription)):
        if event.type not in subscription.event_types:
            continue
        claims = subscription.subscriber
        if not rules.may_receive(
            claims.get("scope", "none"), claims.get("region"), claims.get("branch"), event.region, event.branch
        ):
            continue
        exists = await session.scalar(
            select(Delivery.seq).where(Delivery.subscription_id == subscription.id, Delivery.event_id == event.id)
        )
        if exists is not None:  # the same event again (a replay): delivered once
            continue
        session.add(
            Delivery(
                subscription_id=subscription.id,
                event_id=event.id,
                event_type=event.type,
                subject=event.subject,
                body=orjson.dumps(envelope(subscription, event)).decode(),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        added += 1
    return added


async def subscriptions_due(db: Database, now: datetime) -> list[str]:
    async with db.read_only() as session:
        rows = await session.scalars(
            select(Delivery.subscription_id)
            .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
            .distinct()
        )
        return list(rows)


@dataclass(frozen=True)
class Attempt:
    seq: int
    url: str
    secret: str
    body: str
    event_id: str


async def _next_due(db: Database, subscription_id: str, now: datetime) -> Attempt | None:
    """The subscription's oldest pending delivery if it is due (a later one never overtakes it)."""
    async with db.read_only() as session:
        delivery = await session.scalar(
            select(Delivery)
            .where(Delivery.subscription_id == subscription_id, Delivery.state == "pending")
            .order_by(Delivery.seq)
            .limit(1)
        )
        if delivery is None or delivery.next_attempt_at > now:
            return None
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None:
            return None
        return Attempt(delivery.seq, subscription.callback_url, subscription.secret, delivery.body, delivery.event_id)


async def _post(http: httpx.AsyncClient, attempt: Attempt, settings: WebhooksSettings) -> str | None:
    """None when the subscriber answered 2xx, else what went wrong."""
    try:
        await check_callback(attempt.url, allow_private=settings.private_callbacks_allowed)
    except Exception as refused:  # a host that moved into a private network since it was registered
        return f"refused: {refused}"[:500]
    body = attempt.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": rules.CONTENT_TYPE,
        rules.SIGNATURE_HEADER: rules.signature(attempt.secret, timestamp, body),
        rules.TIMESTAMP_HEADER: str(timestamp),
        rules.EVENT_ID_HEADER: attempt.event_id,
        "User-Agent": "qazaq-crm-webhooks/1",
    }
    try:
        answer = await http.post(attempt.url, content=body, headers=headers, timeout=settings.delivery_timeout_s)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500]
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"


async def deliver_next(
    db: Database, http: httpx.AsyncClient, settings: WebhooksSettings, subscription_id: str, now: datetime
) -> bool:
    """One attempt at the subscription's oldest due delivery, its outcome recorded; True when the
    caller may go on with the next one (this one went out or was parked), False when nothing is due
    or it failed and waits for its retry."""
    attempt = await _next_due(db, subscription_id, now)
    if attempt is None:
        return False
    error = await _post(http, attempt, settings)
    async with db.unit_of_work() as session:
        delivery = await session.get(Delivery, attempt.seq, with_for_update=True)
        subscription = await session.get(Subscription, subscription_id, with_for_update=True)
        if delivery is None or subscription is None or delivery.state != "pending":
            return error is None
        delivery.attempts += 1
        if error is None:
            delivery.state, delivery.delivered_at, delivery.last_error = "delivered", now, None
            subscription.last_success_at = now
            subscription.delivered += 1
            return True
        delivery.last_error = error
        subscription.last_failure_at, subscription.last_error = now, error
        subscription.failures += 1
        if delivery.attempts >= settings.max_attempts:
            delivery.state = "parked"  # the next delivery goes ahead; a redrive brings this back
            return True
        else:
            delay = rules.retry_delay_s(delivery.attempts, settings.retry_base_s, settings.retry_max_s)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    return False
