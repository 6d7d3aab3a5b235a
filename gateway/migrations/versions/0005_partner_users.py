"""Users of role partner carry the partner (dealer or agent) they work for.

Revision ID: 0005_partner_users
Revises: 0004_sign_in_origins
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_partner_users"
down_revision = "0004_sign_in_origins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("partner_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "partner_id")
