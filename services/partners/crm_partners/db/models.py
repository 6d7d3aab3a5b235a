"""The partners (the service's aggregate), and the per-branch counts its consumer keeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime, new_id

from .base import PartnersBase


class Partner(PartnersBase):
    """A partner: owned by a staff member and placed in a branch and its region, which is what
    decides who sees and changes it (access.py)."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # UPDATE ... WHERE version = <the version read>: a writer that lost a race gets a 412 at flush
    # (crm_shared.concurrency.flush_or_conflict) instead of overwriting the winner's change.
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The newest-first list, within each visibility scope (branch, region, national).
        Index("ix_partners_branch_created", "branch_code", "created_at", "id"),
        Index("ix_partners_region_created", "region_code", "created_at", "id"),
        Index("ix_partners_created", "created_at", "id"),
    )


class PartnerBranchCount(PartnersBase):
    """How many partners a branch has. A projection of the service's own events, kept by the
    branch-counts consumer (events/consumers.py); no request writes it."""

    __tablename__ = "partner_branch_counts"

    branch_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(16))
    partners: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
