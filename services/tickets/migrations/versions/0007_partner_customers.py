"""partner_customers: the customers each partner brought, kept from crm.partners.deal.v1, so that
a partner user sees the records of its own customers only (crm_shared.partner_customers).

Revision ID: 0007_partner_customers
Revises: 0006_tmf_original_values
"""

from crm_shared.partner_customers_schema import create_partner_customers_table_v1, drop_partner_customers_table_v1

revision = "0007_partner_customers"
down_revision = "0006_tmf_original_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_partner_customers_table_v1()


def downgrade() -> None:
    drop_partner_customers_table_v1()
