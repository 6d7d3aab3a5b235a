"""Where new records may be placed: the branch directory (branch_directory), kept by the
branch-directory consumer from the gateway's branch events. A closed branch takes no new
records; what it already holds stays readable and editable."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.errors import field_problem

from .db.pipeline_models import BranchDirectoryEntry


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
