"""Campaigns end to end inside the process, through the real protocols: the dev sinks (an SMTP
server and an SMPP 3.4 SMSC on loopback) capture what the sender sends. Each member gets the
message once in their language (a retried launch adds nobody), SMPP receipts mark deliveries
delivered, quiet hours hold SMS back, and a withdrawal of consent during the send stops every
message not yet claimed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_marketing.config import MarketingSettings
from crm_marketing.events.consumers import apply_order_event
from crm_marketing.main import create_app
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.migrations import upgrade_async
from crm_shared.outbound.sinks import read_outbox, serve
from crm_shared.testing import eventually

from .conftest import MIGRATIONS
from .helpers import HEADERS, announce, customer_state, free_port

pytestmark = pytest.mark.integration
API = "/api/v1/marketing"


@pytest_asyncio.fixture(scope="module")
async def sinks(tmp_path_factory):
    outbox = tmp_path_factory.mktemp("outbox") / "dev-outbox.jsonl"
    smtp_port, smpp_port = free_port(), free_port()
    task = asyncio.create_task(serve("127.0.0.1", smtp_port, smpp_port, outbox))
    await eventually(lambda: _listening(smtp_port), message="sinks listening")
    yield {"smtp_port": smtp_port, "smpp_port": smpp_port, "outbox": outbox}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def _settings(database_url: str, sinks: dict, **overrides) -> MarketingSettings:
    values = dict(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        log_json=False,
        log_level="WARNING",
        smtp_port=sinks["smtp_port"],
        smpp_port=sinks["smpp_port"],
        send_rate_per_s=500.0,
        sender_idle_s=0.05,
        quiet_from=time(0, 0),
        quiet_until=time(0, 0),  # no night in these tests unless one asks for it
    )
    return MarketingSettings(**(values | overrides))


@pytest_asyncio.fixture(scope="module")
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest_asyncio.fixture(scope="module")
async def client(database_url, sinks):
    app = create_app(_settings(database_url, sinks))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://marketing") as http:
            yield http


async def _campaign(client, branch: str, channel: str, **extra) -> dict:
    segment = await client.post(
        f"{API}/segments",
        json={"name": f"branch {branch}", "criteria": {"branch_codes": [branch]}},
        headers=HEADERS["marketer"],
    )
    assert segment.status_code == 201, segment.text
    body = {
        "name": f"Autumn offer {branch}",
        "segment_id": segment.json()["id"],
        "channel": channel,
        "message": {"kk": "Күзгі ұсыныс", "ru": "Осеннее предложение", "en": "Autumn offer"},
    } | extra
    created = await client.post(f"{API}/campaigns", json=body, headers=HEADERS["marketer"])
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    return created.json()


def _to(outbox: Path, address: str) -> list[dict]:
    return read_outbox(outbox, to=address)


async def _stats(client, campaign_id: str) -> dict:
    return (await client.get(f"{API}/campaigns/{campaign_id}", headers=HEADERS["marketer"])).json()["stats"]


async def test_sms_reach_every_member_once_in_their_language_and_receipts_mark_them_delivered(client, db, sinks):
    people = [customer_state(branch_code="SMS-01", language=lang) for lang in ("kk", "ru", "en", "kk")]
    no_phone = customer_state(branch_code="SMS-01", primary_phone=None)
    await announce(db, *people, no_phone)
    campaign = await _campaign(client, "SMS-01", "sms")
    for _ in range(2):  # a retried launch adds nobody
        launched = await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])
        assert launched.status_code == 200, launched.text
        assert launched.json()["status"] in ("running", "completed")

    async def done():
        stats = await _stats(client, campaign["id"])
        return stats if stats["delivered"] == len(people) else None

    stats = await eventually(done, message="every SMS delivered")
    assert stats | {"pending": 0} == {
        "targeted": 5,
        "sent": 4,
        "delivered": 4,
        "failed": 0,
        "suppressed": 1,
        "pending": 0,
        "responded": 0,
        "converted": 0,
    }
    expected = {"kk": "Күзгі ұсыныс", "ru": "Осеннее предложение", "en": "Autumn offer"}
    for person in people:
        messages = _to(sinks["outbox"], person["primary_phone"])
        assert len(messages) == 1
        assert messages[0]["channel"] == "sms"
        assert messages[0]["body"].startswith(expected[person["language"]])
    page = (await client.get(f"{API}/campaigns/{campaign['id']}/deliveries", headers=HEADERS["admin"])).json()
    states = {item["customer_id"]: item["state"] for item in page["items"]}
    assert states[no_phone["id"]] == "suppressed"

    async def completed():
        answer = await client.get(f"{API}/campaigns/{campaign['id']}", headers=HEADERS["marketer"])
        return answer.json()["status"] == "completed"

    await eventually(completed, message="the campaign completed")


async def test_email_carries_the_opt_out_link(client, db, sinks):
    person = customer_state(branch_code="EML-01", language="en")
    await announce(db, person)
    campaign = await _campaign(client, "EML-01", "email")
    await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["admin"])
    messages = await eventually(lambda: _async(_to(sinks["outbox"], person["email"])), message="the e-mail")
    assert len(messages) == 1
    assert messages[0]["subject"] == campaign["name"]
    assert "Autumn offer" in messages[0]["body"] and "opt-out" in messages[0]["body"]


async def _async(value):
    return value


@pytest.mark.parametrize("who", ["branch_agent", "call_center_agent", "hq_analyst", "regional_manager"])
async def test_only_marketers_and_admins_launch(client, db, who):
    campaign = await _campaign(client, "NOP-01", "sms")
    answer = await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS[who])
    assert answer.status_code == 403


async def test_a_campaign_on_an_unknown_segment_is_a_422_naming_it(client):
    body = {"name": "x", "segment_id": "nope", "channel": "sms", "message": {"ru": "x"}}
    answer = await client.post(f"{API}/campaigns", json=body, headers=HEADERS["marketer"])
    assert answer.status_code == 422 and "segment_id" in answer.text


@pytest_asyncio.fixture
async def own_database(make_database):
    """A database of the test's own: no other sender of this module claims its campaigns."""
    url = await make_database("marketing_own")
    await upgrade_async(MIGRATIONS, url)
    database = Database(url)
    yield url, database
    await database.dispose()


async def test_quiet_hours_hold_sms_back(own_database, sinks):
    """With the night covering every hour, nothing goes out; the rows wait."""
    database_url, db = own_database
    person = customer_state(branch_code="QUI-01")
    await announce(db, person)
    night = _settings(database_url, sinks, quiet_from=time(0, 0), quiet_until=time(23, 59, 59))
    app = create_app(night)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://marketing") as http:
            campaign = await _campaign(http, "QUI-01", "sms")
            await http.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])
            sender = next(w for w in app.state.runtime.workers if getattr(w, "name", "") == "campaign-sender")
            passes = sender.passes
            await eventually(lambda: _async(sender.passes >= passes + 2), message="two sender passes")
            stats = await _stats(http, campaign["id"])
    assert stats["pending"] == 1 and stats["sent"] == 0
    assert _to(sinks["outbox"], person["primary_phone"]) == []


async def test_consent_withdrawn_during_a_send_stops_every_message_not_yet_claimed(own_database, sinks):
    database_url, db = own_database
    people = [customer_state(branch_code="WDR-01") for _ in range(12)]
    await announce(db, *people)
    slow = _settings(database_url, sinks, send_rate_per_s=8.0, send_batch_size=1)
    app = create_app(slow)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://marketing") as http:
            campaign = await _campaign(http, "WDR-01", "sms")
            await http.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])
            phones = {p["primary_phone"] for p in people}
            await eventually(
                lambda: _async(any(_to(sinks["outbox"], phone) for phone in phones)), message="the first SMS"
            )
            # everybody withdraws while the campaign is being sent
            await announce(db, *[p | {"marketing_consent": False, "version": 2} for p in people], action="updated")

            async def settled():
                stats = await _stats(http, campaign["id"])
                return stats if stats["pending"] == 0 else None

            stats = await eventually(settled, message="the campaign settled")
            deliveries = (
                await http.get(f"{API}/campaigns/{campaign['id']}/deliveries", headers=HEADERS["admin"])
            ).json()
    by_customer = {item["customer_id"]: item for item in deliveries["items"]}
    for person in people:
        got = _to(sinks["outbox"], person["primary_phone"])
        state = by_customer[person["id"]]["state"]
        if state == "suppressed":
            assert got == [], "a customer whose row was suppressed got a message"
        else:
            assert state in ("sent", "delivered") and len(got) == 1
    assert stats["suppressed"] >= 1
    assert stats["sent"] + stats["suppressed"] == len(people)


async def test_responses_and_conversions_are_attributed_to_the_campaign(client, db, sinks):
    buyer, responder, other = (customer_state(branch_code="CNV-01") for _ in range(3))
    await announce(db, buyer, responder, other)
    campaign = await _campaign(client, "CNV-01", "sms", offer={"offering_id": "fibre-300", "discount_percent": 20})
    await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])

    async def all_sent():
        return (await _stats(client, campaign["id"]))["sent"] == 3

    await eventually(all_sent, message="the campaign sent")

    def order(customer: dict, offering: str) -> CloudEvent:
        now = datetime.now(UTC).isoformat()
        return CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/orders",
            type="crm.orders.order.completed",
            subject=customer["id"],
            data={
                "id": str(uuid.uuid4()),
                "customer_id": customer["id"],
                "items": [{"action": "add", "offering_id": offering}],
                "completed_at": now,
                "updated_at": now,
            },
        )

    for event in (order(buyer, "fibre-300"), order(other, "iptv-max")):
        async with db.unit_of_work() as session:
            await apply_order_event(session, event)
    answer = await client.post(
        f"{API}/campaigns/{campaign['id']}/responses",
        json={"customer_id": responder["id"]},
        headers=HEADERS["call_center_agent"],
    )
    assert answer.status_code == 200 and answer.json()["responded_at"]
    stranger = await client.post(
        f"{API}/campaigns/{campaign['id']}/responses", json={"customer_id": "nobody"}, headers=HEADERS["admin"]
    )
    assert stranger.status_code == 422 and "customer_id" in stranger.text
    stats = await _stats(client, campaign["id"])
    assert (stats["converted"], stats["responded"]) == (1, 1)
    page = (await client.get(f"{API}/campaigns/{campaign['id']}/deliveries", headers=HEADERS["admin"])).json()
    converted = [item for item in page["items"] if item["converted_at"]]
    assert [item["customer_id"] for item in converted] == [buyer["id"]]
