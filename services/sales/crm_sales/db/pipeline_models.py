"""Leads, opportunities and activities (tables on SalesBase), plus the projections the sales
consumers keep: the staff directory, the branch directory and per-branch customer counts, and the
record of each bulk reassignment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime, new_id, utcnow

from .base import SalesBase


class Lead(SalesBase):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    disqualify_reason: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    company_name: Mapped[str | None] = mapped_column(String(300))
    interest: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("customers.id"))
    opportunity_id: Mapped[str | None] = mapped_column(String(36))
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_leads_region_branch", "region_code", "branch_code"),
        Index("ix_leads_created", "created_at", "id"),
    )


class Opportunity(SalesBase):
    __tablename__ = "opportunities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id"), index=True)
    lead_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("leads.id"))
    name: Mapped[str] = mapped_column(String(200))
    product_line: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    probability: Mapped[int] = mapped_column(Integer)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_opportunities_region_branch", "region_code", "branch_code"),
        Index("ix_opportunities_created", "created_at", "id"),
    )


class Activity(SalesBase):
    """A call, meeting, task or note on a customer, lead or opportunity; it is visible to
    whoever sees the record it is about, so it carries no branch/region of its own."""

    __tablename__ = "activities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    related_type: Mapped[str] = mapped_column(String(16))
    related_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_activities_related", "related_type", "related_id"),
        Index("ix_activities_created", "created_at", "id"),
    )


class Reassignment(SalesBase):
    """One bulk reassignment; the audit entries it wrote carry its id as operation_id."""

    __tablename__ = "reassignments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    from_owner_id: Mapped[str] = mapped_column(String(200), index=True)
    to_owner_id: Mapped[str] = mapped_column(String(64))
    to_owner_name: Mapped[str] = mapped_column(String(200))
    to_branch_code: Mapped[str] = mapped_column(String(32))
    to_region_code: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64))  # e.g. "branch:ALA-01", "region:KZ-75", "national"
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # aggregate -> records moved
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffMember(SalesBase):
    """The staff directory projection, kept from the gateway's user events."""

    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(16))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))  # the person's own address (task reminders)
    language: Mapped[str | None] = mapped_column(String(2))  # kk | ru | en: what they are written to in
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Time of the last applied event: an older event arriving late does not overwrite a newer one.
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BranchDirectoryEntry(SalesBase):
    """The branch directory projection, kept from the gateway's branch events (the migration
    installs the network at go-live): where a record may be placed, and in which region."""

    __tablename__ = "branch_directory"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Time of the last applied event: an older event arriving late does not overwrite a newer one.
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerCount(SalesBase):
    """Active customers per region/branch/kind (the branch-stats projection)."""

    __tablename__ = "customer_counts"

    region_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    branch_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CustomerCountMember(SalesBase):
    """Which bucket of CustomerCount each customer is counted in, so that a customer who moves
    branch, or is merged away, is taken out of the right bucket."""

    __tablename__ = "customer_count_members"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    merged: Mapped[bool] = mapped_column(Boolean, default=False)


class TaskReminder(SalesBase):
    """One e-mail reminder of a task, claimed before it is sent: the key (the task, the due time it
    reminds of) is inserted once, whichever process claims it first, so a reminder is never sent
    twice across restarts and replicas. A task moved to a new due time is reminded of again."""

    __tablename__ = "task_reminders"

    activity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(300))  # what the mail relay answered
    error: Mapped[str | None] = mapped_column(Text)  # the relay refused it: not sent
