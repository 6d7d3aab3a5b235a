"""Customers' own erasure requests from the self-service portal (erasure_asks), pending until a
privacy officer erases the data.

Revision ID: 0008_erasure_asks
Revises: 0007_partner_customers
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_erasure_asks"
down_revision = "0007_partner_customers"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erasure_asks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asked_at", UTC_DATETIME, nullable=False),
        sa.Column("confirmed_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_erasure_asks_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_asks")),
    )
    op.create_index(op.f("ix_erasure_asks_customer_id"), "erasure_asks", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_erasure_asks_customer_id"), table_name="erasure_asks")
    op.drop_table("erasure_asks")
