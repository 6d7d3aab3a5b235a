"""One customer across every service: customer_aliases (a customer sales merged away -> its
survivor, so that its tickets, interactions and late events find their home) and erased_customers
(whose personal data was erased on request), kept from crm.sales.customer.v1
(crm_shared.customer_identity).

Revision ID: 0005_customer_identity
Revises: 0004_outbox_parking
"""

from crm_shared.customer_identity_schema import create_customer_identity_tables_v1, drop_customer_identity_tables_v1

revision = "0005_customer_identity"
down_revision = "0004_outbox_parking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_customer_identity_tables_v1()


def downgrade() -> None:
    drop_customer_identity_tables_v1()
