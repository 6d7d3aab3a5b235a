"""Order aggregates (/api/v1/orders/stats): counts and totals by region, branch and state, no
personal data. Analysts see the whole country; everyone else their own scope."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select, true

from crm_shared.auth import Scope, visibility_clause
from crm_shared.errors import OPENAPI_PROBLEMS

from ..db.models import Order
from .access import READ, require_scope
from .deps import CurrentPrincipal, Session

router = APIRouter(prefix="/api/v1/orders", tags=["stats"])


@router.get("/stats", responses=OPENAPI_PROBLEMS)
async def order_stats(principal: CurrentPrincipal, session: Session):
    require_scope(principal, READ)
    clause = true() if principal.scope is Scope.NONE else visibility_clause(principal, Order)
    rows = await session.execute(
        select(
            Order.region_code,
            Order.branch_code,
            Order.state,
            func.count(),
            func.coalesce(func.sum(Order.one_off_total_tiyn), 0),
            func.coalesce(func.sum(Order.recurring_total_tiyn), 0),
        )
        .where(clause)
        .group_by(Order.region_code, Order.branch_code, Order.state)
        .order_by(Order.region_code, Order.branch_code, Order.state)
    )
    return {
        "items": [
            {
                "region_code": r,
                "branch_code": b,
                "state": s,
                "orders": n,
                "one_off_total_tiyn": int(o),
                "recurring_total_tiyn": int(m),
            }
            for r, b, s, n, o, m in rows
        ]
    }
