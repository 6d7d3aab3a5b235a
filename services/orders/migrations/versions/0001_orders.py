"""Catalogue (offerings, offering versions), orders and items, installed products, billing
accounts with invoices and payments, and the platform tables (outbox, inbox, idempotency keys,
audit log).

Revision ID: 0001_orders
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.platform_schema import create_platform_tables_v1, drop_platform_tables_v1

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)


revision = "0001_orders"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_billing_accounts")),
    )
    op.create_table(
        "installed_products",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("offering_id", sa.String(length=64), nullable=False),
        sa.Column("offering_name", sa.String(length=200), nullable=False),
        sa.Column("product_line", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("characteristics", sa.JSON(), nullable=False),
        sa.Column("recurring_price_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("service_address", sa.String(length=500), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("activated_at", UTC_DATETIME, nullable=False),
        sa.Column("terminated_at", UTC_DATETIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_products")),
    )
    op.create_index(
        "ix_installed_products_customer", "installed_products", ["customer_id", "activated_at", "id"], unique=False
    )
    op.create_table(
        "offerings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product_line", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("one_off_price_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("recurring_price_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("characteristics", sa.JSON(), nullable=False),
        sa.Column("region_codes", sa.JSON(), nullable=False),
        sa.Column("bundled_offering_ids", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offerings")),
    )
    op.create_index(op.f("ix_offerings_product_line"), "offerings", ["product_line"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("customer_name", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("one_off_total_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("recurring_total_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("opportunity_id", name=op.f("uq_orders_opportunity_id")),
    )
    op.create_index("ix_orders_created", "orders", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_orders_customer_id"), "orders", ["customer_id"], unique=False)
    op.create_index(
        "ix_orders_region_branch_created", "orders", ["region_code", "branch_code", "created_at"], unique=False
    )
    op.create_index(op.f("ix_orders_state"), "orders", ["state"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("amount_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("paid_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["billing_accounts.customer_id"], name=op.f("fk_invoices_customer_id_billing_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_index(op.f("ix_invoices_customer_id"), "invoices", ["customer_id"], unique=False)
    op.create_table(
        "offering_versions",
        sa.Column("offering_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["offering_id"], ["offerings.id"], name=op.f("fk_offering_versions_offering_id_offerings")
        ),
        sa.PrimaryKeyConstraint("offering_id", "version", name=op.f("pk_offering_versions")),
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("offering_id", sa.String(length=64), nullable=False),
        sa.Column("offering_version", sa.Integer(), nullable=False),
        sa.Column("offering_name", sa.String(length=200), nullable=False),
        sa.Column("product_line", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("one_off_price_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("recurring_price_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("characteristics", sa.JSON(), nullable=False),
        sa.Column("service_address", sa.String(length=500), nullable=False),
        sa.Column("installed_product_id", sa.String(length=36), nullable=True),
        sa.Column("result_product_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_order_items_order_id_position")),
    )
    op.create_index(op.f("ix_order_items_order_id"), "order_items", ["order_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("amount_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    create_platform_tables_v1()


def downgrade() -> None:
    drop_platform_tables_v1()
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_order_items_order_id"), table_name="order_items")
    op.drop_table("order_items")
    op.drop_table("offering_versions")
    op.drop_index(op.f("ix_invoices_customer_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_orders_state"), table_name="orders")
    op.drop_index("ix_orders_region_branch_created", table_name="orders")
    op.drop_index(op.f("ix_orders_customer_id"), table_name="orders")
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_offerings_product_line"), table_name="offerings")
    op.drop_table("offerings")
    op.drop_index("ix_installed_products_customer", table_name="installed_products")
    op.drop_table("installed_products")
    op.drop_table("billing_accounts")
