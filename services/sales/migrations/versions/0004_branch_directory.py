"""The branch directory (branch_directory), kept by the branch-directory consumer from the
gateway's crm.gateway.branch.v1 events, starting from the network at go-live
(crm_shared.reference.INITIAL_BRANCHES), so that customers can be placed before any event arrives.

Revision ID: 0004_branch_directory
Revises: 0003_outbox_parking
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_shared.reference import INITIAL_BRANCHES

revision = "0004_branch_directory"
down_revision = "0003_outbox_parking"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
# Older than any real event, so the gateway's first event about an initial branch overrides it.
INSTALLED_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    branch_directory = op.create_table(
        "branch_directory",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("event_time", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_branch_directory"),
    )
    installed_at = datetime.now(UTC)
    op.bulk_insert(
        branch_directory,
        [
            {
                "code": branch.code,
                "region_code": branch.region_code,
                "active": True,
                "event_time": INSTALLED_EVENT_TIME,
                "updated_at": installed_at,
            }
            for branch in INITIAL_BRANCHES
        ],
    )


def downgrade() -> None:
    op.drop_table("branch_directory")
