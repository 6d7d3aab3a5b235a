"""The audit history of leads and opportunities (/api/v1/sales/{leads,opportunities}/{id}/history):
who changed what, when, old -> new, the actor by name. The use cases are
crm_sales.services.record_history_service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.pagination import MAX_LIMIT, Page

from ..services import record_history_service
from .customer_schemas import HistoryEntryOut

router = APIRouter(prefix="/api/v1/sales", tags=["history"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]


async def _history(session, principal, entity_type: str, record_id: str, limit: int, cursor: str | None) -> dict:
    entries, next_cursor = await record_history_service.record_history(
        session, principal, entity_type, record_id, limit=limit, cursor=cursor
    )
    return {
        "items": await record_history_service.history_lines(session, principal, entries),
        "next_cursor": next_cursor,
    }


@router.get(
    "/leads/{lead_id}/history",
    response_model=Page[HistoryEntryOut],
    responses=OPENAPI_PROBLEMS,
    summary="Audit history of the lead: who changed what, when, old -> new",
)
async def lead_history(
    lead_id: str, principal: CurrentPrincipal, session: ReadSession, limit: Limit = MAX_LIMIT, cursor: Cursor = None
):
    return await _history(session, principal, "lead", lead_id, limit, cursor)


@router.get(
    "/opportunities/{opportunity_id}/history",
    response_model=Page[HistoryEntryOut],
    responses=OPENAPI_PROBLEMS,
    summary="Audit history of the opportunity: who changed what, when, old -> new",
)
async def opportunity_history(
    opportunity_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = MAX_LIMIT,
    cursor: Cursor = None,
):
    return await _history(session, principal, "opportunity", opportunity_id, limit, cursor)
