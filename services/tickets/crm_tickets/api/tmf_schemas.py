"""Request and response bodies of the TMF621 Trouble Ticket facade (the attributes it supports)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.schemas import Strict
from crm_shared.tmf import MAX_FREE_STRING

from ..db.models import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE


class TmfModel(Strict):
    """A TMF621 request body: unknown members refused, the @-prefixed ones by alias or by name."""

    model_config = ConfigDict(populate_by_name=True)


FreeString = Annotated[str, Field(min_length=1, max_length=MAX_FREE_STRING)]
TmfTime = Annotated[str, Field(max_length=40)]


class TmfRefIn(TmfModel):
    """What TMF630 puts on every reference a client sends (href and the @ members are taken, not read)."""

    href: str | None = Field(None, max_length=500)
    type_: str | None = Field(None, alias="@type", max_length=50)
    base_type: str | None = Field(None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(None, alias="@schemaLocation", max_length=500)


class RelatedParty(TmfRefIn):
    id: str = Field(min_length=1, max_length=36)
    role: str = Field("customer", max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str | None = Field(None, alias="@referredType", max_length=50)


class RelatedEntity(TmfRefIn):
    id: str = Field(min_length=1, max_length=36)
    role: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str = Field("Product", alias="@referredType", max_length=50)


class TmfChannel(TmfRefIn):
    id: str | None = Field(None, max_length=64)
    name: FreeString | None = None


class TmfNote(TmfRefIn):
    id: str | None = Field(None, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_NOTE)
    author: str | None = Field(None, max_length=200)
    date: TmfTime | None = None


class TroubleTicketCreate(TmfModel):
    """TMF621 v4 TroubleTicket_Create: description, severity and ticketType are mandatory, the free
    strings (severity, priority, ticketType, channel.name) are read through crm_shared.tmf; this CRM
    also needs the customer among relatedParty."""

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    severity: FreeString
    ticketType: FreeString
    priority: FreeString | None = None
    channel: TmfChannel | None = None
    externalId: str | None = Field(None, max_length=100)
    requestedResolutionDate: TmfTime | None = None
    expectedResolutionDate: TmfTime | None = None
    status: str | None = Field(None, max_length=30)
    statusChangeReason: str | None = Field(None, max_length=500)
    relatedParty: list[RelatedParty] = Field(min_length=1, max_length=5)
    relatedEntity: list[RelatedEntity] = Field(default_factory=list, max_length=5)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)
    attachment: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    troubleTicketRelationship: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    type_: str | None = Field("TroubleTicket", alias="@type", max_length=50)
    base_type: str | None = Field(None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(None, alias="@schemaLocation", max_length=500)


class TroubleTicketUpdate(TmfModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION)
    severity: FreeString | None = None
    priority: FreeString | None = None
    ticketType: FreeString | None = None
    status: str | None = Field(None, min_length=1, max_length=30)
    statusChangeReason: str | None = Field(None, min_length=1, max_length=500)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)
    type_: str | None = Field(None, alias="@type", max_length=50)
    base_type: str | None = Field(None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(None, alias="@schemaLocation", max_length=500)


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
    base_type: Literal["TroubleTicket"] = Field("TroubleTicket", alias="@baseType")
    schema_location: str = Field(alias="@schemaLocation")
    externalId: str | None = None
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


FIELD_NAMES = {f.alias or name for name, f in TroubleTicket.model_fields.items()}
