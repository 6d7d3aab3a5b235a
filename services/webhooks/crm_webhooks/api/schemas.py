"""Request and response bodies of the webhook subscriptions API and the TM Forum hubs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from crm_shared.schemas import Strict


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=2000, description="http(s) callback; private addresses only in dev")
    event_types: list[str] = Field(min_length=1, max_length=100, description="e.g. crm.tickets.ticket.created")
    description: str | None = Field(None, max_length=500)


class DeliveryStatus(BaseModel):
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    failures: int = Field(description="failed attempts so far")
    delivered: int
    backlog: int = Field(description="deliveries waiting (pending)")
    parked: int = Field(description="deliveries parked after too many failures, until a redrive")


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    created_at: datetime
    status: DeliveryStatus
    secret: str | None = Field(None, description="the signing secret: in the answer to the create only")


class RedriveOut(BaseModel):
    redriven: int


class DeliveryOut(BaseModel):
    seq: int
    event_id: str
    event_type: str
    subject: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class HubCreate(Strict):
    """TMF630 hub registration: where to send the API's events and which (``eventType=...``)."""

    callback: str = Field(min_length=1, max_length=2000)
    query: str | None = Field(None, max_length=1000)


class HubOut(BaseModel):
    id: str
    callback: str
    query: str | None
    secret: str | None = Field(None, description="the signing secret: in the answer to the create only")
