"""Request and response bodies of the opportunity API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

from crm_shared.schemas import Strict

from ..domain.pipeline import ProductLine, Stage

MAX_AMOUNT_TIYN = 10**15  # 10 trillion KZT: far above any real deal, far below BIGINT


def _tiyn(value: Any) -> Any:
    """Money is an integer number of tiyn: an integer, or a string of digits (for clients whose
    numbers are doubles); never a float, not even 100.0, and never a fraction."""
    if isinstance(value, bool):
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn (1 KZT = 100 tiyn), not a float")
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        if "." in text or "," in text:
            raise PydanticCustomError("tiyn", "must be a whole number of tiyn (1 KZT = 100 tiyn); no fractions")
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn")
    raise PydanticCustomError("tiyn", "must be an integer number of tiyn")


AmountTiyn = Annotated[
    int,
    BeforeValidator(_tiyn),
    Field(ge=0, le=MAX_AMOUNT_TIYN, description="KZT in tiyn (1 KZT = 100 tiyn), an integer"),
]
Probability = Annotated[StrictInt, Field(ge=0, le=100, description="percent; default by stage")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(max_length=4000)]


class OpportunityCreate(Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Name
    product_line: ProductLine | None = None
    stage: Literal["prospecting", "qualification", "proposal", "negotiation"] = "prospecting"
    amount_tiyn: AmountTiyn = 0
    probability: Probability | None = None
    expected_close_date: date | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="a staff member in your scope who can see the customer; default you"
    )


class OpportunityUpdate(Strict):
    """Only the fields sent change. Moving to closed_won/closed_lost closes the opportunity
    (close_reason required for lost); closed opportunities do not change any more."""

    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    name: Name | None = None
    product_line: ProductLine | None = None
    stage: Stage | None = None
    amount_tiyn: AmountTiyn | None = None
    probability: Probability | None = None
    expected_close_date: date | None = None
    close_reason: Reason | None = None


class OpportunityOut(BaseModel):
    id: str
    customer_id: str
    customer_name: str | None = Field(None, description="the customer's display name")
    lead_id: str | None
    name: str
    product_line: ProductLine | None
    stage: Stage
    probability: int
    amount_tiyn: int
    currency: Literal["KZT"]
    expected_close_date: date | None
    close_reason: str | None
    closed_at: datetime | None
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime
