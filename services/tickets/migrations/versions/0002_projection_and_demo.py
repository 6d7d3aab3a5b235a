"""The installed-product projection follows the orders contract (offering id, the product's
version for ordering, activation and termination times); demo ticket stories that wait for the
sales service.

Revision ID: 0002_projection_and_demo
Revises: 0001_tickets
"""

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0002_projection_and_demo"
down_revision = "0001_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installed_products") as batch:
        batch.add_column(sa.Column("offering_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("source_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("activated_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("terminated_at", UTC_DATETIME, nullable=True))
    op.create_table(
        "demo_stories",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("done_at", UTC_DATETIME, nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_demo_stories")),
    )


def downgrade() -> None:
    op.drop_table("demo_stories")
    with op.batch_alter_table("installed_products") as batch:
        batch.drop_column("terminated_at")
        batch.drop_column("activated_at")
        batch.drop_column("source_version")
        batch.drop_column("offering_id")
