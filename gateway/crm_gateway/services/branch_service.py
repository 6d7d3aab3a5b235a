"""The branch network: opening, renaming, closing and reopening branches, and where staff and API
keys may be placed in it.

Each change is written with its crm.gateway.branch.* event in the caller's unit of work (outbox);
the sales service keeps its branch directory from those events. A branch never moves to another
region: every record placed in it carries that region for visibility, so a move would silently
change who sees them. Open a new branch and reassign instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import diff, record_change
from crm_shared.auth import Principal
from crm_shared.concurrency import check_version
from crm_shared.db import utcnow
from crm_shared.domain import InvalidField
from crm_shared.errors import Problem, conflict, not_found

from ..db.models import Branch, User
from ..domain.branches import check_may_close, known_region, normalise_code, region_of_placement, required_text
from ..events.publishers import branch_event_data, publish_branch

NAME_FIELDS = ("name_kk", "name_ru", "name_en")
# What an administrator may change of a branch (its code and region never change).
EDITABLE_FIELDS = ("city", *NAME_FIELDS, "active")


@dataclass(frozen=True)
class NewBranch:
    """A branch to open, its fields as the request gave them."""

    code: str
    region_code: str
    city: str
    name_kk: str
    name_ru: str
    name_en: str


@dataclass(frozen=True)
class StaffedBranch:
    """A branch and the number of active staff accounts placed in it."""

    branch: Branch
    active_users: int


# --- reading -----------------------------------------------------------------------------------


async def all_branches(session: AsyncSession, region_code: str | None = None) -> list[Branch]:
    """The network by code, closed branches too (the reference data every caller reads)."""
    query = select(Branch).order_by(Branch.code)
    if region_code is not None:
        query = query.where(Branch.region_code == region_code)
    return list(await session.scalars(query))


async def staffed_branches(
    session: AsyncSession, *, region_code: str | None = None, active: bool | None = None
) -> list[StaffedBranch]:
    """The network by code with the active staff of each branch (one query)."""
    staff = (
        select(User.branch_code, func.count().label("n"))
        .where(User.active.is_(True))
        .group_by(User.branch_code)
        .subquery()
    )
    query = (
        select(Branch, func.coalesce(staff.c.n, 0))
        .outerjoin(staff, staff.c.branch_code == Branch.code)
        .order_by(Branch.code)
    )
    if region_code is not None:
        query = query.where(Branch.region_code == region_code)
    if active is not None:
        query = query.where(Branch.active.is_(active))
    return [StaffedBranch(branch, n) for branch, n in (await session.execute(query)).all()]


async def staffed_branch(session: AsyncSession, code: str) -> StaffedBranch:
    branch = await _branch_or_404(session, code)
    return StaffedBranch(branch, await active_staff_count(session, branch.code))


async def _branch_or_404(session: AsyncSession, code: str) -> Branch:
    branch = await session.get(Branch, code.strip().upper())
    if branch is None:
        raise not_found("branch", code)
    return branch


async def active_staff_count(session: AsyncSession, branch_code: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(User).where(User.branch_code == branch_code, User.active.is_(True))
        )
        or 0
    )


# --- changes -----------------------------------------------------------------------------------


async def open_branch(session: AsyncSession, principal: Principal, new: NewBranch) -> Branch:
    code = normalise_code(new.code)
    region = known_region(new.region_code.strip().upper())
    fields = {"city": required_text("city", new.city)} | {
        name: required_text(name, getattr(new, name)) for name in NAME_FIELDS
    }
    if await session.get(Branch, code) is not None:
        raise code_taken(code)
    now = utcnow()
    branch = Branch(code=code, region_code=region, active=True, version=1, created_at=now, updated_at=now, **fields)
    session.add(branch)
    try:
        await session.flush()
    except IntegrityError:  # opened by a concurrent request meanwhile
        raise code_taken(code) from None
    await publish_branch(session, "opened", branch)
    record_change(
        session,
        principal,
        entity_type="branch",
        entity_id=code,
        action="created",
        changes=diff({}, branch_event_data(branch)),
    )
    return branch


def code_taken(code: str) -> Problem:
    return conflict(f"branch {code} already exists", errors=[{"field": "code", "message": "already exists"}])


async def update_branch(
    session: AsyncSession, principal: Principal, code: str, changes: Mapping[str, Any], expected_version: int | None
) -> StaffedBranch:
    """Rename (city, names), close (``active`` False) or reopen (True). ``changes``: the fields of
    EDITABLE_FIELDS to set; ``expected_version`` None changes whatever version is current."""
    asked = {name: required_text(name, value) if isinstance(value, str) else value for name, value in changes.items()}
    branch = await _branch_or_404(session, code)
    check_version("branch", branch.version, expected_version)
    staff = await active_staff_count(session, branch.code)
    if asked.get("active") is False and branch.active:
        check_may_close(branch.code, staff)
    before = branch_event_data(branch)
    for name, value in asked.items():
        setattr(branch, name, value)
    changed = diff(before, branch_event_data(branch))
    if changed:
        branch.version += 1
        branch.updated_at = utcnow()
        action = "closed" if before["active"] and not branch.active else "updated"
        await publish_branch(session, action, branch)
        record_change(session, principal, entity_type="branch", entity_id=branch.code, action=action, changes=changed)
    return StaffedBranch(branch, staff)


# --- placement of staff and API keys -----------------------------------------------------------


async def branch_for_placement(session: AsyncSession, branch_code: str, *, allow_closed: bool = False) -> Branch:
    """The branch something is placed in: it must exist and, unless ``allow_closed``, be open."""
    branch = await session.get(Branch, branch_code)
    if branch is None:
        raise InvalidField("branch_code", f"unknown branch {branch_code!r}")
    if not branch.active and not allow_closed:
        raise InvalidField("branch_code", f"branch {branch_code} is closed")
    return branch


async def placement(
    session: AsyncSession, region_code: str | None, branch_code: str | None, kept_branch: str | None = None
) -> tuple[str | None, str | None]:
    """Validated (region, branch): a branch implies its region, must exist and be open (except
    ``kept_branch``, where the record already sits and which may have closed since)."""
    if branch_code is not None:
        branch = await branch_for_placement(session, branch_code, allow_closed=branch_code == kept_branch)
        return region_of_placement(region_code, branch_code, branch.region_code), branch_code
    return (known_region(region_code) if region_code is not None else None), None
