"""The product catalogue (/api/v1/orders/offerings): read by staff and systems, changed by
administrators. A change is a new version; orders keep the prices they were taken at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from crm_shared.api import CurrentPrincipal, ReadSession, Session
from crm_shared.concurrency import IfMatch, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS

from ..access import require_catalogue_editor
from ..domain.catalog import OfferingStatus, ProductLine
from ..services import catalog_service
from ..services.catalog_service import offering_state
from .schemas import OfferingOut, OfferingUpdate

router = APIRouter(prefix="/api/v1/orders", tags=["catalogue"])


@router.get("/offerings", response_model=list[OfferingOut], responses=OPENAPI_PROBLEMS)
async def list_offerings(
    principal: CurrentPrincipal,
    session: ReadSession,
    product_line: ProductLine | None = None,
    status: OfferingStatus | None = None,
    region_code: Annotated[str | None, Query(max_length=16)] = None,
):
    """The whole catalogue (it is small), by product line and name; ``region_code`` keeps what is sold there."""
    offerings = await catalog_service.list_offerings(
        session, principal, product_line=product_line, status=status, region_code=region_code
    )
    return [offering_state(o) for o in offerings]


@router.get("/offerings/{offering_id}", response_model=OfferingOut, responses=OPENAPI_PROBLEMS)
async def get_offering(offering_id: str, principal: CurrentPrincipal, session: ReadSession, response: Response):
    offering = await catalog_service.get_offering(session, principal, offering_id)
    response.headers.update(version_headers(offering.version))
    return offering_state(offering)


@router.get("/offerings/{offering_id}/versions/{version}", responses=OPENAPI_PROBLEMS)
async def get_offering_version(
    offering_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: CurrentPrincipal,
    session: ReadSession,
):
    """An offering as it was in one version (what an order item was priced at)."""
    return await catalog_service.get_offering_version(session, principal, offering_id, version)


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
    require_catalogue_editor(principal)  # before the precondition: a 403 is the answer that helps a non-admin
    expected = required_version(if_match, body.version, "product offering")
    offering = await catalog_service.update_offering(session, principal, offering_id, body.changes(), expected)
    response.headers.update(version_headers(offering.version))
    return offering_state(offering)
