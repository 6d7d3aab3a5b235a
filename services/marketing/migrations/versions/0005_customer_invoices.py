"""The invoices projection (crm.orders.billing.v1): amounts, due dates and what was paid, for the
segments' payment status criterion.

Revision ID: 0005_customer_invoices
Revises: 0004_opt_outs
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_customer_invoices"
down_revision = "0004_opt_outs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_invoices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("amount_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("paid_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_invoices")),
    )
    op.create_index(op.f("ix_customer_invoices_customer_id"), "customer_invoices", ["customer_id"])


def downgrade() -> None:
    op.drop_table("customer_invoices")
