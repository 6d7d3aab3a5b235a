"""The search by words at a million customers: ix_customers_name_walk, the national name order
(name_key, id) carrying search_text and status (INCLUDE, PostgreSQL), so that a walk in name order
for a common word reads the index only; it replaces ix_customers_name_id. ix_customers_name_key_prefix
goes: nothing searches by a name prefix any more (gRPC SearchCustomers searches as the REST q).

Revision ID: 0011_customer_name_walk
Revises: 0010_task_reminders
"""

from alembic import op

revision = "0011_customer_name_walk"
down_revision = "0010_task_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_customers_name_walk", "customers", ["name_key", "id"], postgresql_include=["search_text", "status"]
    )
    op.drop_index("ix_customers_name_id", table_name="customers")
    op.drop_index("ix_customers_name_key_prefix", table_name="customers")


def downgrade() -> None:
    op.create_index(
        "ix_customers_name_key_prefix", "customers", ["name_key"], postgresql_ops={"name_key": "varchar_pattern_ops"}
    )
    op.create_index("ix_customers_name_id", "customers", ["name_key", "id"])
    op.drop_index("ix_customers_name_walk", table_name="customers")
