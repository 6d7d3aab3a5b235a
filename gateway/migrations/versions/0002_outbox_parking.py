"""The outbox can park an event the broker refused for good (outbox_events.parked_at), so
that one poisonous event no longer holds back every later one (crm_shared.relay).

Revision ID: 0002_outbox_parking
Revises: 0001_gateway
"""

from crm_shared.platform_schema import add_outbox_parking_v2, drop_outbox_parking_v2

revision = "0002_outbox_parking"
down_revision = "0001_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking_v2()


def downgrade() -> None:
    drop_outbox_parking_v2()
