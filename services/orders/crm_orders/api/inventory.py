"""Installed products (/api/v1/orders/installed-products): what customers have running."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS

from ..events.publishers import installed_product_state
from ..services import catalog_service, inventory_service
from .deps import AnswerLanguage
from .schemas import InstalledProductOut

router = APIRouter(prefix="/api/v1/orders", tags=["inventory"])


@router.get("/installed-products", response_model=list[InstalledProductOut], responses=OPENAPI_PROBLEMS)
async def list_installed_products(
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: ReadSession,
    customer_id: Annotated[str, Query(min_length=1, max_length=64)],
    include_terminated: bool = False,
):
    products = await inventory_service.customer_products(
        session, principal, customer_id, include_terminated=include_terminated
    )
    return await catalog_service.named_in(session, language, [installed_product_state(p) for p in products])


@router.get("/installed-products/{product_id}", response_model=InstalledProductOut, responses=OPENAPI_PROBLEMS)
async def get_installed_product(
    product_id: str, principal: CurrentPrincipal, language: AnswerLanguage, session: ReadSession
):
    product = await inventory_service.installed_product(session, principal, product_id)
    return (await catalog_service.named_in(session, language, [installed_product_state(product)]))[0]
