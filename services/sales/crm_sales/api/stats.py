"""Aggregates without personal data (/api/v1/sales/stats/...), from the sales projections.

GET /stats/customers: active customers per region/branch/kind, kept by the branch-stats consumer
from crm.sales.customer.v1 (so it trails the customer records by the consumer's lag).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.errors import OPENAPI_PROBLEMS

from ..services import stats_service
from .stats_schemas import CustomerCountsOut

router = APIRouter(prefix="/api/v1/sales", tags=["stats"])


@router.get(
    "/stats/customers",
    response_model=CustomerCountsOut,
    responses=OPENAPI_PROBLEMS,
    summary="Active customers per region, branch and kind (managers see their own branch/region)",
)
async def customer_counts(
    principal: CurrentPrincipal,
    session: Session,
    region_code: Annotated[str | None, Query(max_length=16)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    kind: Literal["individual", "business"] | None = None,
):
    rows = await stats_service.customer_counts(
        session, principal, region_code=region_code, branch_code=branch_code, kind=kind
    )
    items = [
        {"region_code": r.region_code, "branch_code": r.branch_code, "kind": r.kind, "count": r.count} for r in rows
    ]
    return {"items": items, "total": sum(r.count for r in rows)}
