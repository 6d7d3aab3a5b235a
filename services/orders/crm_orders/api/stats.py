"""Order aggregates (/api/v1/orders/stats): counts and totals by region, branch and state, no
personal data. Analysts see the whole country; everyone else their own scope."""

from __future__ import annotations

from fastapi import APIRouter

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS

from ..services import order_service

router = APIRouter(prefix="/api/v1/orders", tags=["stats"])


@router.get("/stats", responses=OPENAPI_PROBLEMS)
async def order_stats(principal: CurrentPrincipal, session: ReadSession):
    return {"items": await order_service.order_stats(session, principal)}
