"""The events of the gateway, written to the outbox in the caller's transaction. Each payload is
the record's state after the change.

crm.gateway.user.v1: created, updated, deactivated (never credentials; the language and e-mail address
that the person is written to in, e.g. task reminders from sales).
crm.gateway.branch.v1: opened, updated, closed (the sales service keeps its branch directory from them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.outbox import EventWriter

from ..db.models import Branch, User

EVENTS = EventWriter("gateway")
USER_EVENT_FIELDS = ("id", "username", "full_name", "role", "region_code", "branch_code", "active", "email", "language")
BRANCH_EVENT_FIELDS = ("code", "region_code", "city", "name_kk", "name_ru", "name_en", "active")


def user_event_data(user: User) -> dict[str, Any]:
    """The crm.gateway.user.* payload: the account's state after the change, never credentials."""
    return {name: getattr(user, name) for name in USER_EVENT_FIELDS}


def branch_event_data(branch: Branch) -> dict[str, Any]:
    """The crm.gateway.branch.* payload: the branch's state after the change."""
    return {name: getattr(branch, name) for name in BRANCH_EVENT_FIELDS}


async def publish_user(session: AsyncSession, action: str, user: User) -> None:
    await EVENTS.add(
        session,
        aggregate="user",
        action=action,
        subject=user.id,
        data=user_event_data(user),
        region=user.region_code,
        branch=user.branch_code,
    )


async def publish_branch(session: AsyncSession, action: str, branch: Branch) -> None:
    await EVENTS.add(
        session,
        aggregate="branch",
        action=action,
        subject=branch.code,
        data=branch_event_data(branch),
        region=branch.region_code,
        branch=branch.code,
    )
