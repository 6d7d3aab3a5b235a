"""Customers with their phones, contacts and addresses, and the platform tables
(outbox, inbox, idempotency keys, audit log).

Revision ID: 0001_customers
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.platform_schema import create_platform_tables_v1, drop_platform_tables_v1

revision = "0001_customers"
down_revision = None
branch_labels = None
depends_on = None

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tax_id", sa.String(12), nullable=False),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("middle_name", sa.String(100)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("legal_name", sa.String(300)),
        sa.Column("legal_form", sa.String(50)),
        sa.Column("name_key", sa.String(400), nullable=False),
        sa.Column("primary_phone", sa.String(16)),
        sa.Column("email", sa.String(254)),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("marketing_consent_at", UTC_DATETIME),
        sa.Column("data_processing_consent", sa.Boolean(), nullable=False),
        sa.Column("data_processing_consent_at", UTC_DATETIME),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into_id", sa.String(36)),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["customers.id"], name="fk_customers_merged_into_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("tax_id", name="uq_customers_tax_id"),
    )
    op.create_index(
        "ix_customers_name_key_prefix", "customers", ["name_key"], postgresql_ops={"name_key": "varchar_pattern_ops"}
    )
    op.create_index("ix_customers_branch_name", "customers", ["branch_code", "name_key", "id"])
    op.create_index("ix_customers_region_name", "customers", ["region_code", "name_key", "id"])
    op.create_index("ix_customers_name_id", "customers", ["name_key", "id"])
    op.create_index("ix_customers_owner", "customers", ["owner_id"])

    op.create_table(
        "customer_phones",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("label", sa.String(32)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_phones_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_phones"),
        sa.UniqueConstraint("customer_id", "e164", name="uq_customer_phones_customer_id_e164"),
    )
    op.create_index("ix_customer_phones_e164", "customer_phones", ["e164"])

    op.create_table(
        "customer_contacts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.String(200)),
        sa.Column("phone", sa.String(16)),
        sa.Column("email", sa.String(254)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_contacts_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_contacts"),
    )
    op.create_index("ix_customer_contacts_customer_id", "customer_contacts", ["customer_id"])

    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("building", sa.String(20), nullable=False),
        sa.Column("apartment", sa.String(20)),
        sa.Column("postal_code", sa.String(6)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_addresses_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_addresses"),
    )
    op.create_index("ix_customer_addresses_customer_id", "customer_addresses", ["customer_id"])

    create_platform_tables_v1()


def downgrade() -> None:
    drop_platform_tables_v1()
    op.drop_table("customer_addresses")
    op.drop_table("customer_contacts")
    op.drop_table("customer_phones")
    op.drop_table("customers")
