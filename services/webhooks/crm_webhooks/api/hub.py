"""TM Forum hubs (TMF630 event subscription) under each facade's prefix, e.g.
POST /tmf-api/troubleTicket/v4/hub {"callback", "query": "eventType=TroubleTicketCreateEvent"};
GET and DELETE /tmf-api/<api>/v4/hub/{id}. The gateway routes these paths here (the registry's
public prefixes); deliveries are the same as the webhooks' (signed CloudEvents)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session, Settings
from crm_shared.errors import OPENAPI_PROBLEMS

from ..db.models import Subscription
from ..domain.deliveries import TMF_EVENTS
from ..services import subscription_service
from .schemas import HubCreate, HubOut

HUB_APIS = tuple(TMF_EVENTS)
router = APIRouter(tags=["TM Forum hub"], responses=OPENAPI_PROBLEMS)


def hub_out(subscription: Subscription, secret: str | None = None) -> dict[str, Any]:
    return HubOut(
        id=subscription.id, callback=subscription.callback_url, query=subscription.tmf_query, secret=secret
    ).model_dump(mode="json")


def _routes(api: str) -> None:
    base = f"/tmf-api/{api}/v4/hub"

    @router.post(base, status_code=201, response_model=HubOut, summary=f"Listen to {api} events")
    async def register(
        body: HubCreate, principal: CurrentPrincipal, session: Session, settings: Settings, now: Now, response: Response
    ):
        created = await subscription_service.register(
            session,
            principal,
            url=body.callback,
            event_types=[],
            description=None,
            allow_private=settings.private_callbacks_allowed,
            now=now,
            api=api,
            query=body.query,
            url_field="callback",
        )
        response.headers["Location"] = f"{base}/{created.subscription.id}"
        return hub_out(created.subscription, created.secret)

    @router.get(f"{base}/{{hub_id}}", response_model=HubOut, summary=f"One {api} listener")
    async def get_one(hub_id: str, principal: CurrentPrincipal, session: ReadSession):
        return hub_out(await subscription_service.get(session, principal, hub_id, api))

    @router.delete(f"{base}/{{hub_id}}", status_code=204, summary=f"Stop a {api} listener")
    async def unregister(hub_id: str, principal: CurrentPrincipal, session: Session) -> Response:
        await subscription_service.remove(session, principal, hub_id, api)
        return Response(status_code=204)

    register.__name__ = f"register_{api}_hub"
    get_one.__name__ = f"get_{api}_hub"
    unregister.__name__ = f"unregister_{api}_hub"


for _api in HUB_APIS:
    _routes(_api)
