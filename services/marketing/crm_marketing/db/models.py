"""Tables of the marketing service: the projections of other services' customers and products
(kept from their events, never read from their tables), segments, campaigns with one delivery row
per recipient, and the loyalty programme (accounts, a points ledger)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.customer_identity import CustomerAliasColumns, ErasedCustomerColumns
from crm_shared.db import UTCDateTime, new_id

from .base import MarketingBase


class CustomerProfile(MarketingBase):
    """A customer as sales announces it (crm.sales.customer.v1): what segments select on and where
    a campaign reaches them. ``source_version`` keeps a late, older state from overwriting."""

    __tablename__ = "customer_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(400))
    language: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(16), index=True)
    branch_code: Mapped[str] = mapped_column(String(32), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_version: Mapped[int] = mapped_column(Integer)


class CustomerProduct(MarketingBase):
    """An installed product as orders announces it (crm.orders.installed_product.v1)."""

    __tablename__ = "customer_products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    offering_id: Mapped[str] = mapped_column(String(64))
    product_line: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    source_version: Mapped[int] = mapped_column(Integer)


class CustomerTicket(MarketingBase):
    """A trouble ticket as tickets announces it (crm.tickets.ticket.v1): whether it is open."""

    __tablename__ = "customer_tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    open: Mapped[bool] = mapped_column(Boolean)
    source_version: Mapped[int] = mapped_column(Integer)


class CustomerInvoice(MarketingBase):
    """An invoice as orders announces it (crm.orders.billing.v1): its amount, due date and what has
    been paid against it, for the segments' payment status (paid, due, overdue)."""

    __tablename__ = "customer_invoices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # billing's invoice id
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)  # 0 until the invoice itself arrives
    paid_tiyn: Mapped[int] = mapped_column(BigInteger)
    due_on: Mapped[date | None] = mapped_column(Date)


class Segment(MarketingBase):
    """A named selection of customers; its members are computed from the projections each time."""

    __tablename__ = "segments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_segments_created", "created_at", "id"),)


class Campaign(MarketingBase):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    message: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> text
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # draft | running | completed
    created_by: Mapped[str] = mapped_column(String(200))
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class Delivery(MarketingBase):
    """One recipient of one campaign, once: the unique (campaign, customer) row is claimed
    (state ``sending`` with its message id, committed) before anything goes out and marked after.
    A row found in ``sending`` after a crash is never sent again (domain/deliveries.py)."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(8))
    message_id: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversion_order_id: Mapped[str | None] = mapped_column(String(36))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the reply "STOP" or the e-mail link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", name="uq_deliveries_campaign_customer"),
        Index("ix_deliveries_campaign_state", "campaign_id", "state", "id"),
    )


class OptOut(MarketingBase):
    """A customer's own "no more marketing" (an SMS reply "STOP", a campaign e-mail's link), kept
    until sales, which owns consent, has recorded it (``forwarded_at``); sales' consent event then
    takes the customer out of every segment."""

    __tablename__ = "opt_outs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms_stop | email_link
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_opt_outs_unforwarded", "forwarded_at", "requested_at"),)


class LoyaltyAccount(MarketingBase):
    __tablename__ = "loyalty_accounts"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    card_number: Mapped[str] = mapped_column(String(16), unique=True)
    tier: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoyaltyCardSerial(MarketingBase):
    """One row per card issued: its serial numbers the card (domain/loyalty.card_number)."""

    __tablename__ = "loyalty_card_serials"

    serial: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))


class LoyaltyEntry(MarketingBase):
    """The points ledger: one row per accrual (unique per payment), redemption or expiry; the
    account's balance is the sum, kept on the account under its row lock."""

    __tablename__ = "loyalty_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # accrual | redemption | expiry
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    amount_tiyn: Mapped[int | None] = mapped_column(BigInteger)
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # payment id: accrual once
    reward: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class CustomerAlias(MarketingBase, CustomerAliasColumns):
    __tablename__ = "customer_aliases"


class ErasedCustomer(MarketingBase, ErasedCustomerColumns):
    __tablename__ = "erased_customers"
