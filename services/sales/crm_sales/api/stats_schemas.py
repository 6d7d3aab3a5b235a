"""Response bodies of the statistics API (aggregates, no personal data)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CustomerCountOut(BaseModel):
    region_code: str
    branch_code: str
    kind: Literal["individual", "business"]
    count: int


class CustomerCountsOut(BaseModel):
    items: list[CustomerCountOut]
    total: int = Field(description="the sum of count over items")
