"""The table of crm_shared.tmf (tmf_original_values: the value of a free TMF attribute as the
client sent it) as Alembic operations, for the migration of every service with a TM Forum facade.
Version 1; a later change gets a new function, so that a migration that has run keeps meaning
what it meant."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_tmf_original_values_v1() -> None:
    op.create_table(
        "tmf_original_values",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "attribute", name="pk_tmf_original_values"),
    )


def drop_tmf_original_values_v1() -> None:
    op.drop_table("tmf_original_values")
