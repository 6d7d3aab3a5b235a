"""The product catalogue (/api/v1/orders/offerings): read by staff and systems, changed by
administrators. A change is a new version; orders keep the prices they were taken at."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select

from crm_shared.auth import Role
from crm_shared.concurrency import IfMatch, check_version, flush_or_conflict, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS, forbidden, not_found
from crm_shared.records import mark_changed

from ..catalog_service import offering_state, snapshot
from ..db.models import Offering, OfferingVersion
from ..domain.catalog import OfferingStatus, ProductLine
from .access import READ, require_scope
from .deps import CurrentPrincipal, Session
from .orders import Strict

router = APIRouter(prefix="/api/v1/orders", tags=["catalogue"])
Tiyn = Annotated[StrictInt, Field(ge=0, le=10**12, description="KZT in tiyn (1 KZT = 100 tiyn)")]


class OfferingOut(BaseModel):
    id: str
    name: str
    description: str
    product_line: ProductLine
    status: OfferingStatus
    one_off_price_tiyn: int
    recurring_price_tiyn: int
    currency: str
    characteristics: dict[str, str]
    region_codes: list[str]
    bundled_offering_ids: list[str]
    valid_from: date | None
    valid_to: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class OfferingUpdate(Strict):
    version: StrictInt | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: OfferingStatus | None = None
    one_off_price_tiyn: Tiyn | None = None
    recurring_price_tiyn: Tiyn | None = None
    region_codes: list[Annotated[str, Field(max_length=16)]] | None = None
    valid_to: date | None = None


def _require_catalogue_reader(principal) -> None:
    require_scope(principal, READ)


@router.get("/offerings", response_model=list[OfferingOut], responses=OPENAPI_PROBLEMS)
async def list_offerings(
    principal: CurrentPrincipal,
    session: Session,
    product_line: ProductLine | None = None,
    status: OfferingStatus | None = None,
    region_code: Annotated[str | None, Query(max_length=16)] = None,
):
    """The whole catalogue (it is small), by product line and name; ``region_code`` keeps what is sold there."""
    _require_catalogue_reader(principal)
    stmt = select(Offering).order_by(Offering.product_line, Offering.name)
    if product_line:
        stmt = stmt.where(Offering.product_line == product_line)
    if status:
        stmt = stmt.where(Offering.status == status)
    offerings = list(await session.scalars(stmt))
    if region_code:
        offerings = [o for o in offerings if not o.region_codes or region_code in o.region_codes]
    return [offering_state(o) for o in offerings]


@router.get("/offerings/{offering_id}", response_model=OfferingOut, responses=OPENAPI_PROBLEMS)
async def get_offering(offering_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    _require_catalogue_reader(principal)
    offering = await session.get(Offering, offering_id)
    if offering is None:
        raise not_found("product offering", offering_id[:64])
    response.headers.update(version_headers(offering.version))
    return offering_state(offering)


@router.get("/offerings/{offering_id}/versions/{version}", responses=OPENAPI_PROBLEMS)
async def get_offering_version(
    offering_id: str, version: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: CurrentPrincipal, session: Session
):
    """An offering as it was in one version (what an order item was priced at)."""
    _require_catalogue_reader(principal)
    row = await session.get(OfferingVersion, (offering_id, version))
    if row is None:
        raise not_found("product offering version", f"{offering_id[:64]}/{version}")
    return row.state


@router.patch("/offerings/{offering_id}", response_model=OfferingOut, responses=OPENAPI_PROBLEMS)
async def update_offering(
    offering_id: str,
    body: OfferingUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    """Administrators only: a new version of the offering (prices, status, regions, end of sale)."""
    if principal.role is not Role.ADMIN:
        raise forbidden("the catalogue is changed by administrators")
    expected = required_version(if_match, body.version, "product offering")
    offering = await session.get(Offering, offering_id, with_for_update=True)
    if offering is None:
        raise not_found("product offering", offering_id[:64])
    check_version("product offering", offering.version, expected)
    for name, value in body.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(offering, name, value)
    mark_changed(offering)
    snapshot(session, offering)
    await flush_or_conflict(session, "product offering")
    response.headers.update(version_headers(offering.version))
    return offering_state(offering)
