"""The partners service's tables: partners (dealers, agents, installers) with their commission
plan, the customer claims that make deal registration conflict-free, deals, commission lines,
disputes, and the customer aliases/erasures every keeper of sales' customers follows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.customer_identity import CustomerAliasColumns, ErasedCustomerColumns
from crm_shared.db import UTCDateTime, new_id

from .base import PartnersBase


class Partner(PartnersBase):
    """A dealer, sales agent or installer: a legal entity (BIN) selling in some regions/branches
    under a contract, paid by its commission plan. The service is its system of record."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))
    bin: Mapped[str] = mapped_column(String(12), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    region_codes: Mapped[list[str]] = mapped_column(JSON)
    branch_codes: Mapped[list[str]] = mapped_column(JSON)
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bank_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    commission_plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_partners_created", "created_at", "id"),)


class CustomerClaim(PartnersBase):
    """Which partner holds a customer (by normalised IIN/BIN): one row per customer, so that two
    partners registering the same customer at once take turns on this row and exactly one wins.
    ``protected_until`` ends the protection window of a deal not yet approved; an approved deal's
    partner keeps the customer (it brought it) and is paid for its orders."""

    __tablename__ = "customer_claims"

    customer_key: Mapped[str] = mapped_column(String(20), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    deal_id: Mapped[str] = mapped_column(String(36))
    protected_until: Mapped[datetime] = mapped_column(UTCDateTime)
    customer_id: Mapped[str | None] = mapped_column(String(36), index=True)  # sales' id, once approved
    brought_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # approval: the partner brought it
    first_activation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Deal(PartnersBase):
    """A deal a partner registered for a customer, decided by a channel manager."""

    __tablename__ = "deals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    customer_key: Mapped[str] = mapped_column(String(20))
    customer: Mapped[dict[str, Any]] = mapped_column(JSON)  # kind, iin|bin, names, phone
    offering_ids: Mapped[list[str]] = mapped_column(JSON)
    expected_value_tiyn: Mapped[int] = mapped_column(BigInteger)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    lead_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_deals_partner_created", "partner_id", "created_at", "id"),)


class CommissionLine(PartnersBase):
    """One amount owed to (or clawed back from) a partner, from one event. ``source_key`` is
    unique: an event applied twice (or two events about the same order item) accrue once."""

    __tablename__ = "commission_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    order_id: Mapped[str | None] = mapped_column(String(36), index=True)
    offering_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # one_off | recurring | clawback
    status: Mapped[str] = mapped_column(String(16))  # accrued | confirmed
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(7))  # yyyy-mm of the event
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    accrued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_commission_lines_partner_period", "partner_id", "period", "accrued_at", "id"),)


class PartnerMonth(PartnersBase):
    """How many offerings a partner activated in a month, counted as the orders' events accrue
    (the volume its plan's tiers look at), so that no accrual counts the month's lines again."""

    __tablename__ = "partner_months"

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    activations: Mapped[int] = mapped_column(Integer)


class Dispute(PartnersBase):
    """A partner's objection to a month's statement (or one line of it), resolved by a channel manager."""

    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(7))
    line_id: Mapped[str | None] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    resolution: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(200))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerAlias(CustomerAliasColumns, PartnersBase):
    __tablename__ = "customer_aliases"


class ErasedCustomer(ErasedCustomerColumns, PartnersBase):
    __tablename__ = "erased_customers"
