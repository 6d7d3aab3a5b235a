"""The pseudonym table (customer id -> the salt of its key in the event store), and the platform
tables (outbox, inbox, idempotency keys, audit log) as they are today.

Revision ID: 0001_analytics
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.platform_schema import add_outbox_parking_v2, create_platform_tables_v1, drop_platform_tables_v1

UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0001_analytics"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()
    add_outbox_parking_v2()
    op.create_table(
        "customer_pseudonyms",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("erased_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_pseudonyms")),
    )


def downgrade() -> None:
    op.drop_table("customer_pseudonyms")
    drop_platform_tables_v1()
