"""Request and response bodies of the reassignment API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from crm_shared.schemas import Strict

OwnerId = Annotated[str, Field(min_length=1, max_length=200)]


class ReassignmentCreate(Strict):
    from_owner_id: OwnerId = Field(description="the person whose records move (e.g. who is leaving)")
    to_owner_id: OwnerId = Field(description="an active staff member in your scope")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class MovedRecord(BaseModel):
    entity_type: str
    entity_id: str
    changes: dict[str, Any] = Field(description="field -> [old, new]")


class ReassignmentOut(BaseModel):
    id: str = Field(description="the operation id carried by every audit entry and event of this reassignment")
    from_owner_id: str
    to_owner_id: str
    to_owner_name: str
    to_branch_code: str
    to_region_code: str
    reason: str
    actor_id: str
    actor_name: str
    actor_role: str
    scope: str
    at: datetime
    counts: dict[str, int]
    moved: list[MovedRecord]


class ReassignmentPreviewRequest(Strict):
    from_owner_id: OwnerId = Field(description="the person whose records would move")
    to_owner_id: OwnerId = Field(description="an active staff member in your scope")


class PreviewRecord(BaseModel):
    entity_type: str
    entity_id: str
    title: str = Field(description="the customer's, lead's or opportunity's name, or the activity's subject")


class ReassignmentPreviewOut(BaseModel):
    from_owner_id: str
    from_owner_name: str
    to_owner_id: str
    to_owner_name: str
    counts: dict[str, int] = Field(description="records of each kind that would move")
    sample: list[PreviewRecord] = Field(description="the first few records of each kind")
