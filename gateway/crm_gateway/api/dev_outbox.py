"""GET /api/v1/admin/dev-outbox?to=<phone or e-mail> (admin, dev profile only): what the suite
sent through the capturing SMTP and SMPP servers `crm up` runs in the dev profile
(crm_shared.outbound.sinks), newest first. In the production profile the route does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from crm_shared.outbound.sinks import read_outbox

from .deps import AdminCaller

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class OutboxItem(BaseModel):
    channel: str
    to: str
    subject: str
    body: str
    sent_at: str


class Outbox(BaseModel):
    items: list[OutboxItem]


@router.get("/dev-outbox", response_model=Outbox, summary="Messages the dev sinks captured (dev profile only)")
async def dev_outbox(
    request: Request,
    caller: AdminCaller,
    to: Annotated[str | None, Query(max_length=320, description="a phone (E.164) or an e-mail address")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Outbox:
    path = Path(request.app.state.runtime.settings.dev_outbox_file)
    items = read_outbox(path, to=to, limit=limit)
    return Outbox(items=[OutboxItem(**{key: item.get(key, "") for key in OutboxItem.model_fields}) for item in items])
