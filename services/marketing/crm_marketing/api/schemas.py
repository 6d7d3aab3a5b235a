"""Request bodies (crm_shared.schemas.Strict: an unknown field is a 422 naming it) and answers of
the marketing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from crm_shared.schemas import Strict

Name = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=64)]
Codes = Annotated[list[Code], Field(max_length=200)]


class Criteria(Strict):
    region_codes: Codes = []
    branch_codes: Codes = []
    kinds: list[Literal["individual", "business"]] = []
    languages: list[Literal["kk", "ru", "en"]] = []
    product_lines: Codes = []
    offering_ids: Codes = []
    tiers: list[Literal["none", "bronze", "silver", "gold"]] = []
    payment_statuses: list[Literal["paid", "due", "overdue", "none"]] = Field(
        [],
        description="from the invoices orders announces: overdue (an invoice unpaid past its due date), due (unpaid, "
        "not yet due), paid (every invoice paid), none (no invoice yet); any of those listed",
    )
    min_tenure_days: Annotated[int, Field(ge=0, le=36500)] | None = None
    has_open_tickets: bool | None = Field(None, description="true: an open trouble ticket; false: none")


class SegmentCreate(Strict):
    name: Name
    criteria: Criteria = Criteria()


class SegmentOut(BaseModel):
    id: str
    name: str
    criteria: dict[str, Any]
    owner_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    size: int = Field(description="members now: active customers with marketing consent matching the criteria")


class MemberOut(BaseModel):
    customer_id: str
    display_name: str
    kind: str
    language: str
    region_code: str
    branch_code: str


class Message(Strict):
    kk: Annotated[str, Field(max_length=20000)] | None = None
    ru: Annotated[str, Field(max_length=20000)] | None = None
    en: Annotated[str, Field(max_length=20000)] | None = None


class Offer(Strict):
    offering_id: Code | None = None
    discount_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    discount_tiyn: Annotated[int, Field(ge=0)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


class CampaignCreate(Strict):
    name: Name
    segment_id: Annotated[str, Field(min_length=1, max_length=36)]
    channel: Literal["sms", "email"]
    message: Message
    offer: Offer | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class CampaignStats(BaseModel):
    targeted: int
    sent: int
    delivered: int
    failed: int
    suppressed: int
    pending: int
    responded: int
    converted: int
    opted_out: int = Field(description="recipients who opted out by this campaign's SMS reply or e-mail link")


class CampaignOut(BaseModel):
    id: str
    name: str
    segment_id: str
    channel: str
    message: dict[str, str]
    offer: dict[str, Any] | None
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    created_by: str
    launched_at: datetime | None
    completed_at: datetime | None
    version: int
    created_at: datetime
    stats: CampaignStats


class DeliveryOut(BaseModel):
    customer_id: str
    state: str
    reason: str | None
    language: str | None
    message_id: str | None
    provider_message_id: str | None
    branch_code: str
    region_code: str
    sent_at: datetime | None
    delivered_at: datetime | None
    responded_at: datetime | None
    converted_at: datetime | None
    conversion_order_id: str | None
    opted_out_at: datetime | None = Field(None, description="the recipient opted out (reply STOP or the e-mail link)")


class ResponseCreate(Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=36)]


class Enrolment(Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=36)]


class AccountOut(BaseModel):
    customer_id: str
    card_number: str
    tier: str
    points: int
    branch_code: str
    region_code: str
    enrolled_at: datetime
    updated_at: datetime


class RedemptionCreate(Strict):
    points: StrictInt = Field(gt=0, le=10_000_000)
    reward: Annotated[str, Field(min_length=1, max_length=200)]


class RedemptionOut(BaseModel):
    id: str
    customer_id: str
    points: int
    reward: str
    balance: int
    occurred_at: datetime
