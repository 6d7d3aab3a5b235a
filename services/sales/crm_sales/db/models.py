"""Customers and their contacts, phones and addresses (tables on SalesBase)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_shared.db import UTCDateTime, new_id, utcnow
from crm_shared.partner_customers import PartnerCustomerColumns

from .base import SalesBase


class Customer(SalesBase):
    """An individual (by IIN) or a business (by BIN) served by one branch and owned by one user."""

    __tablename__ = "customers"
    # a partner user sees the customers its partner brought (crm_shared.partner_customers)
    __partner_customer_column__ = "id"
    __customer_key__ = "id"  # a customer signed in to the portal sees this row (crm_shared.auth.customer_column)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    tax_id: Mapped[str | None] = mapped_column(String(12), unique=True)  # IIN or BIN; None once erased
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    legal_name: Mapped[str | None] = mapped_column(String(300))
    legal_form: Mapped[str | None] = mapped_column(String(50))
    name_key: Mapped[str] = mapped_column(String(400))  # domain.customers.name_key, the listing order
    # domain.customers.customer_search_text: every name and the e-mail, folded for a free-text search
    search_text: Mapped[str] = mapped_column(Text, default="")
    primary_phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="kk")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data_processing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    data_processing_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("customers.id"))
    owner_id: Mapped[str] = mapped_column(String(200))
    owner_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="CustomerPhone.created_at, CustomerPhone.id",
        lazy="selectin",
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="Contact.created_at, Contact.id",
        lazy="selectin",
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="Address.created_at, Address.id",
        lazy="selectin",
    )

    # UPDATE ... WHERE version = :old: a concurrent writer that slipped past the If-Match check fails.
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # Listing order (name_key, id) within each visibility scope.
        Index("ix_customers_branch_name", "branch_code", "name_key", "id"),
        Index("ix_customers_region_name", "region_code", "name_key", "id"),
        # The national order, carrying what a search by words checks: a walk in name order reads
        # the index only (PostgreSQL), no table rows (customer_service._walked).
        Index("ix_customers_name_walk", "name_key", "id", postgresql_include=["search_text", "status"]),
        Index("ix_customers_owner", "owner_id"),
        # Any part of any word (LIKE '%word%') through trigrams on PostgreSQL (pg_trgm).
        Index(
            "ix_customers_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )


class CustomerPhone(SalesBase):
    """Every number a customer can be reached on, in E.164; the one a caller ID search hits."""

    __tablename__ = "customer_phones"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str | None] = mapped_column(String(32))  # mobile, home, work ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="phones")

    __table_args__ = (UniqueConstraint("customer_id", "e164"),)


class Contact(SalesBase):
    """A contact person of a business customer."""

    __tablename__ = "customer_contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Address(SalesBase):
    __tablename__ = "customer_addresses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # registration / service / billing
    region_code: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(20))
    apartment: Mapped[str | None] = mapped_column(String(20))
    postal_code: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="addresses")


class ErasureRequest(SalesBase):
    """A privacy officer's request to destroy a customer's personal data: sales anonymised its own
    record at once; the request is complete when every service that keeps copies confirmed."""

    __tablename__ = "erasure_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id"), unique=True)
    customer_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # with the duplicates merged into it
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    confirmations: Mapped[list[ErasureConfirmation]] = relationship(
        back_populates="request", order_by="ErasureConfirmation.service", lazy="selectin"
    )


class ErasureAsk(SalesBase):
    """A customer's own request (the self-service portal) that their personal data be destroyed:
    pending until a privacy officer erases it (POST /customers/{id}/erasure), which confirms it."""

    __tablename__ = "erasure_asks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("customers.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | confirmed
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ErasureConfirmation(SalesBase):
    """One service's word that it anonymised its copies (crm.<service>.erasure.confirmed)."""

    __tablename__ = "erasure_confirmations"

    erasure_id: Mapped[str] = mapped_column(String(36), ForeignKey("erasure_requests.id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    records: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ErasureRequest] = relationship(back_populates="confirmations")


class PartnerCustomer(PartnerCustomerColumns, SalesBase):
    """A customer a partner brought (crm.partners.deal.approved): what a partner user may see
    (crm_shared.partner_customers)."""

    __tablename__ = "partner_customers"


class CustomerInteraction(SalesBase):
    """The projection of the tickets service's interactions (crm.tickets.interaction.v1): the
    customer's calls and visits, shown on the customer's card. Tickets owns them; this copy follows
    sales' own merges (moved to the survivor) and erasures (summary gone)."""

    __tablename__ = "customer_interactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(String(2000))
    ticket_id: Mapped[str | None] = mapped_column(String(36))
    agent_id: Mapped[str] = mapped_column(String(200))
    agent_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    # tickets' version of the interaction: a late, older event never overwrites a newer one
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_customer_interactions_customer", "customer_id", "started_at"),)


class CustomerImport(SalesBase):
    """A customer CSV file being imported in the background (services/import_service.py): the file
    itself is kept here, not on a replica's disk, so that whichever replica claims the job runs it.
    ``processed`` counts the data rows of the committed batches: a job resumes from there."""

    __tablename__ = "customer_imports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    principal: Mapped[dict[str, Any]] = mapped_column(JSON)  # who started it: the rows are created as them
    file_name: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | completed | failed
    rows: Mapped[int] = mapped_column(Integer, default=0)
    batch_size: Mapped[int | None] = mapped_column(Integer)  # fixed when first claimed: batches keep their numbers
    processed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # already registered (by IIN/BIN): left as they are
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # rows with an error
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the first ones, {line, field, message}
    failure: Mapped[str | None] = mapped_column(Text)  # why a failed job stopped
    worker_id: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_customer_imports_status_created", "status", "created_at"),)


class CustomerImportBatch(SalesBase):
    """A batch of a customer import that was committed, in the same transaction as its rows: a job
    resumed after its worker died runs only the batches without one."""

    __tablename__ = "customer_import_batches"

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("customer_imports.id"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
