"""The branch network: validation of a branch's fields and placement of staff."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.errors import field_problem
from crm_shared.reference import BRANCH_CODE_PATTERN, REGIONS_BY_CODE

from ..db.models import Branch, User


def normalise_code(code: str) -> str:
    value = code.strip().upper()
    if not re.match(BRANCH_CODE_PATTERN, value):
        raise field_problem("code", "three letters of the city, a dash and two digits, e.g. ALA-03")
    return value


def known_region(region_code: str, field: str = "region_code") -> str:
    if region_code not in REGIONS_BY_CODE:
        raise field_problem(field, f"unknown region {region_code!r}")
    return region_code


def required_text(field: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise field_problem(field, "may not be blank")
    return text


async def branch_for_placement(session: AsyncSession, branch_code: str, *, allow_closed: bool = False) -> Branch:
    """The branch something is placed in: it must exist and, unless ``allow_closed``, be open."""
    branch = await session.get(Branch, branch_code)
    if branch is None:
        raise field_problem("branch_code", f"unknown branch {branch_code!r}")
    if not branch.active and not allow_closed:
        raise field_problem("branch_code", f"branch {branch_code} is closed")
    return branch


async def active_staff_count(session: AsyncSession, branch_code: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(User).where(User.branch_code == branch_code, User.active.is_(True))
        )
        or 0
    )
