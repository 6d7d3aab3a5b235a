"""Deal registration (/api/v1/partners/deals): a partner user registers (409 naming the reason on
a channel conflict), a channel manager approves or rejects."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, SalesCustomersClient, Session, Settings, client
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..clients.sales_records import SalesRecords
from ..events.publishers import deal_view
from ..services import deal_service
from ..services.deal_service import NewDeal
from .schemas import DealCreate, DealDecision, DealOut

router = APIRouter(prefix="/api/v1/partners", tags=["deals"])
SalesRecordsClient = Annotated[SalesRecords, Depends(client(SalesRecords))]


@router.post(
    "/deals",
    status_code=201,
    response_model=DealOut,
    responses=OPENAPI_PROBLEMS,
    summary="Register a deal (a partner user); 409 on a channel conflict, naming the reason",
)
async def register_deal(
    body: DealCreate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    settings: Settings,
    sales: SalesCustomersClient,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict[str, Any]:
        deal = await deal_service.register_deal(
            session,
            principal,
            NewDeal(body.customer.model_dump(exclude_none=True), body.offering_ids, body.expected_value_tiyn),
            sales=sales,
            protection=timedelta(days=settings.deal_protection_days),
            now=now,
        )
        return deal_view(deal)

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda state: {"Location": f"/api/v1/partners/deals/{state['id']}"},
        flush=session.flush,
    )


@router.get("/deals/{deal_id}", response_model=DealOut, responses=OPENAPI_PROBLEMS, summary="One deal")
async def get_deal(deal_id: str, principal: CurrentPrincipal, session: ReadSession):
    return deal_view(await deal_service.get_deal(session, principal, deal_id))


@router.get(
    "/deals",
    response_model=Page[DealOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="Deals, newest first (a partner user: its own)",
)
async def list_deals(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    partner_id: Annotated[str | None, Query(max_length=64)] = None,
):
    rows, next_cursor = await deal_service.list_deals(
        session, principal, limit=limit, cursor=cursor, status=status, partner_id=partner_id
    )
    return {"items": [deal_view(row) for row in rows], "next_cursor": next_cursor}


@router.post(
    "/deals/{deal_id}/decision",
    response_model=DealOut,
    responses=OPENAPI_PROBLEMS,
    summary="Approve (creates or links the customer and a partner-channel lead in sales) or reject",
)
async def decide_deal(
    deal_id: str,
    body: DealDecision,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    sales: SalesCustomersClient,
    records: SalesRecordsClient,
):
    deal = await deal_service.decide(
        session,
        principal,
        deal_id,
        decision=body.decision,
        reason=body.reason,
        branch_code=body.branch_code,
        interest=body.interest,
        sales=sales,
        records=records,
        now=now,
    )
    return deal_view(deal)
