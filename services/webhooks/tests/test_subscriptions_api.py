"""The subscriptions API as a production installation answers it: callback URLs on loopback,
private or link-local addresses refused (server-side request forgery); who may subscribe to what
(API-key scopes), who sees which subscription, the secret shown once, TMF hub queries checked."""

from __future__ import annotations

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers
from crm_webhooks.config import WebhooksSettings

pytestmark = pytest.mark.integration

PUBLIC = "http://93.184.216.34/hooks/crm"  # an address on the public internet (never called here)
BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "webhooks:write"))
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("tickets:read", "webhooks:write", "webhooks:read"))


@pytest.fixture(scope="module")
def settings(database_url) -> WebhooksSettings:
    return WebhooksSettings(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        allow_private_callbacks=False,
        log_json=False,
        log_level="WARNING",
    )


def as_(who) -> dict[str, str]:
    return auth_headers(PRINCIPALS[who] if isinstance(who, str) else who)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
    ],
)
async def test_private_and_odd_callbacks_are_refused(client, url):
    refused = await client.post(
        "/api/v1/webhooks", headers=as_("admin"), json={"url": url, "event_types": ["crm.tickets.ticket.created"]}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "url"
    hub = await client.post("/tmf-api/troubleTicket/v4/hub", headers=as_(OSS), json={"callback": url})
    assert hub.status_code == 422 and hub.json()["errors"][0]["field"] == "callback"


async def test_scopes_visibility_and_the_secret_once(client):
    created = await client.post(
        "/api/v1/webhooks",
        headers=as_(BILLING) | {"Idempotency-Key": "billing-hook-1"},
        json={"url": PUBLIC, "event_types": ["crm.orders.billing.invoice_issued", "crm.orders.order.completed"]},
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["status"]["backlog"] == 0
    replayed = await client.post(
        "/api/v1/webhooks",
        headers=as_(BILLING) | {"Idempotency-Key": "billing-hook-1"},
        json={"url": PUBLIC, "event_types": ["crm.orders.billing.invoice_issued", "crm.orders.order.completed"]},
    )
    assert replayed.json()["id"] == hook["id"]
    # events of a service whose read scope the key lacks
    no_scope = await client.post(
        "/api/v1/webhooks", headers=as_(BILLING), json={"url": PUBLIC, "event_types": ["crm.tickets.ticket.created"]}
    )
    assert no_scope.status_code == 403
    unknown = await client.post(
        "/api/v1/webhooks", headers=as_(BILLING), json={"url": PUBLIC, "event_types": ["crm.orders.nothing"]}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event_types[0]"
    staff = await client.post(
        "/api/v1/webhooks",
        headers=as_("branch_agent"),
        json={"url": PUBLIC, "event_types": ["crm.orders.order.completed"]},
    )
    assert staff.status_code == 403
    # seen by its owner and administrators only; the secret never again
    for who, status in ((BILLING, 200), ("admin", 200), (OSS, 404)):
        got = await client.get(f"/api/v1/webhooks/{hook['id']}", headers=as_(who))
        assert got.status_code == status, (who, got.text)
        if status == 200:
            assert got.json()["secret"] is None
    listed = await client.get("/api/v1/webhooks", headers=as_(BILLING))
    assert [h["id"] for h in listed.json()["items"]] == [hook["id"]] and listed.json()["next_cursor"] is None
    assert (await client.get("/api/v1/webhooks", headers=as_(OSS))).json()["items"] == []
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=as_(OSS))).status_code == 404
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=as_(BILLING))).status_code == 204
    assert (await client.get("/api/v1/webhooks", headers=as_(BILLING))).json()["items"] == []
    assert (await client.get("/api/v1/webhooks")).status_code == 401


async def test_hub_queries(client):
    base = "/tmf-api/troubleTicket/v4/hub"
    for query in (
        "eventType=TroubleTicketCreateEvent",
        "eventType=troubleticketcreateevent,TroubleTicketStateChangeEvent",
        None,
    ):
        created = await client.post(base, headers=as_(OSS), json={"callback": PUBLIC, "query": query})
        assert created.status_code == 201, created.text
    bad = await client.post(base, headers=as_(OSS), json={"callback": PUBLIC, "query": "eventType=TicketExploded"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query"
    other = await client.post(base, headers=as_(OSS), json={"callback": PUBLIC, "query": "status=resolved"})
    assert other.status_code == 422
    # an OSS key without orders:read listens to no order events
    orders = await client.post("/tmf-api/productOrderingManagement/v4/hub", headers=as_(OSS), json={"callback": PUBLIC})
    assert orders.status_code == 403
