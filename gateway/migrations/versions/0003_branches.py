"""The branch network becomes data the administrators manage (branches), starting from the
network at go-live (crm_shared.reference.INITIAL_BRANCHES), which the sales service's branch
directory also starts from.

Revision ID: 0003_branches
Revises: 0002_outbox_parking
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_shared.db import UTCDateTime
from crm_shared.reference import INITIAL_BRANCHES

revision = "0003_branches"
down_revision = "0002_outbox_parking"
branch_labels = None
depends_on = None

GO_LIVE = datetime(2026, 11, 28, tzinfo=UTC)


def upgrade() -> None:
    branches = op.create_table(
        "branches",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("name_kk", sa.String(length=200), nullable=False),
        sa.Column("name_ru", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_branches")),
    )
    op.create_index(op.f("ix_branches_region_code"), "branches", ["region_code"])
    op.bulk_insert(
        branches,
        [
            {
                "code": b.code,
                "region_code": b.region_code,
                "city": b.city,
                "name_kk": b.name_kk,
                "name_ru": b.name_ru,
                "name_en": b.name_en,
                "active": True,
                "version": 1,
                "created_at": GO_LIVE,
                "updated_at": GO_LIVE,
            }
            for b in INITIAL_BRANCHES
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_branches_region_code"), table_name="branches")
    op.drop_table("branches")
