"""Marketing benchmark, on PostgreSQL: a campaign sent through the local SMPP sink (a real SMPP 3.4
server in its own process), and segment evaluation over a big customer projection.

- campaign: ``--send-members`` customers (all with consent) in a fresh database; a segment of all
  of them; launch (one delivery row each), then the sender's pass (claim, then submit_sm and
  record each message) with
  no throttle, to the dev SMPP sink started as `crm up` starts it. Wall time, messages per
  second and this process's CPU per message (the sender's side: database and SMPP client),
  against the same number of bare submit_sm through the same SMPP channel with no database;
- segment: ``--segment-customers`` customers in the projection (80% with consent); the size of a
  segment (region, kind and languages) vs a bare ``SELECT count(*)`` of the table.

    .venv/bin/python -m bench.bench_marketing                 # 1,000 messages, 100,000 customers
    .venv/bin/python -m bench.bench_marketing --big           # 100,000 messages, 1,000,000 customers
    .venv/bin/python -m bench.bench_marketing --send-members 0 --segment-customers 1000000  # one part
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import text

from crm_marketing.seed import seed_bulk_customers
from crm_marketing.services import campaign_service, segment_service
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_shared.outbound import Outbound, OutboundMessage, OutboundSettings

from .common import SummaryRow, run_from_command_line, temporary_databases

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "marketing" / "migrations"
MARKETER = Principal("bench-marketer", "marketer", Role.MARKETER)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--send-members", type=int, default=1000, help="campaign size (default 1000)")
    parser.add_argument("--segment-customers", type=int, default=100_000, help="projection size (default 100000)")
    parser.add_argument("--big", action="store_true", help="100,000 messages and 1,000,000 customers")


def options_from(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "big", False):
        args.send_members, args.segment_customers = 100_000, 1_000_000
    return args


async def _ready(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the SMPP sink did not start")


async def bench_campaign(url: str, members: int, outbox_dir: Path) -> list[SummaryRow]:
    db = Database(url)
    smpp_port, smtp_port = free_port(), free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm_shared.outbound.sinks",
            "--smtp-port",
            str(smtp_port),
            "--smpp-port",
            str(smpp_port),
            "--outbox",
            str(outbox_dir / "outbox.jsonl"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _ready(smpp_port)
        await seed_bulk_customers(db, members, consent_share=1.0)
        now = datetime.now(UTC)
        async with db.unit_of_work() as session:
            segment = await segment_service.register_segment(session, MARKETER, name="bench", criteria={}, now=now)
            campaign = await campaign_service.create_campaign(
                session,
                MARKETER,
                name="bench",
                segment_id=segment.id,
                channel="sms",
                message={"ru": "Скидка 20% на домашний интернет до конца месяца"},
                offer=None,
                starts_at=None,
                ends_at=None,
                now=now,
            )
        started = time.perf_counter()
        async with db.unit_of_work() as session:
            await campaign_service.launch(session, MARKETER, campaign.id, now)
        launch_s = time.perf_counter() - started

        settings = OutboundSettings(smpp_port=smpp_port, smtp_port=smtp_port)
        outbound = Outbound(settings)
        policy = campaign_service.SendPolicy(
            batch_size=200,
            quiet_from=clock_time(0, 0),
            quiet_until=clock_time(0, 0),
            claim_lease=timedelta(minutes=5),
            opt_out_base_url="http://127.0.0.1/opt-out",
            opt_out_secret="bench",
        )

        async def no_throttle() -> None:
            return None

        cpu, wall = time.process_time(), time.perf_counter()
        sent = await campaign_service.send_pass(db, outbound.send, lambda: datetime.now(UTC), policy, no_throttle)
        send_s, send_cpu = time.perf_counter() - wall, time.process_time() - cpu

        cpu, wall = time.process_time(), time.perf_counter()
        for number in range(members):
            await outbound.send(OutboundMessage("sms", f"+7702{number:07d}", "Скидка 20% на домашний интернет"))
        bare_s, bare_cpu = time.perf_counter() - wall, time.process_time() - cpu
        await outbound.close()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        await db.dispose()
    assert sent == members, f"sent {sent} of {members}"
    print(
        f"campaign of {members}: launch {launch_s:.2f} s, send {send_s:.2f} s ({members / send_s:.0f}/s), "
        f"CPU {send_cpu / members * 1e3:.2f} ms per message; bare submit_sm {bare_s:.2f} s, "
        f"CPU {bare_cpu / members * 1e3:.2f} ms per message",
        flush=True,
    )
    return [
        SummaryRow(
            f"campaign send, {members} SMS via the SMPP sink (msg/s)",
            f"{members / send_s:.0f}",
            f"{members / bare_s:.0f} bare submit_sm",
            (members / send_s) / (members / bare_s),
        ),
        SummaryRow(
            "campaign CPU per message (ms, sender process)",
            f"{send_cpu / members * 1e3:.2f}",
            f"{bare_cpu / members * 1e3:.2f} bare",
            (send_cpu / members) / max(bare_cpu / members, 1e-9),
            note="lower is better",
        ),
        SummaryRow(f"campaign launch, {members} delivery rows (s)", f"{launch_s:.2f}", "-"),
    ]


async def bench_segment(url: str, customers: int) -> list[SummaryRow]:
    db = Database(url)
    try:
        started = time.perf_counter()
        await seed_bulk_customers(db, customers)
        print(f"projection of {customers} customers loaded in {time.perf_counter() - started:.0f} s", flush=True)
        async with db.unit_of_work() as session:
            await session.execute(text("ANALYZE customer_profiles"))
        now = datetime.now(UTC)
        criteria = {"region_codes": ["KZ-75"], "kinds": ["individual"], "languages": ["kk", "ru"]}
        async with db.unit_of_work() as session:
            segment = await segment_service.register_segment(
                session, MARKETER, name="bench", criteria=criteria, now=now
            )
        timings, baseline = [], []
        for _ in range(3):
            async with db.reads() as session:
                wall = time.perf_counter()
                size = await segment_service.segment_size(session, segment, now)
                timings.append(time.perf_counter() - wall)
                wall = time.perf_counter()
                await session.scalar(text("SELECT count(*) FROM customer_profiles"))
                baseline.append(time.perf_counter() - wall)
    finally:
        await db.dispose()
    best, base = min(timings), min(baseline)
    print(
        f"segment over {customers}: {size} members in {best * 1e3:.0f} ms (bare count {base * 1e3:.0f} ms)", flush=True
    )
    return [
        SummaryRow(
            f"segment size over {customers} customers (ms)",
            f"{best * 1e3:.0f}",
            f"{base * 1e3:.0f} bare count(*)",
            best / max(base, 1e-9),
            note="lower is better",
        )
    ]


async def run(args: argparse.Namespace) -> list[SummaryRow]:
    rows: list[SummaryRow] = []
    async with temporary_databases() as databases:
        for label in ("send", "segment"):
            if (args.send_members if label == "send" else args.segment_customers) <= 0:
                continue  # --send-members 0 or --segment-customers 0: that part is left out
            url = await databases.create(f"marketing_{label}")
            await upgrade_async(MIGRATIONS, url)
            if label == "send":
                with tempfile.TemporaryDirectory() as outbox:
                    rows += await bench_campaign(url, args.send_members, Path(outbox))
            else:
                rows += await bench_segment(url, args.segment_customers)
    return rows


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
