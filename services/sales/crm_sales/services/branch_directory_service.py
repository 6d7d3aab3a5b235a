"""The branch directory (branch_directory): where new records may be placed. The gateway is the
system of record for the branch network; the branch-directory consumer keeps this projection
from its branch events. A closed branch takes no new records; what it already holds stays
readable and editable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import utcnow
from crm_shared.errors import field_problem

from ..db.pipeline_models import BranchDirectoryEntry
from .projections import latest_state_row


async def region_of_open_branch(
    session: AsyncSession, branch_code: str, *, field: str = "branch_code", whose: str | None = None
) -> str:
    """The region of ``branch_code`` if a new record may be placed there; otherwise 422 naming
    ``field``: the directory does not know the branch, or it is closed. ``whose`` introduces the
    message when ``field`` does not hold the code itself (e.g. the owner's id)."""
    branch = await session.get(BranchDirectoryEntry, branch_code)
    if branch is not None and branch.active:
        return branch.region_code
    reason = f"unknown branch {branch_code!r}" if branch is None else f"branch {branch_code} is closed"
    raise field_problem(field, f"{whose}: {reason}" if whose else reason)


async def record_branch(
    session: AsyncSession, code: str, *, region_code: str | None, active: bool, as_of: datetime
) -> None:
    """Sets the directory's entry of branch ``code`` to its state at ``as_of``, unless a later
    state is already there. Without ``region_code`` the branch keeps the region it has."""
    branch = await latest_state_row(session, as_of, BranchDirectoryEntry, code=code, region_code="")
    if branch is None:
        return
    if region_code:
        branch.region_code = region_code
    branch.active = active
    branch.event_time = as_of
    branch.updated_at = utcnow()
