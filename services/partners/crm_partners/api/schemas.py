"""Request bodies (crm_shared.schemas.Strict: an unknown field is a 422 naming it) and the answers
of the partner API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from crm_shared.schemas import Strict

Name = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str, Field(max_length=4000)]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z]{3}-[0-9]{2}$", examples=["ALA-01"])]
RegionCode = Annotated[str, Field(pattern=r"^KZ-[0-9]{2}$", examples=["KZ-75"], description="ISO 3166-2:KZ")]


class PartnerCreate(Strict):
    name: Name
    notes: Notes | None = None
    branch_code: BranchCode | None = Field(None, description="default: your own branch")
    region_code: RegionCode | None = Field(None, description="default: your own region; required with another branch")


class PartnerUpdate(Strict):
    """Only the fields sent change."""

    version: StrictInt | None = Field(None, description="the version read; an alternative to If-Match")
    name: Name | None = None
    notes: Notes | None = Field(None, description="null removes the notes")


class PartnerOut(BaseModel):
    id: str
    name: str
    notes: str | None
    owner_id: str
    branch_code: str
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime


class PartnerBranchCountOut(BaseModel):
    region_code: str
    branch_code: str
    partners: int
