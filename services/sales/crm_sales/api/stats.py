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
from crm_shared.auth import Principal, Role
from crm_shared.errors import OPENAPI_PROBLEMS, forbidden

from ..db.pipeline_models import CustomerCount

router = APIRouter(prefix="/api/v1/sales", tags=["stats"])

STATS_ROLES = {Role.HQ_ANALYST, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER, Role.ADMIN}


class CustomerCountOut(BaseModel):
    region_code: str
    branch_code: str
    kind: Literal["individual", "business"]
    count: int


class CustomerCountsOut(BaseModel):
    items: list[CustomerCountOut]
    total: int = Field(description="the sum of count over items")


def require_stats_reader(principal: Principal) -> None:
    if principal.role not in STATS_ROLES:
        raise forbidden(f"role {principal.role.value} may not read statistics")


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
    if principal.role is Role.BRANCH_MANAGER:
        stmt = stmt.where(CustomerCount.branch_code == (principal.branch or ""))
    elif principal.role is Role.REGIONAL_MANAGER:
        stmt = stmt.where(CustomerCount.region_code == (principal.region or ""))
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
