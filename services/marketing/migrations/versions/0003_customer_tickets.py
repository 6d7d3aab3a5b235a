"""The tickets projection (crm.tickets.ticket.v1): which of a customer's tickets are open, for the
segments' open-tickets criterion.

Revision ID: 0003_customer_tickets
Revises: 0002_marketing_domain
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_customer_tickets"
down_revision = "0002_marketing_domain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_tickets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tickets")),
    )
    op.create_index(op.f("ix_customer_tickets_customer_id"), "customer_tickets", ["customer_id"])


def downgrade() -> None:
    op.drop_table("customer_tickets")
