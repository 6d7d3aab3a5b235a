"""Catalogue offerings carry their names in Kazakh, Russian and English (offerings.names: {"kk",
"ru", "en"}); the answers name an offering in the caller's language.

Revision ID: 0005_offering_names
Revises: 0004_customer_identity
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_offering_names"
down_revision = "0004_customer_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offerings", sa.Column("names", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.drop_column("offerings", "names")
