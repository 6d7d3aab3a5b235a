"""tmf_original_values: the TMF621 free strings (severity, priority, ticketType, channel.name) as
the client sent them, shown back in the TMF view while the ticket holds the CRM's own values
(crm_shared.tmf).

Revision ID: 0006_tmf_original_values
Revises: 0005_customer_identity
"""

from crm_shared.tmf_schema import create_tmf_original_values_v1, drop_tmf_original_values_v1

revision = "0006_tmf_original_values"
down_revision = "0005_customer_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_tmf_original_values_v1()


def downgrade() -> None:
    drop_tmf_original_values_v1()
