"""Installed products (/api/v1/orders/installed-products): what customers have running."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from crm_shared.auth import visibility_clause
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.records import get_visible

from ..db.models import InstalledProduct
from ..order_service import installed_product_state
from .access import require_reader
from .deps import CurrentPrincipal, Session

router = APIRouter(prefix="/api/v1/orders", tags=["inventory"])


class InstalledProductOut(BaseModel):
    id: str
    customer_id: str
    offering_id: str
    offering_name: str
    product_line: str
    status: str
    characteristics: dict[str, str]
    recurring_price_tiyn: int
    service_address: str
    branch_code: str
    region_code: str
    order_id: str
    version: int
    activated_at: datetime
    terminated_at: datetime | None
    updated_at: datetime


@router.get("/installed-products", response_model=list[InstalledProductOut], responses=OPENAPI_PROBLEMS)
async def list_installed_products(
    principal: CurrentPrincipal,
    session: Session,
    customer_id: Annotated[str, Query(min_length=1, max_length=64)],
    include_terminated: bool = False,
):
    require_reader(principal)
    stmt = (
        select(InstalledProduct)
        .where(InstalledProduct.customer_id == customer_id, visibility_clause(principal, InstalledProduct))
        .order_by(InstalledProduct.activated_at.desc(), InstalledProduct.id)
    )
    if not include_terminated:
        stmt = stmt.where(InstalledProduct.status != "terminated")
    return [installed_product_state(p) for p in await session.scalars(stmt)]


@router.get("/installed-products/{product_id}", response_model=InstalledProductOut, responses=OPENAPI_PROBLEMS)
async def get_installed_product(product_id: str, principal: CurrentPrincipal, session: Session):
    require_reader(principal)
    return installed_product_state(
        await get_visible(session, principal, InstalledProduct, product_id, what="installed product")
    )
