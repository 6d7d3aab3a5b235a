"""users.email: the person's own address (task reminders from sales), announced with the language in
crm.gateway.user.* events.

Revision ID: 0007_user_email
Revises: 0006_portal_sign_in_codes
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_user_email"
down_revision = "0006_portal_sign_in_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "email")
