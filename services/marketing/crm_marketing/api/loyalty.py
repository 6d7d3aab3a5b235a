"""The loyalty API (/api/v1/marketing/loyalty): enrol, the account by customer or by card (a
branch cashier scans the card), redemptions (409 when the points are not there)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.timefmt import iso

from ..services import loyalty_service
from .schemas import AccountOut, Enrolment, RedemptionCreate, RedemptionOut

API = "/api/v1/marketing/loyalty"
router = APIRouter(prefix=API, tags=["loyalty"])


@router.post(
    "/accounts", status_code=201, response_model=AccountOut, responses=OPENAPI_PROBLEMS, summary="Enrol a customer"
)
async def enrol(body: Enrolment, principal: CurrentPrincipal, session: Session, now: Now, response: Response):
    account, created = await loyalty_service.enrol(session, principal, body.customer_id, now)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"{API}/accounts/{account.customer_id}"
    return loyalty_service.account_state(account)


@router.get(
    "/accounts/{customer_id}", response_model=AccountOut, responses=OPENAPI_PROBLEMS, summary="A customer's account"
)
async def get_account(customer_id: str, principal: CurrentPrincipal, session: ReadSession):
    return loyalty_service.account_state(await loyalty_service.get_account(session, principal, customer_id))


@router.get(
    "/cards/{card_number}", response_model=AccountOut, responses=OPENAPI_PROBLEMS, summary="The account of a card"
)
async def find_card(card_number: str, principal: CurrentPrincipal, session: ReadSession):
    return loyalty_service.account_state(await loyalty_service.find_by_card(session, principal, card_number))


@router.post(
    "/accounts/{customer_id}/redemptions",
    status_code=201,
    response_model=RedemptionOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(409),
    summary="Redeem points for a gift or a discount (409 when the balance lacks them)",
)
async def redeem(customer_id: str, body: RedemptionCreate, principal: CurrentPrincipal, session: Session, now: Now):
    account, entry = await loyalty_service.redeem(
        session, principal, customer_id, points=body.points, reward=body.reward, now=now
    )
    return {
        "id": entry.id,
        "customer_id": account.customer_id,
        "points": -entry.points,
        "reward": entry.reward,
        "balance": account.points,
        "occurred_at": iso(entry.occurred_at),
    }
