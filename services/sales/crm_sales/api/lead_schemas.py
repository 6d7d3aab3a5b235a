"""Request and response bodies of the lead API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictInt, TypeAdapter, ValidationError

from crm_shared.schemas import Strict

from ..domain.pipeline import LeadSource, LeadStatus, ProductLine, Stage
from ..services.customer_service import NewCustomer
from .customer_schemas import CustomerCreate, CustomerOut, Email, Phone, new_customer
from .opportunity_schemas import OpportunityOut

MAX_TEXT = 4000

Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Reference = Annotated[str, Field(min_length=1, max_length=64)]


class LeadCreate(Strict):
    source: LeadSource
    name: Name = Field(description="the person (or the company's contact) to talk to")
    phone: Phone | None = Field(None, description="any Kazakhstan notation; stored as E.164")
    email: Email | None = None
    company_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    interest: ProductLine
    notes: Text | None = None
    campaign_id: Reference | None = Field(None, description="the campaign the lead answered (source campaign)")
    partner_id: Reference | None = Field(None, description="the dealer/agent who brought it (source partner)")
    owner_id: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="a staff member in your scope; default you. The lead is placed in the owner's branch"
    )


class LeadUpdate(Strict):
    """Only the fields sent change. ``owner_id`` assigns the lead (to a staff member in your scope)."""

    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    status: LeadStatus | None = None
    disqualify_reason: Text | None = None
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    company_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    interest: ProductLine | None = None
    notes: Text | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OpportunityDraft(Strict):
    """The opportunity a conversion opens (all optional: defaults from the lead)."""

    name: Name | None = Field(None, description="default: '<interest> for <customer>'")
    stage: Stage = Stage.QUALIFICATION
    amount_tiyn: StrictInt = Field(0, ge=0, description="KZT in tiyn (1 KZT = 100 tiyn), an integer")
    probability: StrictInt | None = Field(None, ge=0, le=100)
    expected_close_date: date | None = None


class LeadConvert(Strict):
    """Link an existing customer (customer_id) or register a new one (customer); not both.

    A new customer's phone and e-mail default to the lead's."""

    customer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    customer: dict[str, Any] | None = Field(None, description="a customer create body (kind individual|business)")
    opportunity: OpportunityDraft = Field(default_factory=OpportunityDraft)


class LeadOut(BaseModel):
    id: str
    source: LeadSource
    status: LeadStatus
    disqualify_reason: str | None
    name: str
    phone: str | None
    email: str | None
    company_name: str | None
    interest: ProductLine
    notes: str | None
    campaign_id: str | None
    partner_id: str | None
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    customer_id: str | None
    opportunity_id: str | None
    converted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class ConversionOut(BaseModel):
    lead: LeadOut
    customer: CustomerOut
    customer_created: bool = Field(description="false when an existing customer was linked")
    opportunity: OpportunityOut


CUSTOMER_CREATE = TypeAdapter(CustomerCreate)


def customer_over_defaults(defaults: dict[str, Any], body: dict[str, Any]) -> NewCustomer:
    """The customer a conversion registers: the ``customer`` body over the lead's defaults,
    validated as a customer create body; errors name the field under ``customer`` (e.g. customer.iin)."""
    try:
        return new_customer(CUSTOMER_CREATE.validate_python(defaults | body))
    except ValidationError as exc:
        raise RequestValidationError([_under_customer(err) for err in exc.errors(include_context=False)]) from None


def _under_customer(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error["loc"])
    if loc and loc[0] in ("individual", "business"):  # the union member's tag adds nothing for the client
        loc = loc[1:]
    return error | {"loc": ("body", "customer", *loc)}
