"""Commissions benchmark: a monthly commission run over N completed-order events for the customers
of one partner, applied as the running service applies them: in batches (the records one poll
brings from a partition, --commission-batch), each batch one transaction with its inbox rows
(crm_shared.consumer.apply_batch_once) and one set-based accrual (commission_service.
accrue_completed_orders); with --commission-batch 1, one event per transaction (apply_once), as a
consumer without a batch handler would. Then the month's statement; time and peak memory (max RSS)
of both, on PostgreSQL.

Baseline, in the same run: the same transactions (one per batch) each inserting an inbox row and a
plain row per event (the least a once-per-event accrual must write), so that the ratio says what
the commission rules cost on top of the bookkeeping.

    .venv/bin/python -m bench.bench_commissions                             # 20 000 events (default)
    .venv/bin/python -m bench.bench_commissions --commission-events 1000000 # the full monthly run
    .venv/bin/python -m bench.bench_commissions --commission-batch 1 --commission-events 2000  # one by one
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from crm_partners.main import DEFINITION
from crm_partners.seed import DEMO_PARTNERS, seed_brought_customers, seed_demo
from crm_partners.services import commission_service
from crm_shared.auth import Principal, Role
from crm_shared.consumer import apply_batch_once, apply_once
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.migrations import upgrade_async

from .common import SummaryRow, run_from_command_line, temporary_databases

MIGRATIONS = "services/partners/migrations"
PARTNER = DEMO_PARTNERS[0].id
MONTH = datetime(2026, 3, 1, tzinfo=UTC)
READER = Principal("bench", "bench", Role.CHANNEL_MANAGER)


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """``shared``: --concurrency already comes from bench_api (run_all)."""
    parser.add_argument("--commission-events", type=int, default=20000, help="completed-order events in the month")
    parser.add_argument(
        "--commission-batch", type=int, default=500, help="events per transaction (1: one by one, no batch handler)"
    )
    parser.add_argument("--commission-customers", type=int, default=500, help="customers the partner brought")
    if not shared:
        parser.add_argument("--concurrency", type=int, default=8, help="events applied at once (consumer partitions)")


def options_from(args: argparse.Namespace) -> argparse.Namespace:
    return args


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def order_event(number: int, customer_id: str) -> CloudEvent:
    """A crm.orders.order.completed event as orders publishes it (its contract is checked)."""
    order_id = str(uuid.uuid4())
    completed = MONTH.replace(day=1 + number % 28, hour=number % 24).isoformat().replace("+00:00", "Z")
    item = {
        "id": str(uuid.uuid4()),
        "position": 1,
        "action": "add",
        "state": "completed",
        "offering_id": "inet-gpon-100",
        "offering_version": 1,
        "offering_name": "Home Internet 100",
        "product_line": "internet",
        "quantity": 1,
        "one_off_price_tiyn": 0,
        "recurring_price_tiyn": 500_000,
        "characteristics": {},
        "installed_product_id": None,
        "result_product_ids": [],
    }
    data = {
        "id": order_id,
        "customer_id": customer_id,
        "customer_name": "Bench customer",
        "state": "completed",
        "state_reason": None,
        "source": "branch",
        "opportunity_id": None,
        "currency": "KZT",
        "one_off_total_tiyn": 0,
        "recurring_total_tiyn": 500_000,
        "items": [item],
        "allowed_transitions": [],
        "owner_id": "bench",
        "owner_name": "Bench",
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
        "version": 3,
        "created_at": completed,
        "updated_at": completed,
        "completed_at": completed,
    }
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/orders", type="crm.orders.order.completed", subject=order_id, data=data
    )


def chunks(count: int, size: int) -> range:
    """The first event's number of each batch."""
    return range(0, count, size)


async def in_parallel(numbers: range, concurrency: int, work) -> float:
    started = time.perf_counter()
    queue = iter(numbers)

    async def worker():
        for number in queue:
            await work(number)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> list[SummaryRow]:
    async with temporary_databases() as databases:
        url = await databases.create("commissions")
        await upgrade_async(MIGRATIONS, url)
        db = Database(url, pool_size=args.concurrency + 2)
        try:
            await seed_demo(db)
            customers = await seed_brought_customers(db, PARTNER, args.commission_customers)
            events = (order_event(n, customers[n % len(customers)]) for n in range(args.commission_events))
            batch = max(1, args.commission_batch)

            [spec] = [spec for spec in DEFINITION.consumers if spec.name == "commissions-orders"]
            one_by_one, together = spec.contract_checked(), spec.contract_checked_batch()

            async def accrue(start: int) -> None:
                taken = [next(events) for _ in range(min(batch, args.commission_events - start))]
                if batch == 1:
                    await apply_once(db, spec.name, taken[0], one_by_one)
                else:
                    await apply_batch_once(db, spec.name, taken, together)

            rss_before = max_rss_mib()
            run_s = await in_parallel(chunks(args.commission_events, batch), args.concurrency, accrue)
            async with db.reads() as session:
                started = time.perf_counter()
                statement = await commission_service.statement(session, READER, PARTNER, "2026-03")
                statement_s = time.perf_counter() - started
            rss_after = max_rss_mib()
            assert statement["totals"].lines == args.commission_events, statement["totals"]
            assert statement["totals"].total_tiyn == sum(line.amount_tiyn for line in statement["lines"])

            async with db.unit_of_work() as session:
                await session.execute(text("CREATE TABLE bench_plain (id text primary key, amount bigint)"))

            async def plain(start: int) -> None:
                count = min(batch, args.commission_events - start)
                async with db.unit_of_work() as session:
                    inbox = [{"id": str(uuid.uuid4())} for _ in range(count)]
                    await session.execute(
                        text(
                            "INSERT INTO inbox_records (consumer, event_id, event_type, processed_at) "
                            "VALUES ('bench-plain', :id, 'x', now())"
                        ),
                        inbox,
                    )
                    await session.execute(text("INSERT INTO bench_plain VALUES (:id, 500000)"), inbox)

            baseline_s = await in_parallel(chunks(args.commission_events, batch), args.concurrency, plain)
        finally:
            await db.dispose()
    rate, baseline_rate = args.commission_events / run_s, args.commission_events / baseline_s
    print(
        f"commission run: {args.commission_events} events in {run_s:.1f} s ({rate:.0f}/s); statement of "
        f"{args.commission_events} lines in {statement_s:.2f} s; max RSS {rss_before:.0f} -> {rss_after:.0f} MiB"
    )
    print(f"baseline (an inbox row + a plain row per event, same batches): {baseline_s:.1f} s ({baseline_rate:.0f}/s)")
    return [
        SummaryRow(
            "commissions: monthly run (events/s)",
            f"{rate:.0f}/s",
            f"{baseline_rate:.0f}/s",
            rate / baseline_rate,
            note=f"{args.commission_events} events, {batch} per transaction, concurrency {args.concurrency}",
        ),
        SummaryRow(
            "commissions: statement of the month",
            f"{statement_s:.2f} s",
            "-",
            None,
            note=f"{args.commission_events} lines; max RSS {rss_after:.0f} MiB",
        ),
    ]


def main() -> None:
    run_from_command_line(__doc__, add_arguments, lambda args: args, run)


if __name__ == "__main__":
    main()
