"""The customer-identity tables (aliases of merged customers, erasures) and the platform tables (outbox, inbox,
idempotency keys, audit log) as they are today.

Revision ID: 0001_marketing
Revises:
"""

import sqlalchemy as sa

from crm_shared.customer_identity_schema import create_customer_identity_tables_v1, drop_customer_identity_tables_v1
from crm_shared.platform_schema import add_outbox_parking_v2, create_platform_tables_v1, drop_platform_tables_v1

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0001_marketing"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()
    add_outbox_parking_v2()
    create_customer_identity_tables_v1()


def downgrade() -> None:
    drop_customer_identity_tables_v1()
    drop_platform_tables_v1()
