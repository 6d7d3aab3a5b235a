"""Request and response bodies of the activity API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from crm_shared.schemas import Strict

from ..domain.pipeline import ActivityKind, RelatedType

Subject = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(max_length=10_000)]


class ActivityCreate(Strict):
    kind: ActivityKind
    related_type: RelatedType
    related_id: Annotated[str, Field(min_length=1, max_length=64)]
    subject: Subject
    body: LongText | None = None
    due_at: AwareDatetime | None = Field(None, description="when a task or meeting is due (with a time zone)")
    done_at: AwareDatetime | None = Field(None, description="when it happened; a note is done when written")
    outcome: LongText | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="who does it: a staff member in your scope who sees the record; default you"
    )


class ActivityUpdate(Strict):
    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    subject: Subject | None = None
    body: LongText | None = None
    due_at: AwareDatetime | None = None
    done_at: AwareDatetime | None = Field(None, description="set it to mark the activity done; null reopens it")
    outcome: LongText | None = None


class ActivityOut(BaseModel):
    id: str
    kind: ActivityKind
    related_type: RelatedType
    related_id: str
    subject: str
    body: str | None
    due_at: datetime | None
    done_at: datetime | None
    outcome: str | None
    owner_id: str
    owner_name: str
    created_by: str
    branch_code: str = Field(description="the branch of the record the activity is about")
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime
