"""The dashboards of head office (GET /api/v1/analytics/dashboards/...): the overview, every
chart's table as JSON and as CSV, and the rebuild of the store from the services' events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.timefmt import iso

from ..services import dashboard_service, export_service
from .deps import Store

router = APIRouter(prefix="/api/v1/analytics", tags=["dashboards"], responses=OPENAPI_PROBLEMS)

From = Annotated[
    datetime | None, Query(alias="from", description="start of the period (UTC); default 30 days before 'to'")
]
To = Annotated[datetime | None, Query(description="end of the period, exclusive (UTC); default now")]
Region = Annotated[str | None, Query(max_length=32, examples=["KZ-75"])]
Branch = Annotated[str | None, Query(max_length=32, examples=["ALA-01"])]
ProductLine = Annotated[str | None, Query(max_length=32, examples=["internet"])]


@router.get("/dashboards/overview", summary="Every dashboard's figures and chart tables for a period")
async def overview(
    principal: CurrentPrincipal,
    store: Store,
    now: Now,
    start: From = None,
    to: To = None,
    region_code: Region = None,
    branch_code: Branch = None,
    product_line: ProductLine = None,
):
    f = dashboard_service.visible(principal, start, to, region_code, branch_code, product_line, now)
    return {"period": _period(f), **await dashboard_service.overview(store, f)}


@router.get("/dashboards/charts/{chart}", summary="One chart's table: {chart, columns, rows}")
async def chart(
    chart: str,
    principal: CurrentPrincipal,
    store: Store,
    now: Now,
    start: From = None,
    to: To = None,
    region_code: Region = None,
    branch_code: Branch = None,
    product_line: ProductLine = None,
):
    f = dashboard_service.visible(principal, start, to, region_code, branch_code, product_line, now)
    return {"period": _period(f), **await dashboard_service.named_chart(store, chart, f)}


@router.get("/dashboards/charts/{chart}/export", summary="One chart's table as CSV")
async def export_chart(
    chart: str,
    principal: CurrentPrincipal,
    store: Store,
    now: Now,
    format: Literal["csv"] = "csv",
    start: From = None,
    to: To = None,
    region_code: Region = None,
    branch_code: Branch = None,
    product_line: ProductLine = None,
):
    f = dashboard_service.visible(principal, start, to, region_code, branch_code, product_line, now)
    table = await dashboard_service.named_chart(store, chart, f)
    return Response(
        export_service.csv_text(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{chart}.csv"'},
    )


@router.get("/reports/monthly", summary="The monthly report of a region (XLSX: one sheet per chart)")
async def monthly_report(
    principal: CurrentPrincipal,
    store: Store,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    region_code: Region = None,
):
    content, filename = await export_service.monthly_report(store, principal, month, region_code)
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/store/rebuild", status_code=202, summary="Empty the store and read every topic again (admin)")
async def rebuild(principal: CurrentPrincipal, store: Store):
    await dashboard_service.rebuild(principal, store)
    return {"status": "rebuilding", "engine": store.engine}


def _period(f) -> dict[str, str | None]:
    return {
        "from": iso(f.start),
        "to": iso(f.end),
        "region_code": f.region_code,
        "branch_code": f.branch_code,
        "product_line": f.product_line,
    }
