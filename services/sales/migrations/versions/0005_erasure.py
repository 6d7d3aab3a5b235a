"""Erasure of a customer's personal data on request: customers.tax_id may be empty (an erased
customer keeps its record, not its IIN/BIN), erasure_requests and each service's confirmation
(erasure_confirmations).

Revision ID: 0005_erasure
Revises: 0004_branch_directory
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_erasure"
down_revision = "0004_branch_directory"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("tax_id", existing_type=sa.String(12), nullable=True)
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("customer_ids", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_by_name", sa.String(200), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("completed_at", UTC_DATETIME),
        sa.PrimaryKeyConstraint("id", name="pk_erasure_requests"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_erasure_requests_customer_id_customers"),
        sa.UniqueConstraint("customer_id", name="uq_erasure_requests_customer_id"),
    )
    op.create_table(
        "erasure_confirmations",
        sa.Column("erasure_id", sa.String(36), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("confirmed_at", UTC_DATETIME, nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("erasure_id", "service", name="pk_erasure_confirmations"),
        sa.ForeignKeyConstraint(
            ["erasure_id"], ["erasure_requests.id"], name="fk_erasure_confirmations_erasure_id_erasure_requests"
        ),
    )


def downgrade() -> None:
    op.drop_table("erasure_confirmations")
    op.drop_table("erasure_requests")
    # An erased customer has no IIN/BIN left to restore: going back needs none erased.
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("tax_id", existing_type=sa.String(12), nullable=False)
