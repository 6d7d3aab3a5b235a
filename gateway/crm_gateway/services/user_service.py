"""Staff users: where an account may be placed in the branch network."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import ROLE_SCOPE, Role, Scope
from crm_shared.errors import field_problem

from .branch_service import placement


async def user_placement(
    session: AsyncSession, role: Role, region_code: str | None, branch_code: str | None, kept_branch: str | None = None
) -> tuple[str | None, str | None]:
    """A branch role needs a branch and a regional role a region; national roles may have either."""
    region, branch = await placement(session, region_code, branch_code, kept_branch)
    scope = ROLE_SCOPE[role]
    if scope is Scope.BRANCH and branch is None:
        raise field_problem("branch_code", f"required for role {role.value}")
    if scope is Scope.REGION and region is None:
        raise field_problem("region_code", f"required for role {role.value}")
    return region, branch
