"""Tables of the tickets service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.customer_identity import CustomerAliasColumns, ErasedCustomerColumns
from crm_shared.db import UTCDateTime, new_id, utcnow
from crm_shared.models import BigIntPK
from crm_shared.partner_customers import PartnerCustomerColumns

from .base import TicketsBase

MAX_DESCRIPTION = 4000
MAX_NOTE = 4000
MAX_NAME = 200
# The partial indexes' predicate: the open statuses (domain/workflow.py OPEN_STATUSES).
OPEN_TICKET = text("status IN ('new', 'acknowledged', 'in_progress', 'pending')")


class Ticket(TicketsBase):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_name: Mapped[str] = mapped_column(String(300))
    customer_segment: Mapped[str] = mapped_column(String(16))  # individual | business
    installed_product_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="new")
    status_change_reason: Mapped[str | None] = mapped_column(String(500))
    queue: Mapped[str] = mapped_column(String(64))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(String(200))
    assignee_name: Mapped[str | None] = mapped_column(String(200))
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_by_name: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("incidents.id"), index=True)
    # SLA clock
    sla_policy: Mapped[str] = mapped_column(String(64))
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_state: Mapped[str] = mapped_column(String(16), default="ok")  # ok | at_risk | breached | met
    resolution_state: Mapped[str] = mapped_column(String(16), default="ok")
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 1 branch manager, 2 regional manager
    sla_cycle: Mapped[int] = mapped_column(Integer, default=0)  # one up at every reopen
    # When the scheduler must look at this ticket next (null: never, e.g. paused or finished).
    sla_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The next SLA deadline (response until first responded, then resolution): queue order.
    urgency_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer's rating of a resolved ticket (the self-service portal), given once: CSAT.
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(1000))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The work-queue orders (api/tickets.py): most urgent first within a queue, an assignee's,
        # a branch's or a region's open tickets, each page one range of its index (open tickets
        # only: a small part of a table of mostly finished ones).
        Index(
            "ix_tickets_open_queue_urgency",
            "queue",
            "urgency_at",
            "created_at",
            "id",
            postgresql_where=OPEN_TICKET,
            sqlite_where=OPEN_TICKET,
        ),
        Index(
            "ix_tickets_open_assignee_urgency",
            "assignee_id",
            "urgency_at",
            "created_at",
            "id",
            postgresql_where=OPEN_TICKET,
            sqlite_where=OPEN_TICKET,
        ),
        Index(
            "ix_tickets_open_branch_urgency",
            "branch_code",
            "urgency_at",
            "created_at",
            "id",
            postgresql_where=OPEN_TICKET,
            sqlite_where=OPEN_TICKET,
        ),
        Index(
            "ix_tickets_open_region_urgency",
            "region_code",
            "urgency_at",
            "created_at",
            "id",
            postgresql_where=OPEN_TICKET,
            sqlite_where=OPEN_TICKET,
        ),
        Index("ix_tickets_assignee_created", "assignee_id", "created_at", "id"),
        Index("ix_tickets_branch_created", "branch_code", "created_at"),
        Index("ix_tickets_sla_check_at", "sla_check_at"),
        Index("ix_tickets_customer_status", "customer_id", "status"),
        Index("ix_tickets_created_id", "created_at", "id"),
        Index("ix_tickets_opened_by", "opened_by"),
    )


class StatusChange(TicketsBase):
    __tablename__ = "ticket_status_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor_id: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Note(TicketsBase):
    __tablename__ = "ticket_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))  # internal | customer
    author_id: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(TicketsBase):
    """Metadata only: the file itself lives in the document store the URL points at."""

    __tablename__ = "ticket_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(1000))
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Relation(TicketsBase):
    __tablename__ = "ticket_relations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"), index=True)
    related_ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))  # related | duplicate | caused_by
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("ticket_id", "related_ticket_id"),)


class SlaSignal(TicketsBase):
    """A signal the scheduler raised (about to breach, breached, escalated), once per ticket,
    kind and SLA cycle: the unique key is what makes a restarted or concurrent scheduler
    unable to escalate twice."""

    __tablename__ = "sla_signals"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(36), ForeignKey("tickets.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    escalated_to: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("ticket_id", "cycle", "kind"),)


class Incident(TicketsBase):
    """A mass incident (network outage) reported by an OSS system: the parent of the customer
    tickets in its area."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(MAX_NAME))
    description: Mapped[str] = mapped_column(Text)
    categories: Mapped[str] = mapped_column(String(200))  # comma-separated affected categories
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    area: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    external_reference: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(200))
    owner_name: Mapped[str] = mapped_column(String(200))
    expected_resolution_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(2000))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_incidents_open_region", "status", "region_code"),)


class Interaction(TicketsBase):
    """A contact with a customer (a call, a branch visit): start, end, outcome."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(String(2000))
    ticket_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("tickets.id"))
    agent_id: Mapped[str] = mapped_column(String(200))
    agent_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class InstalledProduct(TicketsBase):
    """Projection of the orders service's installed products (crm.orders.installed_product.v1),
    so that a ticket's product can be checked while orders is down."""

    __tablename__ = "installed_products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    offering_id: Mapped[str | None] = mapped_column(String(64))
    offering_name: Mapped[str] = mapped_column(String(300))
    product_line: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    service_address: Mapped[str | None] = mapped_column(String(500))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(16))
    # The product's version in orders: a redelivered or late older state never overwrites a newer one.
    source_version: Mapped[int] = mapped_column(Integer, default=0)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)  # the state's updated_at in orders
    terminated: Mapped[bool] = mapped_column(Boolean, default=False)


class DemoStory(TicketsBase):
    """A piece of demo data that needs the running sales service (a ticket of a demo customer):
    written by the seed, played once by the demo worker (crm_tickets.seed)."""

    __tablename__ = "demo_stories"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(300))


class CustomerAlias(CustomerAliasColumns, TicketsBase):
    """A customer sales merged away, and the survivor its records belong to now."""

    __tablename__ = "customer_aliases"


class ErasedCustomer(ErasedCustomerColumns, TicketsBase):
    """A customer whose personal data was erased on request: its records here are anonymised."""

    __tablename__ = "erased_customers"


class PartnerCustomer(PartnerCustomerColumns, TicketsBase):
    """A customer a partner brought (crm.partners.deal.approved): what a partner user may see
    (crm_shared.partner_customers)."""

    __tablename__ = "partner_customers"
