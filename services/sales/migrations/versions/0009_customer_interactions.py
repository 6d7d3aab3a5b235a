"""customer_interactions: sales' projection of the tickets service's interactions (calls and visits
with customers, crm.tickets.interaction.v1), shown on the customer's card.

The call activities logged in sales before tickets owned contacts are not converted here: the
call-handover job (crm_sales/background.py) hands each over to tickets once, through the outbox
(docs/interactions.md).

Revision ID: 0009_customer_interactions
Revises: 0008_erasure_asks
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_customer_interactions"
down_revision = "0008_erasure_asks"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_interactions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("summary", sa.String(2000), nullable=True),
        sa.Column("ticket_id", sa.String(36), nullable=True),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("agent_name", sa.String(200), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_interactions")),
    )
    op.create_index("ix_customer_interactions_customer", "customer_interactions", ["customer_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_interactions_customer", table_name="customer_interactions")
    op.drop_table("customer_interactions")
