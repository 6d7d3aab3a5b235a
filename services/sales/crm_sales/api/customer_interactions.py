"""The customer's calls and visits (/api/v1/sales/customers/{id}/interactions): the copy of the
tickets service's interactions kept by the customer-interactions consumer. Tickets owns them and
logs new ones (POST /api/v1/tickets/interactions); sales refuses call activities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.timefmt import iso

from ..services import customer_interaction_service

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])


class CustomerInteractionOut(BaseModel):
    id: str
    customer_id: str
    channel: str
    direction: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    summary: str | None
    ticket_id: str | None
    agent_id: str
    agent_name: str
    branch_code: str
    region_code: str


class CustomerInteractionsOut(BaseModel):
    items: list[CustomerInteractionOut]


@router.get(
    "/customers/{customer_id}/interactions",
    response_model=CustomerInteractionsOut,
    responses=OPENAPI_PROBLEMS,
    summary="The customer's calls and visits (logged in the tickets service), newest first",
)
async def customer_interactions(
    customer_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    rows = await customer_interaction_service.customer_interactions(session, principal, customer_id, limit=limit)
    return {
        "items": [
            {
                "id": row.id,
                "customer_id": row.customer_id,
                "channel": row.channel,
                "direction": row.direction,
                "started_at": iso(row.started_at),
                "ended_at": iso(row.ended_at),
                "outcome": row.outcome,
                "summary": row.summary,
                "ticket_id": row.ticket_id,
                "agent_id": row.agent_id,
                "agent_name": row.agent_name,
                "branch_code": row.branch_code,
                "region_code": row.region_code,
            }
            for row in rows
        ]
    }
