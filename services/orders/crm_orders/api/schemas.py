"""Request and response bodies of the orders REST API (the TM Forum facades' own are in
tmf_schemas.py). Request bodies refuse unknown fields; each converts itself to the plain input
of its use case."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt

from crm_shared.schemas import Strict

from ..domain.catalog import OfferingStatus, ProductLine
from ..domain.lifecycle import ItemAction
from ..services.billing_service import InvoiceReport, PaymentReport
from ..services.order_service import ItemRequest

Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=2000)]

# --- orders -----------------------------------------------------------------------------------


class ItemIn(Strict):
    action: ItemAction = ItemAction.ADD
    offering_id: Id | None = None
    quantity: StrictInt = Field(1, description="1 to 100; 1 for modify and delete")
    installed_product_id: Id | None = Field(
        None, description="the customer's installed product a modify or delete item works on"
    )
    characteristics: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = {}
    service_address: Annotated[str, Field(max_length=500)] = ""

    def request(self) -> ItemRequest:
        return ItemRequest(
            action=self.action,
            offering_id=self.offering_id,
            quantity=self.quantity,
            installed_product_id=self.installed_product_id,
            characteristics=dict(self.characteristics),
            service_address=self.service_address,
        )


class OrderCreate(Strict):
    customer_id: Id
    currency: Annotated[str, Field(min_length=1, max_length=8)] = "KZT"
    items: Annotated[list[ItemIn], Field(min_length=1)]


class StateChange(Strict):
    state: Literal["acknowledged", "in_progress", "held", "cancelled", "completed", "failed", "partial"]
    reason: Text | None = None
    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")


class Fulfilment(Strict):
    state: Literal["in_progress", "completed", "failed"]
    reason: Text | None = None


class ItemOut(BaseModel):
    id: str
    position: int
    action: str
    state: str
    state_reason: str | None
    offering_id: str
    offering_version: int
    offering_name: str
    product_line: str
    quantity: int
    one_off_price_tiyn: int
    recurring_price_tiyn: int
    characteristics: dict[str, str]
    service_address: str
    installed_product_id: str | None
    result_product_ids: list[str]
    # modify / delete: what the installed product was when the order was taken; None for add items
    # (and for items taken before this was recorded)
    replaced_offering_id: str | None = Field(
        description="the offering a tariff change replaces, or the one a disconnection ends"
    )
    replaced_offering_version: int | None = Field(description="the version of that offering the product was on")
    replaced_offering_name: str | None = Field(description="that offering's name as the product had it")


class OrderOut(BaseModel):
    id: str
    customer_id: str
    customer_name: str
    state: str
    state_reason: str | None
    source: str
    opportunity_id: str | None
    currency: str
    one_off_total_tiyn: int
    recurring_total_tiyn: int
    items: list[ItemOut]
    allowed_transitions: list[str]
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


# --- catalogue --------------------------------------------------------------------------------

Tiyn = Annotated[StrictInt, Field(ge=0, le=10**12, description="KZT in tiyn (1 KZT = 100 tiyn)")]


class OfferingNames(Strict):
    kk: Annotated[str, Field(min_length=1, max_length=200)]
    ru: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=200)]


class OfferingOut(BaseModel):
    id: str
    name: str = Field(description="the name the offering was written with")
    names: OfferingNames = Field(description="the name in Kazakh, Russian and English")
    description: str
    product_line: ProductLine
    status: OfferingStatus
    one_off_price_tiyn: int
    recurring_price_tiyn: int
    currency: str
    characteristics: dict[str, str]
    region_codes: list[str]
    bundled_offering_ids: list[str]
    valid_from: date | None
    valid_to: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class OfferingUpdate(Strict):
    version: StrictInt | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    names: OfferingNames | None = None
    status: OfferingStatus | None = None
    one_off_price_tiyn: Tiyn | None = None
    recurring_price_tiyn: Tiyn | None = None
    region_codes: list[Annotated[str, Field(max_length=16)]] | None = None
    valid_to: date | None = None

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True, exclude={"version"})
        if changes.get("names") is None:
            changes.pop("names", None)  # null: no change (every offering has its three names)
        return changes


# --- installed products -----------------------------------------------------------------------


class InstalledProductOut(BaseModel):
    id: str
    customer_id: str
    offering_id: str
    offering_name: str
    product_line: str
    status: str
    characteristics: dict[str, str]
    recurring_price_tiyn: int
    service_address: str
    branch_code: str
    region_code: str
    order_id: str
    version: int
    activated_at: datetime
    terminated_at: datetime | None
    updated_at: datetime


# --- billing ----------------------------------------------------------------------------------

BilledTiyn = Annotated[StrictInt, Field(gt=0, le=10**13, description="KZT in tiyn, an integer")]


class InvoiceIn(Strict):
    invoice_id: Id
    customer_id: Id
    order_id: Id | None = None
    amount_tiyn: BilledTiyn
    currency: Annotated[str, Field(max_length=8)] = "KZT"
    issued_on: date
    due_on: date

    def report(self) -> InvoiceReport:
        return InvoiceReport(**self.model_dump())


class PaymentIn(Strict):
    payment_id: Id
    invoice_id: Id
    amount_tiyn: BilledTiyn
    paid_at: datetime

    def report(self) -> PaymentReport:
        return PaymentReport(**self.model_dump())


class BalanceOut(BaseModel):
    customer_id: str
    status: str
    invoiced_tiyn: int
    paid_tiyn: int
    outstanding_tiyn: int
    overdue_tiyn: int
    invoices: list[dict[str, Any]]


class HistoryEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    changes: dict[str, Any] = Field(description="field -> [old, new]")
    operation_id: str | None = None
