"""A merged customer's survivor on its pseudonym: the duplicate's events then carry the
survivor's key (crm.sales.customer.merged).

Revision ID: 0002_customer_survivors
Revises: 0001_analytics
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_customer_survivors"
down_revision = "0001_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_pseudonyms") as table:
        table.add_column(sa.Column("survivor_id", sa.String(length=36), nullable=True))
        table.create_index(op.f("ix_customer_pseudonyms_survivor_id"), ["survivor_id"])


def downgrade() -> None:
    with op.batch_alter_table("customer_pseudonyms") as table:
        table.drop_index(op.f("ix_customer_pseudonyms_survivor_id"))
        table.drop_column("survivor_id")
