"""The operational tables of the analytics service (the events themselves are in ClickHouse,
db/store.py): the pseudonym table that links a customer id to the random salt of its key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime

from .base import AnalyticsBase


class CustomerPseudonym(AnalyticsBase):
    """A customer's pseudonymous key in the store is HMAC(salt, customer id), the salt random per
    customer. Erasure (crm.sales.customer.erased) deletes the salt: the key can no longer be
    linked to the person, nor made again (``erased_at`` set, later events get the erased key).
    A customer merged into another (crm.sales.customer.merged) names its final ``survivor_id``:
    its events carry the survivor's key, so the person counts once."""

    __tablename__ = "customer_pseudonyms"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    salt: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    survivor_id: Mapped[str | None] = mapped_column(String(36), index=True)
