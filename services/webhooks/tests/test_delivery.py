"""Webhook delivery end to end: events published on the real broker, fanned out by the consumer,
delivered by the dispatcher to a real HTTP listener started here; signature verified, retried
after the listener fails twice, parked after max_attempts, redriven; one record's events in order
and once; a subscriber that hangs does not hold up another."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import orjson
import pytest
import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm_contracts import events as contracts
from crm_shared.envelope import CloudEvent
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, publish_events
from crm_webhooks.config import WebhooksSettings
from crm_webhooks.domain.deliveries import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.integration

EVENT_TYPE = "crm.gateway.branch.opened"
TOPIC = contracts.topic_of(EVENT_TYPE)
ADMIN = auth_headers(PRINCIPALS["admin"])


@dataclass
class Listener:
    """A subscriber's endpoint: records every request per path; ``fail[path]`` answers 500 that
    many more times; a path in ``hold`` waits until its event is set."""

    base: str = ""
    received: dict[str, list[tuple[dict, bytes]]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)

    async def endpoint(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        self.received.setdefault(path, []).append((dict(request.headers), body))
        if path in self.hold:
            await self.hold[path].wait()
        if self.fail.get(path, 0) > 0:
            self.fail[path] -= 1
            return Response(status_code=500)
        self.answered[path] = self.answered.get(path, 0) + 1
        return Response(status_code=204)

    def ids(self, path: str, status_ok_only: bool = False) -> list[str]:
        return [orjson.loads(body)["id"] for _, body in self.received.get(path, [])]


@pytest_asyncio.fixture(scope="module")
async def listener():
    state = Listener()
    app = Starlette(routes=[Route("/{path:path}", state.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), message="listener started")
    port = server.servers[0].sockets[0].getsockname()[1]
    state.base = f"http://127.0.0.1:{port}"
    yield state
    for held in state.hold.values():
        held.set()
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
def settings(database_url, kafka_bootstrap) -> WebhooksSettings:
    return WebhooksSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        relay_enabled=False,
        consumers_enabled=True,
        grpc_enabled=False,
        max_attempts=3,
        retry_base_s=0.05,
        retry_max_s=0.2,
        dispatch_interval_s=0.05,
        delivery_timeout_s=120,
        log_json=False,
        log_level="WARNING",
    )


def branch_opened(code: str, event_id: str | None = None) -> CloudEvent:
    data = {
        "code": code,
        "region_code": "KZ-75",
        "city": "Almaty",
        "name_kk": "Филиал",
        "name_ru": "Филиал",
        "name_en": "Branch",
        "active": True,
    }
    contracts.validate(EVENT_TYPE, data)
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/crm/gateway",
        type=EVENT_TYPE,
        subject=code,
        data=data,
        region="KZ-75",
        branch=code,
    )


async def subscribe(client, url: str) -> dict:
    created = await client.post("/api/v1/webhooks", headers=ADMIN, json={"url": url, "event_types": [EVENT_TYPE]})
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    return created.json()


async def status_of(client, subscription: dict) -> dict:
    got = await client.get(f"/api/v1/webhooks/{subscription['id']}", headers=ADMIN)
    assert got.status_code == 200 and got.json()["secret"] is None
    return got.json()["status"]


async def test_signed_retried_parked_and_redriven(client, listener, settings):
    flaky = await subscribe(client, f"{listener.base}/flaky")
    dead = await subscribe(client, f"{listener.base}/dead")
    listener.fail["/flaky"] = 2
    listener.fail["/dead"] = 1_000_000
    first = branch_opened("ALA-91")
    await publish_events(settings, TOPIC, [first])

    # the flaky listener failed twice, then took it; the signature is the subscription's
    await eventually(lambda: asyncio.sleep(0, listener.answered.get("/flaky") == 1), message="flaky delivered")
    assert listener.ids("/flaky") == [first.id] * 3
    headers, body = listener.received["/flaky"][-1]
    assert verify(flaky["secret"], headers[SIGNATURE_HEADER.lower()], body, int(time.time()), 300)
    assert not verify(dead["secret"], headers[SIGNATURE_HEADER.lower()], body, int(time.time()), 300)
    envelope = orjson.loads(body)
    assert envelope["specversion"] == "1.0" and envelope["type"] == EVENT_TYPE and envelope["data"]["code"] == "ALA-91"
    assert headers["content-type"] == "application/cloudevents+json"

    async def recorded():
        status = await status_of(client, flaky)
        return status if status["delivered"] == 1 else None

    status = await eventually(recorded, message="success recorded")
    assert status["delivered"] == 1 and status["failures"] == 2 and status["last_success_at"] and status["backlog"] == 0

    # the dead one is parked after max_attempts (3), and redriven once it answers again
    async def parked():
        return (await status_of(client, dead))["parked"] == 1

    await eventually(parked, message="parked")
    assert len(listener.received["/dead"]) == settings.max_attempts
    parked_list = await client.get(f"/api/v1/webhooks/{dead['id']}/deliveries?state=parked", headers=ADMIN)
    assert [d["event_id"] for d in parked_list.json()] == [first.id] and parked_list.json()[0]["attempts"] == 3
    listener.fail["/dead"] = 0
    redriven = await client.post(f"/api/v1/webhooks/{dead['id']}/redrive", headers=ADMIN)
    assert redriven.status_code == 200 and redriven.json() == {"redriven": 1}
    await eventually(lambda: asyncio.sleep(0, listener.answered.get("/dead") == 1), message="redriven")

    async def emptied():
        status = await status_of(client, dead)
        return status["parked"] == 0 and status["delivered"] == 1

    await eventually(emptied, message="redrive recorded")

    # one record's events in their order, and an event published twice delivered once
    more = [branch_opened("ALA-92") for _ in range(3)]
    await publish_events(settings, TOPIC, [first, *more])
    await eventually(lambda: asyncio.sleep(0, listener.answered.get("/flaky") == 4), message="in order")
    assert listener.ids("/flaky")[3:] == [e.id for e in more]


async def test_a_hanging_subscriber_does_not_delay_another(client, listener, settings):
    listener.hold["/hanging"] = asyncio.Event()
    await subscribe(client, f"{listener.base}/hanging")
    await subscribe(client, f"{listener.base}/healthy")
    event = branch_opened("ALA-93")
    await publish_events(settings, TOPIC, [event])
    await eventually(lambda: asyncio.sleep(0, event.id in listener.ids("/healthy")), message="healthy delivered")
    # the hanging endpoint has the request (now or soon) and has not answered it
    await eventually(lambda: asyncio.sleep(0, event.id in listener.ids("/hanging")), message="hanging reached")
    assert "/hanging" not in listener.answered
    listener.hold["/hanging"].set()
    await eventually(lambda: asyncio.sleep(0, listener.answered.get("/hanging") == 1), message="released")


async def test_tmf_hub_listener_gets_the_tmf_notification(client, listener, settings):
    hub = await client.post(
        "/tmf-api/troubleTicket/v4/hub",
        headers=ADMIN,
        json={"callback": f"{listener.base}/oss", "query": "eventType=TroubleTicketCreateEvent"},
    )
    assert hub.status_code == 201, hub.text
    assert hub.json()["query"] == "eventType=TroubleTicketCreateEvent" and hub.headers["location"].endswith(
        hub.json()["id"]
    )
    got = await client.get(f"/tmf-api/troubleTicket/v4/hub/{hub.json()['id']}", headers=ADMIN)
    assert got.status_code == 200 and got.json()["secret"] is None
    gone = await client.delete(f"/tmf-api/troubleTicket/v4/hub/{hub.json()['id']}", headers=ADMIN)
    assert gone.status_code == 204
    again = await client.get(f"/tmf-api/troubleTicket/v4/hub/{hub.json()['id']}", headers=ADMIN)
    assert again.status_code == 404
