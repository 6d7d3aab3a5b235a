"""Request and response bodies of a customer's erasure (/api/v1/sales/customers/{id}/erasure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from crm_shared.schemas import Strict

from ..domain.erasure import MAX_REASON


class ErasureAskCreate(Strict):
    reason: str | None = Field(None, max_length=MAX_REASON, description="the customer's own words, if any")


class ErasureCreate(Strict):
    reason: str = Field(
        max_length=MAX_REASON,
        description="why the person's data is destroyed, e.g. the data subject's request and its reference",
    )


class ServiceConfirmationOut(BaseModel):
    confirmed_at: datetime | None = Field(description="when the service confirmed; null while it has not")
    records: dict[str, Any] | None = Field(description="how many records of each kind it anonymised")


class ErasureOut(BaseModel):
    id: str
    customer_id: str
    customer_ids: list[str] = Field(description="the customer and the duplicates merged into it, all erased")
    status: Literal["pending", "complete"] = Field(description="complete once every service confirmed")
    reason: str
    requested_by: str
    requested_by_name: str
    requested_at: datetime
    completed_at: datetime | None
    services: dict[str, ServiceConfirmationOut] = Field(
        description="sales and every service that keeps copies of customers (they publish "
        "crm.<service>.erasure.confirmed), each with its confirmation"
    )
