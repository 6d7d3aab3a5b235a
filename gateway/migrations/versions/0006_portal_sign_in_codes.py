"""One-time sign-in codes of the customer self-service portal (portal_sign_in_codes).

Revision ID: 0006_portal_sign_in_codes
Revises: 0005_partner_users
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.db import UTCDateTime

revision = "0006_portal_sign_in_codes"
down_revision = "0005_partner_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_sign_in_codes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("wrong_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sign_in_codes")),
    )
    op.create_index(op.f("ix_portal_sign_in_codes_phone"), "portal_sign_in_codes", ["phone"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_sign_in_codes_phone"), table_name="portal_sign_in_codes")
    op.drop_table("portal_sign_in_codes")
