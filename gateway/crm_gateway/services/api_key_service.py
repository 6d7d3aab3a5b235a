"""API keys of external systems (administered by role admin): issue, list and revoke.

A key is ``crm_<prefix>_<secret>``; only the argon2 hash of the secret is kept, and the full key is
answered once, when it is issued. Its scopes must be ones the services registry lists for their
service. Revoking is audited; the credential caches are the caller's to clear once it is committed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal
from crm_shared.db import new_id, utcnow
from crm_shared.errors import not_found

from ..db.models import ApiKey
from ..domain.api_keys import new_key, validate_scopes
from ..passwords import Passwords
from .branch_service import placement


@dataclass(frozen=True)
class NewApiKey:
    """A key to issue, as the request gave it: an optional region or branch limits what the
    external system sees, as it does for staff."""

    name: str
    scopes: tuple[str, ...]
    region_code: str | None = None
    branch_code: str | None = None


@dataclass(frozen=True)
class IssuedApiKey:
    record: ApiKey
    key: str  # the full key: answered this once, never stored


async def issue_api_key(
    session: AsyncSession,
    principal: Principal,
    passwords: Passwords,
    new: NewApiKey,
    service_scopes: Mapping[str, Collection[str]],
) -> IssuedApiKey:
    """``service_scopes``: routed service -> the scopes it understands (from the registry)."""
    scopes = validate_scopes(new.scopes, service_scopes)
    prefix, secret, full_key = new_key()
    secret_hash = await passwords.hash(secret)  # before the unit of work's first statement
    region, branch = await placement(session, new.region_code, new.branch_code)
    record = ApiKey(
        id=new_id(),
        name=new.name.strip(),
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=scopes,
        region_code=region,
        branch_code=branch,
        active=True,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    record_change(
        session,
        principal,
        entity_type="api_key",
        entity_id=record.id,
        action="created",
        changes={"name": [None, record.name], "scopes": [None, scopes]},
    )
    return IssuedApiKey(record, full_key)


async def list_api_keys(session: AsyncSession, *, include_revoked: bool = True) -> list[ApiKey]:
    """Oldest first, without their secrets (only the hashes are stored anyway)."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.active.is_(True))
    return list(await session.scalars(query))


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: str) -> None:
    """Revoke once; revoking a revoked key changes nothing."""
    record = await session.get(ApiKey, key_id)
    if record is None:
        raise not_found("API key", key_id)
    if record.active:
        record.active = False
        record.revoked_at = utcnow()
        record_change(session, principal, entity_type="api_key", entity_id=record.id, action="revoked")
