"""Partners, customer claims, deals, commission lines, disputes, the customer identity tables and
the platform tables (outbox, inbox, idempotency keys, audit log).

Revision ID: 0001_partners
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.customer_identity_schema import (
    create_customer_identity_tables_v1,
    drop_customer_identity_tables_v1,
)
from crm_shared.platform_schema import add_outbox_parking_v2, create_platform_tables_v1, drop_platform_tables_v1

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0001_partners"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()
    add_outbox_parking_v2()
    create_customer_identity_tables_v1()
    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("bin", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("region_codes", sa.JSON(), nullable=False),
        sa.Column("branch_codes", sa.JSON(), nullable=False),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("bank_details", sa.JSON(), nullable=True),
        sa.Column("commission_plan", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("bin", name=op.f("uq_partners_bin")),
    )
    op.create_index("ix_partners_created", "partners", ["created_at", "id"])
    op.create_table(
        "customer_claims",
        sa.Column("customer_key", sa.String(length=20), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(length=36), nullable=False),
        sa.Column("protected_until", UTC_DATETIME, nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("brought_at", UTC_DATETIME, nullable=True),
        sa.Column("first_activation_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_customer_claims")),
    )
    op.create_index("ix_customer_claims_partner_id", "customer_claims", ["partner_id"])
    op.create_index("ix_customer_claims_customer_id", "customer_claims", ["customer_id"])
    op.create_table(
        "deals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer_key", sa.String(length=20), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("offering_ids", sa.JSON(), nullable=False),
        sa.Column("expected_value_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("lead_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    op.create_index("ix_deals_partner_created", "deals", ["partner_id", "created_at", "id"])
    op.create_index("ix_deals_customer_id", "deals", ["customer_id"])
    op.create_table(
        "commission_lines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("offering_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("accrued_at", UTC_DATETIME, nullable=False),
        sa.Column("confirmed_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_lines")),
        sa.UniqueConstraint("source_key", name=op.f("uq_commission_lines_source_key")),
    )
    op.create_index("ix_commission_lines_customer_id", "commission_lines", ["customer_id"])
    op.create_index("ix_commission_lines_order_id", "commission_lines", ["order_id"])
    op.create_index(
        "ix_commission_lines_partner_period", "commission_lines", ["partner_id", "period", "accrued_at", "id"]
    )
    op.create_table(
        "partner_months",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("activations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "period", name=op.f("pk_partner_months")),
    )
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index("ix_disputes_partner_id", "disputes", ["partner_id"])


def downgrade() -> None:
    for table in ("disputes", "partner_months", "commission_lines", "deals", "customer_claims", "partners"):
        op.drop_table(table)
    drop_customer_identity_tables_v1()
    drop_platform_tables_v1()
