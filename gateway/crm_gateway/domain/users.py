"""Staff users: where a role sits in the branch/region structure."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import ROLE_SCOPE, Role, Scope
from crm_shared.errors import field_problem
from crm_shared.reference import REGIONS_BY_CODE

from .branches import branch_for_placement

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LANGUAGES = ("kk", "ru", "en")
MIN_PASSWORD_LENGTH = 8


def normalise_username(username: str) -> str:
    value = username.strip().lower()
    if not USERNAME_PATTERN.match(value):
        raise field_problem("username", "2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_problem("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def staff_role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise field_problem("role", f"unknown role {value!r}") from None
    if role is Role.SYSTEM:
        raise field_problem("role", "system is reserved for API keys of external systems")
    return role


async def placement(
    session: AsyncSession, region_code: str | None, branch_code: str | None, kept_branch: str | None = None
) -> tuple[str | None, str | None]:
    """Validated (region, branch): a branch implies its region, must exist and be open (except
    ``kept_branch``, where the record already sits and which may have closed since)."""
    if branch_code is not None:
        branch = await branch_for_placement(session, branch_code, allow_closed=branch_code == kept_branch)
        if region_code is not None and region_code != branch.region_code:
            raise field_problem("region_code", f"branch {branch_code} belongs to region {branch.region_code}")
        return branch.region_code, branch_code
    if region_code is not None and region_code not in REGIONS_BY_CODE:
        raise field_problem("region_code", f"unknown region {region_code!r}")
    return region_code, None


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
