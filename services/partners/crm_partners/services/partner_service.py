"""Use cases of partners. Each takes plain inputs (the caller, values, ids, the time now) and
the caller's unit of work (an AsyncSession the caller commits), loads what it needs as the caller
may see it, applies the domain rules, writes the change with its event, and returns the record.
The REST API, the gRPC server and the seed all come through here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.concurrency import check_version, flush_or_conflict
from crm_shared.domain import InvalidField
from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import get_visible, get_writable, mark_changed

from .. import access
from ..db.models import Partner, PartnerBranchCount
from ..domain.partners import clean_name, clean_notes
from ..events import publishers

WHAT = "partner"  # the record as problems name it: "partner <id> does not exist ..."

# The fields a change may set, each with the rule that cleans it.
UPDATABLE: dict[str, Callable[[Any], Any]] = {"name": clean_name, "notes": clean_notes}


async def register_partner(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    notes: str | None,
    branch_code: str | None,
    region_code: str | None,
    now: datetime,
) -> Partner:
    """A new partner owned by the caller, in the caller's branch unless another is named
    (access.placement), with its created event."""
    branch, region = access.placement(principal, branch_code, region_code)
    partner = Partner(
        name=clean_name(name),
        notes=clean_notes(notes),
        owner_id=principal.subject,
        branch_code=branch,
        region_code=region,
        created_at=now,
        updated_at=now,
    )
    session.add(partner)
    await session.flush()  # the mapper sets the first version at the INSERT; the event carries it
    await publishers.partner_created(session, partner)
    return partner


async def get_partner(session: AsyncSession, principal: Principal, partner_id: str) -> Partner:
    """The partner if the caller may see it: 404 when hidden or absent alike, 403 for analysts."""
    return await get_visible(session, principal, Partner, partner_id, what=WHAT)


async def list_partners(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[Partner], str | None]:
    """One page of the partners the caller sees, newest first, and the cursor of the next page
    (None after the last one)."""
    require_personal_data_access(principal)
    stmt = select(Partner).where(access.visible_partners(principal))
    after = _position_after(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(Partner.created_at, Partner.id) < tuple_(*after))
    newest_first = stmt.order_by(Partner.created_at.desc(), Partner.id.desc())
    rows = list(await session.scalars(newest_first.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.created_at.isoformat(), last.id])


def _position_after(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, id) of the last partner of the previous page."""
    values = decode_cursor(cursor)  # a 400 naming the cursor when it is not one of ours
    if values is None:
        return None
    try:
        created_at, last_id = values
        after = datetime.fromisoformat(created_at)
        if after.tzinfo is None:  # ours are UTC; a naive time could not even be compared
            raise ValueError(created_at)
    except (TypeError, ValueError):
        raise field_problem(
            "cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400
        ) from None
    return after, str(last_id)


async def change_partner(
    session: AsyncSession,
    principal: Principal,
    partner_id: str,
    *,
    expected_version: int,
    changes: dict[str, Any],
    now: datetime,
) -> Partner:
    """Sets ``changes`` (fields of UPDATABLE) on a partner the caller may change, provided it is
    still at ``expected_version`` (412 otherwise); its updated event when anything changed."""
    for field in changes:
        if field not in UPDATABLE:
            raise InvalidField(field, "cannot be changed")
    # Not locked: the mapper counts versions in the UPDATE itself, so a writer that lost a race
    # gets a 412 at flush instead of waiting for the row.
    partner = await get_writable(session, principal, Partner, partner_id, what=WHAT, for_update=False)
    check_version(WHAT, partner.version, expected_version)
    cleaned = {field: UPDATABLE[field](value) for field, value in changes.items()}
    changed = {field: value for field, value in cleaned.items() if getattr(partner, field) != value}
    if not changed:
        return partner
    for field, value in changed.items():
        setattr(partner, field, value)
    mark_changed(partner, now)
    await flush_or_conflict(session, WHAT)
    await publishers.partner_updated(session, partner)
    return partner


async def branch_counts(session: AsyncSession, principal: Principal) -> list[PartnerBranchCount]:
    """The partners per branch that the caller may see, by region and branch."""
    stmt = select(PartnerBranchCount).where(access.visible_counts(principal))
    by_place = (PartnerBranchCount.region_code, PartnerBranchCount.branch_code)
    return list(await session.scalars(stmt.order_by(*by_place)))
