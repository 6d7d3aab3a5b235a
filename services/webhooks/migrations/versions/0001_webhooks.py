"""Subscriptions and deliveries, and the platform tables (outbox, inbox, idempotency keys, audit
log) as they are today.

Revision ID: 0001_webhooks
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.platform_schema import add_outbox_parking_v2, create_platform_tables_v1, drop_platform_tables_v1

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0001_webhooks"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()
    add_outbox_parking_v2()
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("api", sa.String(64), nullable=True),
        sa.Column("callback_url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("tmf_query", sa.String(1000), nullable=True),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("subscriber", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_success_at", UTC_DATETIME, nullable=True),
        sa.Column("last_failure_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_owner_id", "subscriptions", ["owner_id"])
    op.create_table(
        "deliveries",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("delivered_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_deliveries"),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_deliveries_subscription_state", "deliveries", ["subscription_id", "state", "seq"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    drop_platform_tables_v1()
