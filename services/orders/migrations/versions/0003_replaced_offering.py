"""A modify or delete order item keeps what its installed product was when the order was taken:
order_items.replaced_offering_id, replaced_offering_version and replaced_offering_name (NULL for
add items, and for items taken before this revision).

Revision ID: 0003_replaced_offering
Revises: 0002_outbox_parking
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_replaced_offering"
down_revision = "0002_outbox_parking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Types spelled out here rather than imported from the application (see 0001_orders).
    op.add_column("order_items", sa.Column("replaced_offering_id", sa.String(length=64), nullable=True))
    op.add_column("order_items", sa.Column("replaced_offering_version", sa.Integer(), nullable=True))
    op.add_column("order_items", sa.Column("replaced_offering_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_items") as batch:
        batch.drop_column("replaced_offering_name")
        batch.drop_column("replaced_offering_version")
        batch.drop_column("replaced_offering_id")
