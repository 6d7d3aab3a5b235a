"""The sales pipeline: leads, opportunities, activities and bulk reassignments, plus the
projections the sales consumers keep (staff directory, customer counts per branch).

Revision ID: 0002_pipeline
Revises: 0001_customers
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_pipeline"
down_revision = "0001_customers"
branch_labels = None
depends_on = None

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disqualify_reason", sa.Text()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("email", sa.String(254)),
        sa.Column("company_name", sa.String(300)),
        sa.Column("interest", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("partner_id", sa.String(64)),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(36)),
        sa.Column("opportunity_id", sa.String(36)),
        sa.Column("converted_at", UTC_DATETIME),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_leads_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
    )
    op.create_index("ix_leads_status", "leads", ["status"])
    op.create_index("ix_leads_phone", "leads", ["phone"])
    op.create_index("ix_leads_owner_id", "leads", ["owner_id"])
    op.create_index("ix_leads_region_branch", "leads", ["region_code", "branch_code"])
    op.create_index("ix_leads_created", "leads", ["created_at", "id"])

    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("lead_id", sa.String(36)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("product_line", sa.String(16)),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("amount_tiyn", sa.BigInteger(), nullable=False),
        sa.Column("expected_close_date", sa.Date()),
        sa.Column("close_reason", sa.Text()),
        sa.Column("closed_at", UTC_DATETIME),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_opportunities_customer_id_customers"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name="fk_opportunities_lead_id_leads"),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
    )
    op.create_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])
    op.create_index("ix_opportunities_stage", "opportunities", ["stage"])
    op.create_index("ix_opportunities_owner_id", "opportunities", ["owner_id"])
    op.create_index("ix_opportunities_region_branch", "opportunities", ["region_code", "branch_code"])
    op.create_index("ix_opportunities_created", "opportunities", ["created_at", "id"])

    op.create_table(
        "activities",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("related_type", sa.String(16), nullable=False),
        sa.Column("related_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text()),
        sa.Column("due_at", UTC_DATETIME),
        sa.Column("done_at", UTC_DATETIME),
        sa.Column("outcome", sa.Text()),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    op.create_index("ix_activities_owner_id", "activities", ["owner_id"])
    op.create_index("ix_activities_related", "activities", ["related_type", "related_id"])
    op.create_index("ix_activities_created", "activities", ["created_at", "id"])

    op.create_table(
        "reassignments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("from_owner_id", sa.String(200), nullable=False),
        sa.Column("to_owner_id", sa.String(64), nullable=False),
        sa.Column("to_owner_name", sa.String(200), nullable=False),
        sa.Column("to_branch_code", sa.String(32), nullable=False),
        sa.Column("to_region_code", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reassignments"),
    )
    op.create_index("ix_reassignments_from_owner_id", "reassignments", ["from_owner_id"])

    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(16)),
        sa.Column("branch_code", sa.String(32)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("event_time", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_members"),
    )

    op.create_table(
        "customer_counts",
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "branch_code", "kind", name="pk_customer_counts"),
    )

    op.create_table(
        "customer_count_members",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("branch_code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_count_members"),
    )


def downgrade() -> None:
    op.drop_table("customer_count_members")
    op.drop_table("customer_counts")
    op.drop_table("staff_members")
    op.drop_table("reassignments")
    op.drop_table("activities")
    op.drop_table("opportunities")
    op.drop_table("leads")
