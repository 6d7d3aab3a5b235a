"""Request and response bodies of the tickets REST API (the TMF621 facade's own are in
tmf_schemas.py). Request bodies refuse unknown fields and trim surrounding whitespace; each
converts itself to the plain input of its use case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.schemas import Strict

from ..db.models import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE
from ..services.incident_service import IncidentReport
from ..services.interaction_service import InteractionEnding, InteractionStart
from ..services.ticket_service import AttachmentDraft, NoteDraft, TicketDraft

Category = Literal["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"]
Priority = Literal["critical", "high", "medium", "low"]
Severity = Literal["critical", "major", "minor"]
Channel = Literal["phone", "branch", "self_service", "oss"]


class Trimmed(Strict):
    """A strict request body whose strings lose their surrounding whitespace (" No internet " is
    "No internet"), so that a blank one fails its min_length."""

    model_config = ConfigDict(str_strip_whitespace=True)


class TicketCreate(Trimmed):
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

    def draft(self) -> TicketDraft:
        return TicketDraft(**self.model_dump(exclude={"note", "customer_id", "interaction_id"}))

    def notes(self) -> list[NoteDraft]:
        return [NoteDraft(self.note, "internal")] if self.note else []


class TicketUpdate(Trimmed):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION)
    category: Category | None = None
    priority: Priority | None = None
    severity: Severity | None = None
    location: str | None = Field(None, max_length=300)
    version: int | None = None


class TransitionRequest(Trimmed):
    status: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(None, min_length=1, max_length=500)


class NoteCreate(Trimmed):
    text: str = Field(min_length=1, max_length=MAX_NOTE)
    visibility: Literal["internal", "customer"] = "internal"


class RatingCreate(Trimmed):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str | None = Field(None, max_length=1000)


class AttachmentCreate(Trimmed):
    name: str = Field(min_length=1, max_length=255)
    media_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size_bytes: int = Field(ge=0, le=50_000_000)
    url: str | None = Field(None, max_length=1000)

    def draft(self) -> AttachmentDraft:
        return AttachmentDraft(**self.model_dump())


class AssignmentRequest(Trimmed):
    queue: str | None = Field(None, min_length=3, max_length=64, pattern=r"^[A-Z]{3}-\d{2}\.[a-z]+$")
    assignee_id: str | None = Field(None, min_length=1, max_length=200)
    assignee_name: str | None = Field(None, max_length=200)


class RelationCreate(Trimmed):
    related_ticket_id: str = Field(min_length=1, max_length=36)
    kind: Literal["related", "duplicate", "caused_by"] = "related"


class IncidentCreate(Trimmed):
    title: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    region_code: str = Field(pattern=r"^KZ-\d{2}$")
    branch_code: str | None = Field(None, pattern=r"^[A-Z]{3}-\d{2}$")
    area: str | None = Field(None, min_length=1, max_length=300)
    categories: list[Category] = Field(default_factory=list, max_length=8)
    severity: Severity = "major"
    external_reference: str | None = Field(None, max_length=200)
    expected_resolution_at: datetime | None = None

    def report(self) -> IncidentReport:
        return IncidentReport(**self.model_dump())


class AffectedCustomers(Trimmed):
    customer_ids: list[str] = Field(min_length=1, max_length=5000)
    priority: Priority = "high"


class IncidentResolve(Trimmed):
    resolution: str = Field(min_length=1, max_length=2000)


class InteractionCreate(Trimmed):
    customer_id: str = Field(min_length=1, max_length=36)
    channel: Channel = "phone"
    direction: Literal["inbound", "outbound"] = "inbound"
    started_at: datetime | None = None
    summary: str | None = Field(None, max_length=2000)

    def start(self) -> InteractionStart:
        return InteractionStart(**self.model_dump())


class InteractionEnd(Trimmed):
    ended_at: datetime | None = None
    outcome: Literal["resolved_on_call", "ticket_opened", "note_added", "callback_needed", "no_answer", "other"]
    summary: str | None = Field(None, max_length=2000)
    ticket_id: str | None = Field(None, max_length=36)

    def ending(self) -> InteractionEnding:
        return InteractionEnding(**self.model_dump())


class TicketPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="the tickets of this page, in the list's order")
    next_cursor: str | None = Field(
        None, description=("pass as `cursor` (with the same filters and sort) for the next page; null on the last page")
    )
