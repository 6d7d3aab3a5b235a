"""The catalogue: offerings in their current version, and each version kept as it was. Read by
staff and systems, changed by administrators; a change is a new version, and orders keep the
prices they were taken at."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.concurrency import check_version, flush_or_conflict
from crm_shared.db import utcnow
from crm_shared.errors import not_found
from crm_shared.records import mark_changed
from crm_shared.timefmt import iso

from ..access import require_catalogue_editor, require_catalogue_reader
from ..db.models import Offering, OfferingVersion
from ..domain.catalog import LANGUAGES, name_in


def offering_state(offering: Offering) -> dict[str, Any]:
    return {
        "id": offering.id,
        "name": offering.name,
        "names": {language: (offering.names or {}).get(language) or offering.name for language in LANGUAGES},
        "description": offering.description,
        "product_line": offering.product_line,
        "status": offering.status,
        "one_off_price_tiyn": offering.one_off_price_tiyn,
        "recurring_price_tiyn": offering.recurring_price_tiyn,
        "currency": offering.currency,
        "characteristics": dict(offering.characteristics or {}),
        "region_codes": list(offering.region_codes or []),
        "bundled_offering_ids": list(offering.bundled_offering_ids or []),
        "valid_from": iso(offering.valid_from),
        "valid_to": iso(offering.valid_to),
        "version": offering.version,
        "created_at": iso(offering.created_at),
        "updated_at": iso(offering.updated_at),
    }


def snapshot(session: AsyncSession, offering: Offering) -> None:
    """Keep this version of the offering as it is now (an order names the version it was priced at)."""
    session.add(
        OfferingVersion(
            offering_id=offering.id, version=offering.version, state=offering_state(offering), created_at=utcnow()
        )
    )


async def list_offerings(
    session: AsyncSession,
    principal: Principal,
    *,
    product_line: str | None = None,
    status: str | None = None,
    region_code: str | None = None,
) -> list[Offering]:
    """The whole catalogue (it is small), by product line and name; ``region_code`` keeps what is sold there."""
    require_catalogue_reader(principal)
    stmt = select(Offering).order_by(Offering.product_line, Offering.name)
    if product_line:
        stmt = stmt.where(Offering.product_line == product_line)
    if status:
        stmt = stmt.where(Offering.status == status)
    offerings = list(await session.scalars(stmt))
    if region_code:
        offerings = [o for o in offerings if not o.region_codes or region_code in o.region_codes]
    return offerings


async def list_offerings_at_offset(
    session: AsyncSession, principal: Principal, *, status: str | None, offset: int, limit: int
) -> tuple[int, list[Offering]]:
    """(how many offerings have this status, the slice at offset, by id): TMF630 paging."""
    require_catalogue_reader(principal)
    stmt = select(Offering)
    if status:
        stmt = stmt.where(Offering.status == status)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(await session.scalars(stmt.order_by(Offering.id).offset(offset).limit(limit)))
    return total or 0, rows


async def get_offering(
    session: AsyncSession, principal: Principal, offering_id: str, *, what: str = "product offering"
) -> Offering:
    """``what`` is the record type as the caller's API names it (``productOffering`` in TMF620)."""
    require_catalogue_reader(principal)
    offering = await session.get(Offering, offering_id)
    if offering is None:
        raise not_found(what, offering_id[:64])
    return offering


async def get_offering_version(
    session: AsyncSession, principal: Principal, offering_id: str, version: int
) -> dict[str, Any]:
    """An offering as it was in one version (what an order item was priced at)."""
    require_catalogue_reader(principal)
    row = await session.get(OfferingVersion, (offering_id, version))
    if row is None:
        raise not_found("product offering version", f"{offering_id[:64]}/{version}")
    return row.state


async def update_offering(
    session: AsyncSession, principal: Principal, offering_id: str, changes: dict[str, Any], expected_version: int
) -> Offering:
    """A new version of the offering (prices, status, regions, end of sale), kept as it is now."""
    require_catalogue_editor(principal)
    offering = await session.get(Offering, offering_id, with_for_update=True)
    if offering is None:
        raise not_found("product offering", offering_id[:64])
    check_version("product offering", offering.version, expected_version)
    for name, value in changes.items():
        setattr(offering, name, value)
    mark_changed(offering)
    snapshot(session, offering)
    await flush_or_conflict(session, "product offering")
    return offering


async def names_in(session: AsyncSession, offering_ids: Iterable[str], language: str) -> dict[str, str]:
    """{offering id: its name in ``language``} of the offerings that have one in that language."""
    ids = {i for i in offering_ids if i}
    if not ids:
        return {}
    rows = await session.execute(select(Offering.id, Offering.names, Offering.name).where(Offering.id.in_(ids)))
    return {offering_id: name_in(names, language, name) for offering_id, names, name in rows}


async def named_in(session: AsyncSession, language: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers (orders with their items, or installed products) with every offering named in
    ``language``: ``offering_name`` and ``replaced_offering_name`` from the catalogue's names."""
    lines = [item for record in records for item in record.get("items", [record])]
    ids = {line.get(key) for line in lines for key in ("offering_id", "replaced_offering_id")}
    names = await names_in(session, {i for i in ids if i}, language)
    for line in lines:
        for id_key, name_key in (("offering_id", "offering_name"), ("replaced_offering_id", "replaced_offering_name")):
            if line.get(id_key) in names and line.get(name_key):
                line[name_key] = names[line[id_key]]
    return records
