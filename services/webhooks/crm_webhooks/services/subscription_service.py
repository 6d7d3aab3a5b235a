"""Subscriptions: register (a webhook of the CRM's own event types, or a TM Forum hub listener),
read with their delivery status, remove, and redrive the parked deliveries. A subscription is seen
by the caller that registered it and by administrators."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contracts import events as contracts
from crm_shared.auth import Principal, Role
from crm_shared.domain import InvalidField, NotAllowed, RecordNotFound
from crm_shared.pagination import decode_cursor, encode_cursor

from ..db.models import Delivery, Subscription
from ..domain import deliveries as rules

WHAT = "webhook subscription"
SUBSCRIBING_ROLES = (Role.ADMIN, Role.SYSTEM)


def visible(principal: Principal) -> ColumnElement[bool]:
    return true() if principal.role is Role.ADMIN else Subscription.owner_id == principal.subject


async def check_callback(url: str, *, allow_private: bool, field: str = "url") -> None:
    """The callback's host, resolved: refused when any address is loopback, private or
    link-local, unless private callbacks are allowed (the dev profile)."""
    host = rules.callback_host(url, field)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidField(field, f"the host {host[:100]!r} does not resolve") from None
    if any(rules.refused_address(info[4][0]) for info in infos):
        raise InvalidField(field, "resolves to a loopback, private or link-local address; refused")


def require_subscriber(principal: Principal, event_types: list[str]) -> None:
    """Administrators and API keys subscribe; a key needs the read scope of every service whose
    events it asks for (the events carry what that service's API would show)."""
    if principal.role not in SUBSCRIBING_ROLES:
        raise NotAllowed("only administrators and API keys of external systems register webhooks")
    if principal.scope.value == "none":
        raise NotAllowed("this identity sees no records, so it can receive no events")
    for event_type in event_types:
        service = event_type.split(".")[1]
        if not principal.has_scope(f"{service}:read"):
            raise NotAllowed(f"this API key lacks the scope {service}:read for {event_type}")


@dataclass(frozen=True)
class NewSubscription:
    subscription: Subscription
    secret: str  # shown once, in the answer to the create


async def register(
    session: AsyncSession,
    principal: Principal,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    allow_private: bool,
    now: datetime,
    api: str | None = None,
    query: str | None = None,
    url_field: str = "url",
) -> NewSubscription:
    if api is None:
        wanted = rules.check_event_types(event_types, set(contracts.event_types()))
    else:
        wanted = rules.hub_event_types(api, query)
    require_subscriber(principal, wanted)
    await check_callback(url, allow_private=allow_private, field=url_field)
    secret = rules.new_secret()
    subscription = Subscription(
        kind="webhook" if api is None else "tmf_hub",
        api=api,
        callback_url=url,
        event_types=wanted,
        tmf_query=query,
        description=description,
        secret=secret,
        subscriber=principal.claims() | {"scope": principal.scope.value},
        owner_id=principal.subject,
        created_at=now,
        failures=0,
        delivered=0,
    )
    session.add(subscription)
    await session.flush()
    return NewSubscription(subscription, secret)


async def get(
    session: AsyncSession, principal: Principal, subscription_id: str, api: str | None = None
) -> Subscription:
    stmt = select(Subscription).where(Subscription.id == subscription_id, visible(principal))
    if api is not None:
        stmt = stmt.where(Subscription.api == api)
    found = await session.scalar(stmt)
    if found is None:
        raise RecordNotFound(WHAT, subscription_id)
    return found


async def page(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[Subscription], str | None]:
    stmt = select(Subscription).where(visible(principal), Subscription.kind == "webhook")
    after = decode_cursor(cursor)
    if after:
        at, ident = datetime.fromisoformat(after[0]), after[1]
        stmt = stmt.where(
            or_(Subscription.created_at < at, and_(Subscription.created_at == at, Subscription.id > ident))
        )
    rows = list(await session.scalars(stmt.order_by(Subscription.created_at.desc(), Subscription.id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])


async def remove(session: AsyncSession, principal: Principal, subscription_id: str, api: str | None = None) -> None:
    subscription = await get(session, principal, subscription_id, api)
    await session.execute(delete(Delivery).where(Delivery.subscription_id == subscription.id))
    await session.delete(subscription)


async def status(session: AsyncSession, subscription: Subscription) -> dict[str, Any]:
    """Last success and failure, failures so far, and the backlog (pending) and parked counts."""
    counts = dict(
        (
            await session.execute(
                select(Delivery.state, func.count())
                .where(Delivery.subscription_id == subscription.id, Delivery.state != "delivered")
                .group_by(Delivery.state)
            )
        ).all()
    )
    return {
        "last_success_at": subscription.last_success_at,
        "last_failure_at": subscription.last_failure_at,
        "last_error": subscription.last_error,
        "failures": subscription.failures,
        "delivered": subscription.delivered,
        "backlog": counts.get("pending", 0),
        "parked": counts.get("parked", 0),
    }


async def redrive(session: AsyncSession, principal: Principal, subscription_id: str, now: datetime) -> int:
    """Every parked delivery of the subscription back in line, in its original order, attempts anew."""
    subscription = await get(session, principal, subscription_id)
    result = await session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.state == "parked")
        .values(state="pending", attempts=0, next_attempt_at=now, last_error=None)
    )
    return result.rowcount or 0


async def deliveries(
    session: AsyncSession, principal: Principal, subscription_id: str, *, state: str | None, limit: int
) -> list[Delivery]:
    subscription = await get(session, principal, subscription_id)
    stmt = select(Delivery).where(Delivery.subscription_id == subscription.id)
    if state:
        stmt = stmt.where(Delivery.state == state)
    return list(await session.scalars(stmt.order_by(Delivery.seq.desc()).limit(limit)))
