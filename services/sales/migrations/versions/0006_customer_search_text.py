"""Free-text customer search: customers.search_text (every name and the e-mail, folded by
crm_sales.domain.customers.customer_search_text), filled for the customers there are, with a
trigram index (pg_trgm, GIN) on PostgreSQL for LIKE '%word%'.

Revision ID: 0006_customer_search_text
Revises: 0005_erasure
"""

import sqlalchemy as sa
from alembic import op

from crm_sales.domain.customers import customer_search_text

revision = "0006_customer_search_text"
down_revision = "0005_erasure"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    customers = sa.table(
        "customers",
        *(sa.column(name) for name in ("id", "first_name", "last_name", "middle_name", "legal_name", "email")),
        sa.column("search_text"),
    )
    after = ""
    while True:
        rows = bind.execute(
            sa.select(customers).where(customers.c.id > after).order_by(customers.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            customers.update().where(customers.c.id == sa.bindparam("row_id")),
            [
                {
                    "row_id": row.id,
                    "search_text": customer_search_text(
                        first_name=row.first_name,
                        last_name=row.last_name,
                        middle_name=row.middle_name,
                        legal_name=row.legal_name,
                        email=row.email,
                    ),
                }
                for row in rows
            ],
        )
        after = rows[-1].id
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_customers_search_text_trgm",
        "customers",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_customers_search_text_trgm", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("search_text")
