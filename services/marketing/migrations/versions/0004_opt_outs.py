"""Opt-outs (an SMS reply "STOP", a campaign e-mail's link) kept until sales has recorded the
withdrawal of consent, and the delivery's opted_out_at.

Revision ID: 0004_opt_outs
Revises: 0003_customer_tickets
"""

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0004_opt_outs"
down_revision = "0003_customer_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opt_outs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=True),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("forwarded_at", UTC_DATETIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
    )
    op.create_index(op.f("ix_opt_outs_customer_id"), "opt_outs", ["customer_id"])
    op.create_index("ix_opt_outs_unforwarded", "opt_outs", ["forwarded_at", "requested_at"])
    op.add_column("deliveries", sa.Column("opted_out_at", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "opted_out_at")
    op.drop_table("opt_outs")
