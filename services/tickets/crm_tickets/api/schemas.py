"""Request and response bodies of the tickets REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..db.models import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE

Category = Literal["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"]
Priority = Literal["critical", "high", "medium", "low"]
Severity = Literal["critical", "major", "minor"]
Channel = Literal["phone", "branch", "self_service", "oss"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketCreate(Strict):
    customer_id: str = Field(min_length=1, max_length=36)
    installed_product_id: str | None = Field(None, min_length=1, max_length=36)
    name: str = Field(min_length=1, max_length=MAX_NAME, description="short summary")
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    category: Category
    priority: Priority = "medium"
    severity: Severity = "minor"
    channel: Channel = "phone"
    location: str | None = Field(None, max_length=300, description="address or area of the problem")
    note: str | None = Field(None, min_length=1, max_length=MAX_NOTE, description="a first internal note")
    interaction_id: str | None = Field(None, max_length=36, description="the call this ticket was opened in")


class TicketUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION)
    category: Category | None = None
    priority: Priority | None = None
    severity: Severity | None = None
    location: str | None = Field(None, max_length=300)
    version: int | None = None


class TransitionRequest(Strict):
    status: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(None, min_length=1, max_length=500)


class NoteCreate(Strict):
    text: str = Field(min_length=1, max_length=MAX_NOTE)
    visibility: Literal["internal", "customer"] = "internal"


class AttachmentCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    media_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size_bytes: int = Field(ge=0, le=50_000_000)
    url: str | None = Field(None, max_length=1000)


class AssignmentRequest(Strict):
    queue: str | None = Field(None, min_length=3, max_length=64, pattern=r"^[A-Z]{3}-\d{2}\.[a-z]+$")
    assignee_id: str | None = Field(None, min_length=1, max_length=200)
    assignee_name: str | None = Field(None, max_length=200)


class RelationCreate(Strict):
    related_ticket_id: str = Field(min_length=1, max_length=36)
    kind: Literal["related", "duplicate", "caused_by"] = "related"


class IncidentCreate(Strict):
    title: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    region_code: str = Field(pattern=r"^KZ-\d{2}$")
    branch_code: str | None = Field(None, pattern=r"^[A-Z]{3}-\d{2}$")
    area: str | None = Field(None, min_length=1, max_length=300)
    categories: list[Category] = Field(default_factory=list, max_length=8)
    severity: Severity = "major"
    external_reference: str | None = Field(None, max_length=200)
    expected_resolution_at: datetime | None = None


class AffectedCustomers(Strict):
    customer_ids: list[str] = Field(min_length=1, max_length=5000)
    priority: Priority = "high"


class IncidentResolve(Strict):
    resolution: str = Field(min_length=1, max_length=2000)


class InteractionCreate(Strict):
    customer_id: str = Field(min_length=1, max_length=36)
    channel: Channel = "phone"
    direction: Literal["inbound", "outbound"] = "inbound"
    started_at: datetime | None = None
    summary: str | None = Field(None, max_length=2000)


class InteractionEnd(Strict):
    ended_at: datetime | None = None
    outcome: Literal["resolved_on_call", "ticket_opened", "note_added", "callback_needed", "no_answer", "other"]
    summary: str | None = Field(None, max_length=2000)
    ticket_id: str | None = Field(None, max_length=36)


class TicketPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="the tickets of this page, in the list's order")
    next_cursor: str | None = Field(
        None, description=("pass as `cursor` (with the same filters and sort) for the next page; null on the last page")
    )
