"""Subscriptions (a callback URL and the event types it wants) and their deliveries: one row per
event and subscription, pending until delivered, parked after too many failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime, new_id

from .base import WebhooksBase


class Subscription(WebhooksBase):
    """Owned by the user or API key that registered it (owner_id); ``subscriber`` keeps that
    caller's identity, which decides which events it may receive and how they are masked."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | tmf_hub
    api: Mapped[str | None] = mapped_column(String(64))  # the TMF API of a hub subscription
    callback_url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)  # the CRM's event types
    tmf_query: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    subscriber: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)


SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")  # SQLite numbers only INTEGER keys itself


class Delivery(WebhooksBase):
    """One event for one subscription. ``seq`` is the order of arrival: a subscription's deliveries
    go out in that order (so the events of one record keep theirs)."""

    __tablename__ = "deliveries"

    seq: Mapped[int] = mapped_column(SEQ_TYPE, Identity(), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_subscription_state", "subscription_id", "state", "seq"),
    )
