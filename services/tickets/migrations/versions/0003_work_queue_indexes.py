"""Work-queue indexes: a queue's, an assignee's, a branch's and a region's open tickets most
urgent first (urgency_at, created_at, id: the keyset order of GET /queues/{queue}/tickets and of
GET /tickets?sort=urgency), partial on the open statuses; an assignee's tickets newest first.
They replace ix_tickets_queue_urgency (queue, status, urgency_at), whose status in the middle
made the queue view read every open status's range and sort them.

Revision ID: 0003_work_queue_indexes
Revises: 0002_projection_and_demo
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_work_queue_indexes"
down_revision = "0002_projection_and_demo"
branch_labels = None
depends_on = None

# Spelled out rather than imported from the application (see 0001_tickets).
OPEN_TICKET = "status IN ('new', 'acknowledged', 'in_progress', 'pending')"
OPEN_URGENCY_INDEXES = {
    "ix_tickets_open_queue_urgency": "queue",
    "ix_tickets_open_assignee_urgency": "assignee_id",
    "ix_tickets_open_branch_urgency": "branch_code",
    "ix_tickets_open_region_urgency": "region_code",
}


def upgrade() -> None:
    for name, leading in OPEN_URGENCY_INDEXES.items():
        op.create_index(
            name,
            "tickets",
            [leading, "urgency_at", "created_at", "id"],
            unique=False,
            postgresql_where=sa.text(OPEN_TICKET),
            sqlite_where=sa.text(OPEN_TICKET),
        )
    op.create_index("ix_tickets_assignee_created", "tickets", ["assignee_id", "created_at", "id"], unique=False)
    op.drop_index("ix_tickets_queue_urgency", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_queue_urgency", "tickets", ["queue", "status", "urgency_at"], unique=False)
    op.drop_index("ix_tickets_assignee_created", table_name="tickets")
    for name in reversed(OPEN_URGENCY_INDEXES):
        op.drop_index(name, table_name="tickets")
