"""Campaigns end to end inside the process, through the real protocols: the dev sinks (an SMTP
server and an SMPP 3.4 SMSC on loopback) capture what the sender sends. Each member gets the
message once in their language (a retried launch adds nobody), SMPP receipts mark deliveries
delivered, quiet hours hold SMS back, and a withdrawal of consent during the send stops every
message not yet claimed."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts.events import validate
from crm_marketing.config import MarketingSettings
from crm_marketing.db.models import OptOut
from crm_marketing.events.consumers import apply_order_event
from crm_marketing.main import create_app
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.migrations import upgrade_async
from crm_shared.models import OutboxEvent
from crm_shared.outbound.sinks import read_outbox, send_reply, serve
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
        sales_grpc_target=f"127.0.0.1:{free_port()}",  # no sales here: opt-outs wait to be reported
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
        "opted_out": 0,
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
    assert "Autumn offer" in messages[0]["body"] and "/opt-out/" in messages[0]["body"]


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


async def _settled(client, campaign_id: str) -> dict:
    async def settled():
        stats = await _stats(client, campaign_id)
        return stats if stats["pending"] == 0 else None

    return await eventually(settled, message="the campaign settled")


async def _deliveries(client, campaign_id: str) -> dict[str, dict]:
    page = await client.get(f"{API}/campaigns/{campaign_id}/deliveries", headers=HEADERS["admin"])
    return {item["customer_id"]: item for item in page.json()["items"]}


async def _opt_outs(db, customer_id: str) -> list[OptOut]:
    async with db.reads() as session:
        return list(await session.scalars(select(OptOut).where(OptOut.customer_id == customer_id)))


async def test_the_email_link_opts_out_without_login_and_later_campaigns_count_the_customer_suppressed(
    client, db, sinks
):
    dana, other = customer_state(branch_code="OPT-01", language="kk"), customer_state(branch_code="OPT-01")
    await announce(db, dana, other)
    first = await _campaign(client, "OPT-01", "email")
    await client.post(f"{API}/campaigns/{first['id']}/launch", headers=HEADERS["marketer"])
    mail = await eventually(lambda: _async(_to(sinks["outbox"], dana["email"])), message="the e-mail")
    token = re.search(r"/api/v1/marketing/opt-out/(\S+)", mail[0]["body"]).group(1)

    for _ in range(2):  # no login: the token is the authorisation; a second click changes nothing
        page = await client.get(f"{API}/opt-out/{token}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'lang="kk"' in page.text and "Жазылымнан бас тарттыңыз" in page.text
    delivery_id, _, mac = token.partition(".")
    for forged in (f"{delivery_id}.{mac[:-2]}xx", f"{uuid.uuid4()}.{mac}", "not-a-token"):
        assert (await client.get(f"{API}/opt-out/{forged}")).status_code == 404
    assert (await _stats(client, first["id"]))["opted_out"] == 1
    assert (await _deliveries(client, first["id"]))[dana["id"]]["opted_out_at"]
    [opt_out] = await _opt_outs(db, dana["id"])
    assert opt_out.channel == "email_link" and opt_out.forwarded_at is None  # sales is not reachable here

    # before sales has recorded it, a later campaign already holds the customer back ...
    second = await _campaign(client, "OPT-01", "email")
    await client.post(f"{API}/campaigns/{second['id']}/launch", headers=HEADERS["marketer"])
    stats = await _settled(client, second["id"])
    assert (stats["targeted"], stats["sent"], stats["suppressed"]) == (2, 1, 1)
    assert (await _deliveries(client, second["id"]))[dana["id"]]["reason"] == "opted out"
    # ... and once sales announces the withdrawal, she is in no segment but still counted suppressed
    await announce(db, dana | {"marketing_consent": False, "version": 2}, action="updated")
    third = await _campaign(client, "OPT-01", "email")
    members = await client.get(f"{API}/segments/{third['segment_id']}/members", headers=HEADERS["marketer"])
    assert [m["customer_id"] for m in members.json()["items"]] == [other["id"]]
    await client.post(f"{API}/campaigns/{third['id']}/launch", headers=HEADERS["marketer"])
    stats = await _settled(client, third["id"])
    assert (stats["targeted"], stats["sent"], stats["suppressed"]) == (2, 1, 1)
    assert (await _deliveries(client, third["id"]))[dana["id"]]["reason"] == "opted out"
    assert len(_to(sinks["outbox"], dana["email"])) == 1 and len(_to(sinks["outbox"], other["email"])) == 3


async def test_an_sms_reply_stop_through_the_smsc_opts_the_customer_out(client, db, sinks):
    stopper, chatter = customer_state(branch_code="STP-01"), customer_state(branch_code="STP-01")
    await announce(db, stopper, chatter)
    campaign = await _campaign(client, "STP-01", "sms")
    await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])
    await _settled(client, campaign["id"])
    # the customers' phones answer through the SMSC (a mobile-originated deliver_sm to the service)
    await asyncio.to_thread(send_reply, "127.0.0.1", sinks["smpp_port"], chatter["primary_phone"], "Рахмет!")
    await asyncio.to_thread(send_reply, "127.0.0.1", sinks["smpp_port"], stopper["primary_phone"], " stop ")

    async def opted_out():
        return (await _stats(client, campaign["id"]))["opted_out"] == 1

    await eventually(opted_out, message="the reply STOP recorded")
    deliveries = await _deliveries(client, campaign["id"])
    assert deliveries[stopper["id"]]["opted_out_at"] and not deliveries[chatter["id"]]["opted_out_at"]
    assert [o.channel for o in await _opt_outs(db, stopper["id"])] == ["sms_stop"]
    assert await _opt_outs(db, chatter["id"]) == []


async def test_a_campaigns_facts_go_out_through_the_outbox_as_the_catalogue_describes(client, db, sinks):
    buyer, leaver = customer_state(branch_code="EVT-01"), customer_state(branch_code="EVT-01")
    await announce(db, buyer, leaver)
    campaign = await _campaign(client, "EVT-01", "email", offer={"offering_id": "tv-plus", "discount_percent": 10})
    await client.post(f"{API}/campaigns/{campaign['id']}/launch", headers=HEADERS["marketer"])
    await _settled(client, campaign["id"])
    async with db.unit_of_work() as session:
        await apply_order_event(session, order(buyer, "tv-plus"))
    await client.post(
        f"{API}/campaigns/{campaign['id']}/responses", json={"customer_id": buyer["id"]}, headers=HEADERS["admin"]
    )
    token = re.search(r"/opt-out/(\S+)", _to(sinks["outbox"], leaver["email"])[0]["body"]).group(1)
    assert (await client.get(f"{API}/opt-out/{token}")).status_code == 200

    async def published():
        async with db.reads() as session:
            events = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.key == campaign["id"])))
        return events if {e.type.rsplit(".", 1)[1] for e in events} >= set(FACTS) else None

    events = await eventually(published, message="every fact of the campaign in the outbox")
    for event in events:
        assert event.topic == "crm.marketing.campaign.v1"
        validate(event.type, event.data)
    facts = {e.type.rsplit(".", 1)[1]: e.data for e in events}
    assert facts["launched"]["targeted"] == 2 and facts["launched"]["offering_id"] == "tv-plus"
    assert facts["completed"]["stats"]["sent"] == 2
    assert facts["conversion_attributed"]["customer_id"] == buyer["id"]
    assert facts["response_recorded"]["customer_id"] == buyer["id"]
    assert facts["opted_out"]["customer_id"] == leaver["id"]


FACTS = ("launched", "completed", "response_recorded", "conversion_attributed", "opted_out")
