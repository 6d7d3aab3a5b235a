"""The tables of crm_shared.customer_identity (customer_aliases, erased_customers) as Alembic
operations, for the migration of every service that keeps records of sales' customers. Version 1;
a later change gets a new function, so that a migration that has run keeps meaning what it meant."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from .db import UTCDateTime


def create_customer_identity_tables_v1() -> None:
    op.create_table(
        "customer_aliases",
        sa.Column("duplicate_id", sa.String(36), nullable=False),
        sa.Column("survivor_id", sa.String(36), nullable=False),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("duplicate_id", name="pk_customer_aliases"),
    )
    op.create_index("ix_customer_aliases_survivor_id", "customer_aliases", ["survivor_id"])
    op.create_table(
        "erased_customers",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("erasure_id", sa.String(36), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_erased_customers"),
    )


def drop_customer_identity_tables_v1() -> None:
    op.drop_table("erased_customers")
    op.drop_table("customer_aliases")
