"""The ``partner_customers`` table of crm_shared.partner_customers as an Alembic operation, for the
migration of every service that shows records to partner users. Version 1."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from .db import UTCDateTime


def create_partner_customers_table_v1() -> None:
    op.create_table(
        "partner_customers",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(length=36), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_partner_customers"),
    )
    op.create_index("ix_partner_customers_partner_id", "partner_customers", ["partner_id"])


def drop_partner_customers_table_v1() -> None:
    op.drop_table("partner_customers")
