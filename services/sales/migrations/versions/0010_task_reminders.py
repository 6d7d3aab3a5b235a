"""E-mail reminders of tasks: the staff directory keeps each person's e-mail address and language
(crm.gateway.user.* carry them now), and task_reminders records each reminder claimed and sent,
so that none goes out twice.

Revision ID: 0010_task_reminders
Revises: 0009_customer_interactions
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_task_reminders"
down_revision = "0009_customer_interactions"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("staff_members", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("staff_members", sa.Column("language", sa.String(2), nullable=True))
    op.create_table(
        "task_reminders",
        sa.Column("activity_id", sa.String(36), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("message_id", sa.String(300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("activity_id", "due_at", name=op.f("pk_task_reminders")),
    )


def downgrade() -> None:
    op.drop_table("task_reminders")
    op.drop_column("staff_members", "language")
    op.drop_column("staff_members", "email")
