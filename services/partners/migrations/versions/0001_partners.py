"""The partners and their per-branch counts, and the platform tables (outbox, inbox,
idempotency keys, audit log) as they are today.

Revision ID: 0001_partners
Revises:
"""

import sqlalchemy as sa
from alembic import op

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
    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_index("ix_partners_branch_created", "partners", ["branch_code", "created_at", "id"])
    op.create_index("ix_partners_region_created", "partners", ["region_code", "created_at", "id"])
    op.create_index("ix_partners_created", "partners", ["created_at", "id"])
    op.create_table(
        "partner_branch_counts",
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("partners", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("branch_code", name=op.f("pk_partner_branch_counts")),
    )


def downgrade() -> None:
    op.drop_table("partner_branch_counts")
    op.drop_table("partners")  # its indexes go with it
    drop_platform_tables_v1()
