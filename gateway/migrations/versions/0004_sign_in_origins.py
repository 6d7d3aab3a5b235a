"""The addresses each user signed in from (sign_in_origins), so that failed sign-ins throttling an
address or an account do not lock out the users who sign in from there every day.

Revision ID: 0004_sign_in_origins
Revises: 0003_branches
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.db import UTCDateTime

revision = "0004_sign_in_origins"
down_revision = "0003_branches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_origins",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("last_success_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "address", name=op.f("pk_sign_in_origins")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_origins")
