"""The campaign API (/api/v1/marketing/campaigns): draft (marketers, Idempotency-Key), launch
(marketers and admins; a retry changes nothing), figures, deliveries, responses; and the e-mail
opt-out link."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import flush_or_conflict
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from crm_shared.timefmt import iso

from ..db.models import Campaign
from ..services import campaign_service
from .schemas import CampaignCreate, CampaignOut, DeliveryOut, ResponseCreate

API = "/api/v1/marketing"
router = APIRouter(prefix=API, tags=["campaigns"])


def _when(value) -> str | None:
    return iso(value) if value else None


async def campaign_answer(session, campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "segment_id": campaign.segment_id,
        "channel": campaign.channel,
        "message": campaign.message,
        "offer": campaign.offer,
        "starts_at": _when(campaign.starts_at),
        "ends_at": _when(campaign.ends_at),
        "status": campaign.status,
        "created_by": campaign.created_by,
        "launched_at": _when(campaign.launched_at),
        "completed_at": _when(campaign.completed_at),
        "version": campaign.version,
        "created_at": iso(campaign.created_at),
        "stats": await campaign_service.campaign_stats(session, campaign.id),
    }


@router.post(
    "/campaigns", status_code=201, response_model=CampaignOut, responses=OPENAPI_PROBLEMS, summary="Draft a campaign"
)
async def create_campaign(
    body: CampaignCreate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict[str, Any]:
        campaign = await campaign_service.create_campaign(
            session,
            principal,
            name=body.name,
            segment_id=body.segment_id,
            channel=body.channel,
            message=body.message.model_dump(exclude_none=True),
            offer=body.offer.model_dump(exclude_none=True) if body.offer else None,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            now=now,
        )
        return await campaign_answer(session, campaign)

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda state: {"Location": f"{API}/campaigns/{state['id']}"},
        flush=lambda: flush_or_conflict(session, "campaign"),
    )


@router.get(
    "/campaigns", response_model=Page[CampaignOut], responses=OPENAPI_PROBLEMS, summary="Campaigns, newest first"
)
async def list_campaigns(
    principal: CurrentPrincipal, session: ReadSession, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
):
    rows = await campaign_service.list_campaigns(session, principal, limit=limit)
    return {"items": [await campaign_answer(session, row) for row in rows], "next_cursor": None}


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    responses=OPENAPI_PROBLEMS,
    summary="A campaign and its figures",
)
async def get_campaign(campaign_id: str, principal: CurrentPrincipal, session: ReadSession):
    return await campaign_answer(session, await campaign_service.get_campaign(session, principal, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/launch",
    response_model=CampaignOut,
    responses=OPENAPI_PROBLEMS,
    summary="Launch: every member now gets the message once (a retry changes nothing)",
)
async def launch_campaign(campaign_id: str, principal: CurrentPrincipal, session: Session, now: Now):
    campaign = await campaign_service.launch(session, principal, campaign_id, now)
    return await campaign_answer(session, campaign)


@router.get(
    "/campaigns/{campaign_id}/deliveries",
    response_model=Page[DeliveryOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="Each recipient's state (the ones you may see)",
)
async def list_deliveries(
    campaign_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    rows, next_cursor = await campaign_service.list_deliveries(
        session, principal, campaign_id, limit=limit, cursor=cursor
    )
    return {"items": [campaign_service.delivery_state(row) for row in rows], "next_cursor": next_cursor}


@router.post(
    "/campaigns/{campaign_id}/responses",
    response_model=DeliveryOut,
    responses=OPENAPI_PROBLEMS,
    summary="Record a customer's response (an agent, a reply); the first one counts",
)
async def record_response(
    campaign_id: str, body: ResponseCreate, principal: CurrentPrincipal, session: Session, now: Now
):
    delivery = await campaign_service.record_response(session, principal, campaign_id, body.customer_id, now)
    return campaign_service.delivery_state(delivery)
