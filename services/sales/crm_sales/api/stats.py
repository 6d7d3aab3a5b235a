"""Aggregates without personal data (/api/v1/sales/stats/...), from the sales projections.

GET /stats/customers: active customers per region/branch/kind, kept by the branch-stats consumer
from crm.sales.customer.v1 (so it trails the customer records by the consumer's lag).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.errors import OPENAPI_PROBLEMS

from ..access import require_stats_reader, stats_place
from ..db.pipeline_models import CustomerCount

router = APIRouter(prefix="/api/v1/sales", tags=["stats"])


class CustomerCountOut(BaseModel):
    region_code: str
    branch_code: str
    kind: Literal["individual", "business"]
    count: int


class CustomerCountsOut(BaseModel):
    items: list[CustomerCountOut]
    total: int = Field(description="the sum of count over items")


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
    require_stats_reader(principal)
    stmt = select(CustomerCount).where(CustomerCount.count > 0)
    own_region, own_branch = stats_place(principal)
    if own_branch is not None:
        stmt = stmt.where(CustomerCount.branch_code == own_branch)
    if own_region is not None:
        stmt = stmt.where(CustomerCount.region_code == own_region)
    for column, value in (
        (CustomerCount.region_code, region_code),
        (CustomerCount.branch_code, branch_code),
        (CustomerCount.kind, kind),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows = list(
        await session.scalars(stmt.order_by(CustomerCount.region_code, CustomerCount.branch_code, CustomerCount.kind))
    )
    items = [
        {"region_code": r.region_code, "branch_code": r.branch_code, "kind": r.kind, "count": r.count} for r in rows
    ]
    return {"items": items, "total": sum(r.count for r in rows)}
