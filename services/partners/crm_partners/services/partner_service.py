"""Use cases of partners: register, read, list, change (status, plan, regions, contract,
contacts, bank details). Managed by administrators and channel managers; a partner user reads its
own partner only (access.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal
from crm_shared.concurrency import check_version, flush_or_conflict
from crm_shared.db import new_id
from crm_shared.domain import Conflict, InvalidField
from crm_shared.errors import field_problem, not_found
from crm_shared.pagination import decode_cursor, encode_cursor

from .. import access
from ..db.models import Partner
from ..domain import partners as rules
from ..events.publishers import partner_state, publish_partner

WHAT = "partner"


@dataclass(frozen=True)
class NewPartner:
    name: str
    bin: str
    kind: str
    region_codes: list[str]
    commission_plan: dict[str, Any]
    branch_codes: list[str] = field(default_factory=list)
    status: str = rules.PartnerStatus.ONBOARDING.value
    contract_start: date | None = None
    contract_end: date | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)
    bank_details: dict[str, Any] | None = None
    id: str | None = None  # the seed's fixed ids; a request never names one


def _check_contract(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise InvalidField("contract_end", "before contract_start")


async def register_partner(session: AsyncSession, principal: Principal, new: NewPartner, now: datetime) -> Partner:
    access.require_manager(principal)
    bin_ = rules.check_bin(new.bin)
    regions = rules.check_regions(new.region_codes)
    if new.status not in (rules.PartnerStatus.ONBOARDING, rules.PartnerStatus.ACTIVE):
        raise InvalidField("status", "a new partner is onboarding or active")
    _check_contract(new.contract_start, new.contract_end)
    if await session.scalar(select(Partner.id).where(Partner.bin == bin_)):
        raise Conflict(f"a partner with BIN {bin_} is already registered", field="bin")
    partner = Partner(
        id=new.id or new_id(),
        name=rules.clean_name(new.name),
        bin=bin_,
        kind=rules.PartnerKind(new.kind).value,
        status=new.status,
        region_codes=regions,
        branch_codes=rules.check_branches(new.branch_codes, regions),
        contract_start=new.contract_start,
        contract_end=new.contract_end,
        contacts=new.contacts,
        bank_details=new.bank_details,
        commission_plan=rules.check_plan(new.commission_plan),
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(partner)
    await flush_or_conflict(session, WHAT)
    record_change(
        session,
        principal,
        entity_type=WHAT,
        entity_id=partner.id,
        action="created",
        changes=creation_changes(partner_state(partner)),
    )
    await publish_partner(session, "created", partner)
    return partner


async def get_partner(session: AsyncSession, principal: Principal, partner_id: str, *, lock: bool = False) -> Partner:
    access.check_partner_visible(principal, partner_id)
    stmt = select(Partner).where(Partner.id == partner_id)
    partner = await session.scalar(stmt.with_for_update() if lock else stmt)
    if partner is None:
        raise not_found(WHAT, partner_id[:64])
    return partner


async def list_partners(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None, status: str | None = None
) -> tuple[list[Partner], str | None]:
    stmt = select(Partner).where(access.partner_filter(principal, Partner.id))
    if status:
        stmt = stmt.where(Partner.status == status)
    values = decode_cursor(cursor)
    if values is not None:
        try:
            created_at, last_id = values
            after = datetime.fromisoformat(created_at)
        except (TypeError, ValueError):
            raise field_problem("cursor", "malformed cursor; pass next_cursor unchanged", 400) from None
        stmt = stmt.where(tuple_(Partner.created_at, Partner.id) < tuple_(after, str(last_id)))
    rows = list(await session.scalars(stmt.order_by(Partner.created_at.desc(), Partner.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.created_at.isoformat(), last.id])


UPDATABLE = (
    "name",
    "status",
    "region_codes",
    "branch_codes",
    "contract_start",
    "contract_end",
    "contacts",
    "bank_details",
    "commission_plan",
)


async def change_partner(
    session: AsyncSession,
    principal: Principal,
    partner_id: str,
    *,
    expected_version: int | None,
    changes: dict[str, Any],
    now: datetime,
) -> Partner:
    access.require_manager(principal)
    for name in changes:
        if name not in UPDATABLE:
            raise InvalidField(name, "cannot be changed")
    partner = await get_partner(session, principal, partner_id, lock=True)
    if expected_version is not None:
        check_version(WHAT, partner.version, expected_version)
    before = partner_state(partner) | {"contacts": partner.contacts, "bank_details": partner.bank_details}
    if "name" in changes:
        partner.name = rules.clean_name(changes["name"])
    if "status" in changes:
        partner.status = rules.check_status_move(partner.status, changes["status"]).value
    if "region_codes" in changes:
        partner.region_codes = rules.check_regions(changes["region_codes"])
    if "branch_codes" in changes or "region_codes" in changes:
        partner.branch_codes = rules.check_branches(
            changes.get("branch_codes", partner.branch_codes), partner.region_codes
        )
    if "contract_start" in changes:
        partner.contract_start = changes["contract_start"]
    if "contract_end" in changes:
        partner.contract_end = changes["contract_end"]
    _check_contract(partner.contract_start, partner.contract_end)
    if "contacts" in changes:
        partner.contacts = changes["contacts"] or []
    if "bank_details" in changes:
        partner.bank_details = changes["bank_details"]
    if "commission_plan" in changes:
        partner.commission_plan = rules.check_plan(changes["commission_plan"])
    after = partner_state(partner) | {"contacts": partner.contacts, "bank_details": partner.bank_details}
    changed = diff(
        {k: v for k, v in before.items() if k not in ("version", "updated_at")},
        {k: v for k, v in after.items() if k not in ("version", "updated_at")},
    )
    if not changed:
        return partner
    partner.updated_at = now
    await flush_or_conflict(session, WHAT)
    record_change(session, principal, entity_type=WHAT, entity_id=partner.id, action="updated", changes=changed)
    await publish_partner(session, "updated", partner)
    return partner
