"""The platform tables (crm_shared.models) as Alembic operations, written once for every
service's first migration. This is their schema at version 1: later changes to the platform
tables get new functions here (create_platform_tables_v2 ...) called from new migrations, so a
migration that has run keeps meaning what it meant."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from .db import UTCDateTime

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_platform_tables_v1() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("seq", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("dataschema", sa.String(300)),
        sa.Column("region", sa.String(16)),
        sa.Column("branch", sa.String(32)),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("trace_headers", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
        sa.UniqueConstraint("event_id", name="uq_outbox_events_event_id"),
    )
    op.create_index("ix_outbox_events_sent_at", "outbox_events", ["sent_at"])
    op.create_index("ix_outbox_events_unsent", "outbox_events", ["sent_at", "seq"])

    op.create_table(
        "inbox_records",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_records"),
        sa.UniqueConstraint("consumer", "event_id", name="uq_inbox_records_consumer_event_id"),
    )

    op.create_table(
        "idempotency_records",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_records"),
        sa.UniqueConstraint("principal", "key", name="uq_idempotency_records_principal_key"),
    )

    op.create_table(
        "audit_entries",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("operation_id", sa.String(36)),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_entity", "audit_entries", ["entity_type", "entity_id", "id"])
    op.create_index("ix_audit_entries_operation_id", "audit_entries", ["operation_id"])


def drop_platform_tables_v1() -> None:
    for table in ("audit_entries", "idempotency_records", "inbox_records", "outbox_events"):
        op.drop_table(table)  # their indexes go with them


def add_outbox_parking_v2() -> None:
    """outbox_events.parked_at: an event the broker refused for good (see crm_shared.relay)."""
    op.add_column("outbox_events", sa.Column("parked_at", UTCDateTime()))


def drop_outbox_parking_v2() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("parked_at")
