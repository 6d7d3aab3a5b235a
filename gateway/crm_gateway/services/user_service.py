"""Staff users (administered by role admin): accounts, their place in the branch network, their
passwords.

Each change is written with its crm.gateway.user.* event in the caller's unit of work (outbox) and
its audit entry. Argon2 runs before the unit of work's first statement, so no transaction waits
for it. The credential caches are the caller's to clear once the change is committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import diff, record_change
from crm_shared.auth import ROLE_SCOPE, Principal, Role, Scope
from crm_shared.concurrency import check_version
from crm_shared.db import new_id, utcnow
from crm_shared.domain import InvalidField
from crm_shared.errors import Problem, conflict, not_found
from crm_shared.pagination import decode_cursor, encode_cursor

from ..db.models import User
from ..domain.users import check_own_account_change, check_password, normalise_username
from ..events.publishers import publish_user, user_event_data
from ..passwords import Passwords
from .branch_service import placement

# What every account has: a change may not clear them (region_code and branch_code it may).
NOT_NULL_FIELDS = ("full_name", "role", "active", "language")


@dataclass(frozen=True)
class NewUser:
    """A staff account to create, its fields as the request gave them."""

    username: str
    full_name: str
    password: str = field(repr=False)
    role: str
    region_code: str | None = None
    branch_code: str | None = None
    language: str = "ru"
    partner_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AccountToCreate:
    """A NewUser that passed the rules needing no database, its password hashed."""

    username: str
    full_name: str
    role: Role
    region_code: str | None
    branch_code: str | None
    language: str
    password_hash: str = field(repr=False)
    partner_id: str | None = None
    email: str | None = None


# --- reading -----------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None = None,
    active: bool | None = None,
    role: str | None = None,
    branch_code: str | None = None,
    region_code: str | None = None,
) -> tuple[list[User], str | None]:
    """A page of users by username, and the cursor of the next page (None after the last)."""
    query = select(User).order_by(User.username).limit(limit + 1)
    after = decode_cursor(cursor)
    if after:
        query = query.where(User.username > str(after[0]))
    for column, value in (
        (User.active, active),
        (User.role, role),
        (User.branch_code, branch_code),
        (User.region_code, region_code),
    ):
        if value is not None:
            query = query.where(column == value)
    users = list(await session.scalars(query))
    next_cursor = encode_cursor([users[limit - 1].username]) if len(users) > limit else None
    return users[:limit], next_cursor


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    return user


# --- changes -----------------------------------------------------------------------------------


async def account_to_create(passwords: Passwords, new: NewUser) -> AccountToCreate:
    """Step one of creating a user, before its unit of work: the username, role and password
    rules, then the password's hash."""
    username = normalise_username(new.username)
    role = staff_role(new.role)
    check_partner(role, new.partner_id)
    check_password(new.password)
    return AccountToCreate(
        username=username,
        full_name=new.full_name,
        role=role,
        region_code=new.region_code,
        branch_code=new.branch_code,
        language=new.language,
        password_hash=await passwords.hash(new.password),
        partner_id=new.partner_id,
        email=new.email,
    )


async def create_user(session: AsyncSession, principal: Principal, account: AccountToCreate) -> User:
    """Step two: the account in its place in the network, its created event and audit entry."""
    if await session.scalar(select(User.id).where(User.username == account.username)):
        raise username_taken(account.username)
    region, branch = await user_placement(session, account.role, account.region_code, account.branch_code)
    now = utcnow()
    user = User(
        id=new_id(),
        username=account.username,
        full_name=account.full_name.strip(),
        password_hash=account.password_hash,
        role=account.role.value,
        region_code=region,
        branch_code=branch,
        partner_id=account.partner_id,
        language=account.language,
        email=account.email,
        active=True,
        version=1,
        token_generation=1,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    await publish_user(session, "created", user)
    record_change(
        session,
        principal,
        entity_type="user",
        entity_id=user.id,
        action="created",
        changes=diff({}, user_event_data(user)),
    )
    return user


def username_taken(username: str) -> Problem:
    return conflict(
        f"username {username!r} is already taken", errors=[{"field": "username", "message": "already taken"}]
    )


async def update_user(
    session: AsyncSession,
    principal: Principal,
    user_id: str,
    changes: Mapping[str, Any],
    expected_version: int | None,
) -> User:
    """Change a user's name, role, region/branch, language or active flag. ``changes``: the fields
    to set (region_code and branch_code may be None); a new branch brings its own region unless
    one is given too. ``expected_version`` None changes whatever version is current."""
    user = await get_user(session, user_id)
    check_version("user", user.version, expected_version)
    if user.id == principal.subject:
        check_own_account_change(
            deactivating=changes.get("active", True) is False,
            changing_role="role" in changes and changes["role"] != user.role,
        )
    before = user_event_data(user) | {"partner_id": user.partner_id}
    role = staff_role(changes.get("role", user.role))
    partner_id = changes.get("partner_id", user.partner_id if role is Role.PARTNER else None)
    check_partner(role, partner_id)
    user.partner_id = partner_id
    region = changes.get("region_code", user.region_code)
    branch = changes.get("branch_code", user.branch_code)
    if changes.get("branch_code") is not None and "region_code" not in changes:
        region = None  # a new branch brings its own region
    reactivated = bool(changes.get("active")) and not user.active
    region, branch = await user_placement(
        session, role, region, branch, kept_branch=None if reactivated else user.branch_code
    )
    user.role, user.region_code, user.branch_code = role.value, region, branch
    if "full_name" in changes:
        user.full_name = changes["full_name"].strip()
    if "language" in changes:
        user.language = changes["language"]
    if "email" in changes:
        user.email = changes["email"]
    if "active" in changes:
        user.active = changes["active"]
    after = user_event_data(user) | {"partner_id": user.partner_id}
    changed = diff(before, after)
    if changed:
        user.version += 1
        user.updated_at = utcnow()
        published = user_event_data(user)
        if published != {name: before[name] for name in published}:  # not the partner alone
            action = "deactivated" if before["active"] and not user.active else "updated"
            await publish_user(session, action, user)
        record_change(session, principal, entity_type="user", entity_id=user.id, action="updated", changes=changed)
    return user


async def reset_password(
    session: AsyncSession, principal: Principal, passwords: Passwords, user_id: str, password: str
) -> None:
    """A new password; the user's existing access tokens stop working (their generation)."""
    check_password(password)
    password_hash = await passwords.hash(password)
    user = await get_user(session, user_id)
    user.password_hash = password_hash
    user.token_generation += 1
    user.updated_at = utcnow()
    record_change(session, principal, entity_type="user", entity_id=user.id, action="password_reset")


# --- roles and placement -----------------------------------------------------------------------


def staff_role(value: str) -> Role:
    """The role of a staff account: one of crm_shared.auth's roles, except the external systems' one."""
    try:
        role = Role(value)
    except ValueError:
        raise InvalidField("role", f"unknown role {value!r}") from None
    if role is Role.SYSTEM:
        raise InvalidField("role", "system is reserved for API keys of external systems")
    if role is Role.CUSTOMER:
        raise InvalidField("role", "customer is the self-service portal's, for customers signed in by SMS code")
    return role


def check_partner(role: Role, partner_id: str | None) -> None:
    """A partner user works for exactly one partner; no other role carries one."""
    if role is Role.PARTNER and not partner_id:
        raise InvalidField("partner_id", "required for role partner")
    if role is not Role.PARTNER and partner_id:
        raise InvalidField("partner_id", "only users of role partner belong to a partner")


async def user_placement(
    session: AsyncSession, role: Role, region_code: str | None, branch_code: str | None, kept_branch: str | None = None
) -> tuple[str | None, str | None]:
    """A branch role needs a branch and a regional role a region; national roles may have either."""
    region, branch = await placement(session, region_code, branch_code, kept_branch)
    scope = ROLE_SCOPE[role]
    if scope is Scope.BRANCH and branch is None:
        raise InvalidField("branch_code", f"required for role {role.value}")
    if scope is Scope.REGION and region is None:
        raise InvalidField("region_code", f"required for role {role.value}")
    return region, branch
