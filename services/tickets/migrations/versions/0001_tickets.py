"""The tickets service schema: tickets (status history, notes, attachments, relations, SLA
signals), mass incidents, interactions, the installed-product projection, and the platform
tables (outbox, inbox, idempotency keys, audit log).

Revision ID: 0001_tickets
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_shared.platform_schema import create_platform_tables_v1, drop_platform_tables_v1

# Types spelled out here rather than imported from the application, so that this file keeps
# producing the same schema whatever later happens to the models.
UTC_DATETIME = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = "0001_tickets"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("area", sa.String(length=300), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_reference", sa.String(length=200), nullable=True),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("expected_resolution_at", UTC_DATETIME, nullable=True),
        sa.Column("resolution", sa.String(length=2000), nullable=True),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_open_region", "incidents", ["status", "region_code"], unique=False)
    op.create_table(
        "installed_products",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("offering_name", sa.String(length=300), nullable=False),
        sa.Column("product_line", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("service_address", sa.String(length=500), nullable=True),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("region_code", sa.String(length=16), nullable=True),
        sa.Column("event_time", UTC_DATETIME, nullable=False),
        sa.Column("terminated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_products")),
    )
    op.create_index(op.f("ix_installed_products_customer_id"), "installed_products", ["customer_id"], unique=False)
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("customer_name", sa.String(length=300), nullable=False),
        sa.Column("customer_segment", sa.String(length=16), nullable=False),
        sa.Column("installed_product_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_change_reason", sa.String(length=500), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=200), nullable=True),
        sa.Column("assignee_name", sa.String(length=200), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_by_name", sa.String(length=200), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("sla_policy", sa.String(length=64), nullable=False),
        sa.Column("response_due_at", UTC_DATETIME, nullable=True),
        sa.Column("resolution_due_at", UTC_DATETIME, nullable=False),
        sa.Column("first_response_at", UTC_DATETIME, nullable=True),
        sa.Column("paused_at", UTC_DATETIME, nullable=True),
        sa.Column("response_state", sa.String(length=16), nullable=False),
        sa.Column("resolution_state", sa.String(length=16), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("sla_cycle", sa.Integer(), nullable=False),
        sa.Column("sla_check_at", UTC_DATETIME, nullable=True),
        sa.Column("urgency_at", UTC_DATETIME, nullable=True),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_tickets_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_branch_created", "tickets", ["branch_code", "created_at"], unique=False)
    op.create_index("ix_tickets_created_id", "tickets", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_tickets_customer_id"), "tickets", ["customer_id"], unique=False)
    op.create_index("ix_tickets_customer_status", "tickets", ["customer_id", "status"], unique=False)
    op.create_index(op.f("ix_tickets_incident_id"), "tickets", ["incident_id"], unique=False)
    op.create_index("ix_tickets_opened_by", "tickets", ["opened_by"], unique=False)
    op.create_index("ix_tickets_queue_urgency", "tickets", ["queue", "status", "urgency_at"], unique=False)
    op.create_index("ix_tickets_sla_check_at", "tickets", ["sla_check_at"], unique=False)
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.String(length=2000), nullable=True),
        sa.Column("ticket_id", sa.String(length=36), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_interactions_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(op.f("ix_interactions_customer_id"), "interactions", ["customer_id"], unique=False)
    op.create_table(
        "sla_signals",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("escalated_to", sa.String(length=32), nullable=True),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("raised_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_sla_signals_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_signals")),
        sa.UniqueConstraint("ticket_id", "cycle", "kind", name=op.f("uq_sla_signals_ticket_id_cycle_kind")),
    )
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_attachments_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    op.create_index(op.f("ix_ticket_attachments_ticket_id"), "ticket_attachments", ["ticket_id"], unique=False)
    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_notes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_notes")),
    )
    op.create_index(op.f("ix_ticket_notes_ticket_id"), "ticket_notes", ["ticket_id"], unique=False)
    op.create_table(
        "ticket_relations",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("related_ticket_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["related_ticket_id"], ["tickets.id"], name=op.f("fk_ticket_relations_related_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_relations_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_relations")),
        sa.UniqueConstraint(
            "ticket_id", "related_ticket_id", name=op.f("uq_ticket_relations_ticket_id_related_ticket_id")
        ),
    )
    op.create_index(op.f("ix_ticket_relations_ticket_id"), "ticket_relations", ["ticket_id"], unique=False)
    op.create_table(
        "ticket_status_changes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_status_changes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_status_changes")),
    )
    op.create_index(op.f("ix_ticket_status_changes_ticket_id"), "ticket_status_changes", ["ticket_id"], unique=False)
    create_platform_tables_v1()


def downgrade() -> None:
    drop_platform_tables_v1()
    op.drop_index(op.f("ix_ticket_status_changes_ticket_id"), table_name="ticket_status_changes")
    op.drop_table("ticket_status_changes")
    op.drop_index(op.f("ix_ticket_relations_ticket_id"), table_name="ticket_relations")
    op.drop_table("ticket_relations")
    op.drop_index(op.f("ix_ticket_notes_ticket_id"), table_name="ticket_notes")
    op.drop_table("ticket_notes")
    op.drop_index(op.f("ix_ticket_attachments_ticket_id"), table_name="ticket_attachments")
    op.drop_table("ticket_attachments")
    op.drop_table("sla_signals")
    op.drop_index(op.f("ix_interactions_customer_id"), table_name="interactions")
    op.drop_table("interactions")
    op.drop_index("ix_tickets_sla_check_at", table_name="tickets")
    op.drop_index("ix_tickets_queue_urgency", table_name="tickets")
    op.drop_index("ix_tickets_opened_by", table_name="tickets")
    op.drop_index(op.f("ix_tickets_incident_id"), table_name="tickets")
    op.drop_index("ix_tickets_customer_status", table_name="tickets")
    op.drop_index(op.f("ix_tickets_customer_id"), table_name="tickets")
    op.drop_index("ix_tickets_created_id", table_name="tickets")
    op.drop_index("ix_tickets_branch_created", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_installed_products_customer_id"), table_name="installed_products")
    op.drop_table("installed_products")
    op.drop_index("ix_incidents_open_region", table_name="incidents")
    op.drop_table("incidents")
