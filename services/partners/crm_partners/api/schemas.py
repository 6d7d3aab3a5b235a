"""Request bodies (crm_shared.schemas.Strict: an unknown field is a 422 naming it) and answers of
the partners API. TMF668/669 note: a partner is a PartyRole (kind = its role), a deal the
registration of a Partnership opportunity; the resources keep the issue's names."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from crm_shared.schemas import Strict

Name = Annotated[str, Field(min_length=1, max_length=300)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Tiyn = Annotated[StrictInt, Field(ge=0, description="KZT in tiyn (1 KZT = 100 tiyn), an integer")]


class CommissionPlan(BaseModel):
    """The four keys keep their meaning; tiers and per-offering amounts are optional extensions."""

    model_config = ConfigDict(extra="allow")

    one_off_tiyn: Tiyn = Field(0, description="per activated offering")
    recurring_percent: StrictInt | float | str = Field(0, description='percent of recurring payments, e.g. 5 or "2.5"')
    recurring_months: Annotated[StrictInt, Field(ge=0)] = Field(0, description="for the first N months")
    clawback_days: Annotated[StrictInt, Field(ge=0)] = Field(0, description="disconnection within N days takes it back")
    tiers: list[dict[str, Any]] = Field(default_factory=list, description="[{min_activations, one_off_tiyn}] per month")
    per_offering_tiyn: dict[str, Any] = Field(default_factory=dict, description="offering id -> one-off tiyn")


class Contact(Strict):
    name: Name
    position: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=200)


class BankDetails(Strict):
    bank_name: str = Field(min_length=1, max_length=200)
    bik: str = Field(min_length=8, max_length=11, description="the bank's BIC")
    iban: str = Field(pattern=r"^KZ[0-9A-Z]{18}$", description="KZ IBAN, 20 characters")


class PartnerCreate(Strict):
    name: Name
    bin: str = Field(min_length=12, max_length=12, description="the legal entity's BIN (check digit verified)")
    kind: Literal["dealer", "agent", "installer"]
    region_codes: list[Code] = Field(min_length=1, max_length=20)
    branch_codes: list[Code] = Field(default_factory=list, max_length=100)
    commission_plan: CommissionPlan
    status: Literal["onboarding", "active"] = "onboarding"
    contract_start: date | None = None
    contract_end: date | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    bank_details: BankDetails | None = None


class PartnerUpdate(Strict):
    version: StrictInt | None = Field(None, description="the version read; an alternative to If-Match")
    name: Name | None = None
    status: Literal["onboarding", "active", "suspended", "terminated"] | None = None
    region_codes: list[Code] | None = Field(None, min_length=1, max_length=20)
    branch_codes: list[Code] | None = Field(None, max_length=100)
    commission_plan: CommissionPlan | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    contacts: list[Contact] | None = Field(None, max_length=20)
    bank_details: BankDetails | None = None


class PartnerOut(BaseModel):
    id: str
    name: str
    bin: str
    kind: str
    status: str
    region_codes: list[str]
    branch_codes: list[str]
    contract_start: date | None
    contract_end: date | None
    commission_plan: dict[str, Any]
    contacts: list[dict[str, Any]]
    bank_details: dict[str, Any] | None
    version: int
    created_at: str
    updated_at: str


class DealCustomerIn(Strict):
    kind: Literal["individual", "business"]
    iin: str | None = Field(None, max_length=12)
    bin: str | None = Field(None, max_length=12)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    legal_name: str | None = Field(None, max_length=300)
    phone: str = Field(min_length=1, max_length=32)


class DealCreate(Strict):
    customer: DealCustomerIn
    offering_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)
    expected_value_tiyn: Tiyn = 0


class DealDecision(Strict):
    decision: Literal["approved", "rejected"]
    reason: str | None = Field(None, max_length=2000)
    branch_code: Code | None = Field(None, description="branch of the sales records; default the partner's first")
    interest: Literal["internet", "tv", "mobile", "fixed_line", "bundle"] = Field(
        "internet", description="the product line of the partner-channel lead"
    )


class DealOut(BaseModel):
    id: str
    partner_id: str
    status: str
    customer: dict[str, Any]
    customer_id: str | None
    lead_id: str | None
    offering_ids: list[str]
    expected_value_tiyn: int
    decision_reason: str | None
    version: int
    created_at: str
    updated_at: str
    decided_at: str | None


class CommissionLineOut(BaseModel):
    id: str
    partner_id: str
    customer_id: str
    order_id: str | None
    offering_id: str | None
    kind: str
    status: str
    amount_tiyn: int
    period: str
    accrued_at: str
    confirmed_at: str | None


class StatementTotals(BaseModel):
    accrued_tiyn: int
    confirmed_tiyn: int
    clawback_tiyn: int
    total_tiyn: int
    lines: int


class StatementOut(BaseModel):
    partner_id: str
    period: str
    currency: str
    totals: StatementTotals
    lines: list[CommissionLineOut]


class DisputeCreate(Strict):
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    line_id: str | None = Field(None, max_length=36)
    text: str = Field(min_length=1, max_length=4000)


class DisputeResolution(Strict):
    resolution: str = Field(min_length=1, max_length=4000)


class DisputeOut(BaseModel):
    id: str
    partner_id: str
    period: str
    line_id: str | None
    text: str
    status: str
    resolution: str | None
    created_at: str
    resolved_at: str | None
