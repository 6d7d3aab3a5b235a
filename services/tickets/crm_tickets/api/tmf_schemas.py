"""Request and response bodies of the TMF621 Trouble Ticket facade (the attributes it supports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.schemas import Strict

from ..db.models import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE
from .schemas import Category, Severity


class TmfModel(Strict):
    """A TMF621 request body: unknown members refused, the @-prefixed ones by alias or by name."""

    model_config = ConfigDict(populate_by_name=True)


class RelatedParty(TmfModel):
    id: str = Field(min_length=1, max_length=36)
    role: str = Field("customer", max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str | None = Field(None, alias="@referredType", max_length=50)


class RelatedEntity(TmfModel):
    id: str = Field(min_length=1, max_length=36)
    role: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str = Field("Product", alias="@referredType", max_length=50)


class TmfNote(TmfModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE)
    author: str | None = Field(None, max_length=200)


class TroubleTicketCreate(TmfModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    severity: Severity
    ticketType: Category
    priority: Literal["1", "2", "3", "4", "critical", "high", "medium", "low"] = "3"
    channel: dict[str, str] | None = None
    relatedParty: list[RelatedParty] = Field(min_length=1, max_length=5)
    relatedEntity: list[RelatedEntity] = Field(default_factory=list, max_length=5)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)
    type_: str | None = Field("TroubleTicket", alias="@type")


class TroubleTicketUpdate(TmfModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION)
    severity: Severity | None = None
    priority: Literal["1", "2", "3", "4", "critical", "high", "medium", "low"] | None = None
    status: Literal["acknowledged", "inProgress", "pending", "resolved", "closed", "cancelled"] | None = None
    statusChangeReason: str | None = Field(None, min_length=1, max_length=500)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)


class StatusChangeOut(BaseModel):
    status: str
    statusChangeReason: str | None = None
    changeDate: datetime


class NoteOut(BaseModel):
    id: str
    text: str
    author: str
    date: datetime


class RefOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str | None = None
    role: str | None = None
    name: str | None = None
    referred_type: str = Field(alias="@referredType")


class RelationshipOut(BaseModel):
    id: str
    relationshipType: str


class TroubleTicket(BaseModel):
    """TMF621 TroubleTicket (the attributes this facade supports)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    type_: Literal["TroubleTicket"] = Field("TroubleTicket", alias="@type")
    name: str
    description: str
    severity: str
    priority: str
    ticketType: str
    status: str
    statusChangeReason: str | None = None
    statusChangeHistory: list[StatusChangeOut] = Field(default_factory=list)
    creationDate: datetime
    lastUpdate: datetime
    expectedResolutionDate: datetime | None = None
    resolutionDate: datetime | None = None
    channel: dict[str, str]
    relatedParty: list[RefOut]
    relatedEntity: list[RefOut] = Field(default_factory=list)
    note: list[NoteOut] = Field(default_factory=list)
    attachment: list[dict[str, Any]] = Field(default_factory=list)
    troubleTicketRelationship: list[RelationshipOut] = Field(default_factory=list)


FIELD_NAMES = set(TroubleTicket.model_fields) - {"type_"} | {"@type"}
