"""The customer's rating of a resolved ticket (tickets.rating_score, rating_comment, rated_at),
given once through the self-service portal: CSAT for the branch and for analytics.

Revision ID: 0008_ticket_rating
Revises: 0007_partner_customers
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.db import UTCDateTime

revision = "0008_ticket_rating"
down_revision = "0007_partner_customers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("rating_score", sa.Integer(), nullable=True))
    op.add_column("tickets", sa.Column("rating_comment", sa.String(length=1000), nullable=True))
    op.add_column("tickets", sa.Column("rated_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("tickets", "rated_at")
    op.drop_column("tickets", "rating_comment")
    op.drop_column("tickets", "rating_score")
