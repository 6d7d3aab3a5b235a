"""Customer CSV imports run in the background (customer_imports): the file, who started it, the
progress of its committed batches and the first errors by line; customer_import_batches: which
batches were committed (a resumed job runs the others).

Revision ID: 0012_customer_imports
Revises: 0011_customer_name_walk
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_customer_imports"
down_revision = "0011_customer_name_walk"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_imports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("principal", sa.JSON(), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("worker_id", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_imports")),
    )
    op.create_index(op.f("ix_customer_imports_owner_id"), "customer_imports", ["owner_id"])
    op.create_index("ix_customer_imports_status_created", "customer_imports", ["status", "created_at"])
    op.create_table(
        "customer_import_batches",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("batch_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("committed_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["customer_imports.id"], name=op.f("fk_customer_import_batches_job_id_customer_imports")
        ),
        sa.PrimaryKeyConstraint("job_id", "batch_no", name=op.f("pk_customer_import_batches")),
    )


def downgrade() -> None:
    op.drop_table("customer_import_batches")
    op.drop_index("ix_customer_imports_status_created", table_name="customer_imports")
    op.drop_index(op.f("ix_customer_imports_owner_id"), table_name="customer_imports")
    op.drop_table("customer_imports")
