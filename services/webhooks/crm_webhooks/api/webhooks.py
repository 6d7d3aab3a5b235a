"""The webhook subscriptions API (/api/v1/webhooks): register a callback for the CRM's own event
types, read one with its delivery status, list, remove, see its deliveries and redrive the parked
ones. The signing secret is in the answer to the create only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session, Settings
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..db.models import Subscription
from ..services import subscription_service
from .schemas import DeliveryOut, RedriveOut, WebhookCreate, WebhookOut

API = "/api/v1/webhooks"
router = APIRouter(prefix=API, tags=["webhooks"], responses=OPENAPI_PROBLEMS)


async def webhook_out(session, subscription: Subscription, secret: str | None = None) -> dict[str, Any]:
    status = await subscription_service.status(session, subscription)
    return WebhookOut(
        id=subscription.id,
        url=subscription.callback_url,
        event_types=subscription.event_types,
        description=subscription.description,
        created_at=subscription.created_at,
        status=status,
        secret=secret,
    ).model_dump(mode="json")


@router.post("", status_code=201, response_model=WebhookOut, summary="Register a webhook")
async def create_webhook(
    body: WebhookCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: Settings,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict[str, Any]:
        created = await subscription_service.register(
            session,
            principal,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            allow_private=settings.private_callbacks_allowed,
            now=now,
        )
        return await webhook_out(session, created.subscription, created.secret)

    return await create_once(
        session,
        principal,
        idempotency_key,
        {"webhook": body.model_dump(mode="json")},
        response,
        create=create,
        headers=lambda created: {"Location": f"{API}/{created['id']}"},
        flush=session.flush,
    )


@router.get("", response_model=Page[WebhookOut], summary="The caller's webhooks, newest first")
async def list_webhooks(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
):
    rows, next_cursor = await subscription_service.page(session, principal, limit=limit, cursor=cursor)
    return {"items": [await webhook_out(session, s) for s in rows], "next_cursor": next_cursor}


@router.get("/{subscription_id}", response_model=WebhookOut, summary="One webhook with its delivery status")
async def get_webhook(subscription_id: str, principal: CurrentPrincipal, session: ReadSession):
    return await webhook_out(session, await subscription_service.get(session, principal, subscription_id))


@router.delete("/{subscription_id}", status_code=204, summary="Remove a webhook (its undelivered events too)")
async def delete_webhook(subscription_id: str, principal: CurrentPrincipal, session: Session) -> Response:
    await subscription_service.remove(session, principal, subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut], summary="Recent deliveries")
async def list_deliveries(
    subscription_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    state: Literal["pending", "delivered", "parked"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
):
    rows = await subscription_service.deliveries(session, principal, subscription_id, state=state, limit=limit)
    return [DeliveryOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/{subscription_id}/redrive", response_model=RedriveOut, summary="Send the parked deliveries again")
async def redrive(subscription_id: str, principal: CurrentPrincipal, session: Session, now: Now):
    return {"redriven": await subscription_service.redrive(session, principal, subscription_id, now)}
