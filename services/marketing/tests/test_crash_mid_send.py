"""Once-only delivery across a crash: the service runs as its own process sending a campaign
through the real SMPP sink; it is killed (SIGKILL) once the sink has seen some messages, started
again, and the sink then holds exactly one message per customer and every delivery is sent. A
message the relay took but the process never recorded is sent again with the same reference, and
the relay takes it once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
import pytest_asyncio

from crm_marketing.config import MarketingSettings
from crm_marketing.services import campaign_service, segment_service
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_shared.outbound import Outbound
from crm_shared.outbound.sinks import read_outbox, serve
from crm_shared.testing import eventually

from .conftest import MIGRATIONS
from .helpers import MARKETER, announce, customer_state, free_port

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def setup(make_database, tmp_path):
    url = await make_database("marketing_crash")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    outbox = tmp_path / "outbox.jsonl"
    smtp_port, smpp_port = free_port(), free_port()
    sinks = asyncio.create_task(serve("127.0.0.1", smtp_port, smpp_port, outbox))
    yield url, db, outbox, smpp_port
    sinks.cancel()
    await asyncio.gather(sinks, return_exceptions=True)
    await db.dispose()


async def _launched_sms_campaign(db: Database, branch_code: str) -> str:
    """An SMS campaign to the customers of the branch, launched (a delivery row each)."""
    now = datetime.now(UTC)
    async with db.unit_of_work() as session:
        segment = await segment_service.register_segment(
            session, MARKETER, name=branch_code, criteria={"branch_codes": [branch_code]}, now=now
        )
        campaign = await campaign_service.create_campaign(
            session,
            MARKETER,
            name=branch_code,
            segment_id=segment.id,
            channel="sms",
            message={"ru": "Предложение"},
            offer=None,
            starts_at=None,
            ends_at=None,
            now=now,
        )
        await campaign_service.launch(session, MARKETER, campaign.id, now)
        return campaign.id


def _start(url: str, smpp_port: int, http_port: int) -> subprocess.Popen:
    env = os.environ | {
        "CRM_MARKETING_DATABASE_URL": url,
        "CRM_MARKETING_RELAY_ENABLED": "false",
        "CRM_MARKETING_CONSUMERS_ENABLED": "false",
        "CRM_MARKETING_GRPC_ENABLED": "false",
        "CRM_MARKETING_SMPP_PORT": str(smpp_port),
        "CRM_MARKETING_SEND_RATE_PER_S": "25",
        "CRM_MARKETING_SEND_BATCH_SIZE": "5",
        "CRM_MARKETING_SENDER_IDLE_S": "0.1",
        "CRM_MARKETING_CLAIM_LEASE_S": "1",
        "CRM_MARKETING_QUIET_FROM": "00:00:00",
        "CRM_MARKETING_QUIET_UNTIL": "00:00:00",
        "CRM_MARKETING_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "uvicorn", "crm_marketing.main:create_app", "--factory", "--port", str(http_port)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_a_crash_mid_send_never_sends_a_message_twice(setup):
    url, db, outbox, smpp_port = setup
    people = [customer_state(branch_code="CRS-01") for _ in range(40)]
    await announce(db, *people)
    campaign_id = await _launched_sms_campaign(db, "CRS-01")
    phones = {p["primary_phone"] for p in people}

    def at_sink() -> list[dict]:
        return [item for item in read_outbox(outbox, limit=10_000) if item["to"] in phones]

    port = free_port()
    first = _start(url, smpp_port, port)
    try:
        await eventually(lambda: _now(len(at_sink()) >= 8), message="some messages at the sink")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = len(at_sink())
    assert killed_at < len(people), "the send finished before the kill; nothing was tested"

    second = _start(url, smpp_port, port)
    try:
        await eventually(lambda: _ready(port), message="the restarted service ready")

        async def settled():
            async with db.reads() as session:
                stats = await campaign_service.campaign_stats(session, campaign_id)
            return stats if stats["pending"] == 0 else None

        stats = await eventually(settled, message="every delivery settled")
    finally:
        second.terminate()
        second.wait(timeout=30)

    per_phone = {phone: 0 for phone in phones}
    for item in at_sink():
        per_phone[item["to"]] += 1
    assert per_phone == {phone: 1 for phone in phones}, "a customer got the message twice or never"
    assert (stats["sent"], stats["failed"]) == (len(people), 0)


async def test_a_message_the_relay_took_but_nobody_recorded_is_resent_and_taken_once(setup):
    """The crash's worst moment made deterministic: the SMSC answered, the process died before
    recording it. After the lease the rows are sent again (same reference), and the SMSC takes
    each message once."""
    url, db, outbox, smpp_port = setup
    people = [customer_state(branch_code="RES-01") for _ in range(3)]
    await announce(db, *people)
    campaign_id = await _launched_sms_campaign(db, "RES-01")
    policy = campaign_service.SendPolicy(
        batch_size=10,
        quiet_from=time(0, 0),
        quiet_until=time(0, 0),
        claim_lease=timedelta(0),
        opt_out_base_url="http://crm.test/opt-out",
        opt_out_secret="secret",
    )
    outbound = Outbound(MarketingSettings(database_url=url, smpp_port=smpp_port))
    try:
        for item in await campaign_service.claim_batch(db, campaign_id, datetime.now(UTC), policy):
            await outbound.send(item.message)  # taken by the SMSC; "the process dies" before recording
        sent = await campaign_service.send_pass(db, outbound.send, lambda: datetime.now(UTC), policy, pace=_no_wait)
    finally:
        await outbound.close()
    assert sent == len(people)
    for person in people:
        assert len(read_outbox(outbox, to=person["primary_phone"])) == 1
    async with db.reads() as session:
        stats = await campaign_service.campaign_stats(session, campaign_id)
    assert (stats["sent"], stats["pending"]) == (len(people), 0)


async def _no_wait() -> None:
    return None


async def _now(value):
    return value
