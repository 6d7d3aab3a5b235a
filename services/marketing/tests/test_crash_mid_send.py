"""Once-only delivery across a crash: the service runs as its own process sending a campaign
through the real SMPP sink; it is killed (SIGKILL) once the sink has seen some messages, started
again, and the sink then holds at most one message per customer, exactly one for every delivery
marked sent, and nothing is left unsettled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio

from crm_marketing.services import campaign_service, segment_service
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
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
    now = datetime.now(UTC)
    async with db.unit_of_work() as session:
        segment = await segment_service.register_segment(
            session, MARKETER, name="crash", criteria={"branch_codes": ["CRS-01"]}, now=now
        )
        campaign = await campaign_service.create_campaign(
            session,
            MARKETER,
            name="crash",
            segment_id=segment.id,
            channel="sms",
            message={"ru": "Предложение"},
            offer=None,
            starts_at=None,
            ends_at=None,
            now=now,
        )
        await campaign_service.launch(session, MARKETER, campaign.id, now)
        campaign_id = campaign.id
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

    messages = at_sink()
    per_phone: dict[str, int] = {}
    for item in messages:
        per_phone[item["to"]] = per_phone.get(item["to"], 0) + 1
    assert max(per_phone.values()) == 1, "a customer got the message twice"
    assert stats["sent"] <= len(messages) <= stats["sent"] + stats["failed"]
    assert stats["sent"] + stats["failed"] == len(people)


async def _now(value):
    return value
