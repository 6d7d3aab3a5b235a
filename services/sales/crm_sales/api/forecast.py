"""The sales forecast (GET /api/v1/sales/forecast): the open pipeline and its weighted amount
(amount x stage probability) per owner, branch, region or expected close month. The use case is
crm_sales.services.forecast_service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS

from ..domain.forecast import ForecastGroup
from ..services import forecast_service

router = APIRouter(prefix="/api/v1/sales", tags=["forecast"])


class ForecastLineOut(BaseModel):
    key: str = Field(description='owner id, branch code, region code, or YYYY-MM ("none": no close date)')
    name: str | None = Field(None, description="the owner's name (group_by=owner)")
    count: int
    amount_tiyn: int
    weighted_tiyn: int = Field(description="sum of amount x probability / 100, rounded down")


class ForecastOut(BaseModel):
    group_by: ForecastGroup
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    currency: Literal["KZT"] = "KZT"
    items: list[ForecastLineOut]
    total: ForecastLineOut


@router.get(
    "/forecast",
    response_model=ForecastOut,
    response_model_by_alias=True,
    responses=OPENAPI_PROBLEMS,
    summary="Weighted open pipeline per owner, branch, region or close month (managers: their own scope)",
)
async def sales_forecast(
    principal: CurrentPrincipal,
    session: ReadSession,
    group_by: ForecastGroup = ForecastGroup.MONTH,
    date_from: Annotated[date | None, Query(alias="from", description="expected close on or after")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="expected close on or before")] = None,
):
    items, total = await forecast_service.forecast(session, principal, group_by, close_from=date_from, close_to=date_to)
    return {"group_by": group_by, "from": date_from, "to": date_to, "items": items, "total": total}
