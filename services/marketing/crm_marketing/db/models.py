"""The segments (the service's aggregate), and the per-branch counts its consumer keeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime, new_id

from .base import MarketingBase


class Segment(MarketingBase):
    """A segment: owned by a staff member and placed in a branch and its region, which is what
    decides who sees and changes it (access.py)."""

    __tablename__ = "segments"

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
        Index("ix_segments_branch_created", "branch_code", "created_at", "id"),
        Index("ix_segments_region_created", "region_code", "created_at", "id"),
        Index("ix_segments_created", "created_at", "id"),
    )


class SegmentBranchCount(MarketingBase):
    """How many segments a branch has. A projection of the service's own events, kept by the
    branch-counts consumer (events/consumers.py); no request writes it."""

    __tablename__ = "segment_branch_counts"

    branch_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(16))
    segments: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
