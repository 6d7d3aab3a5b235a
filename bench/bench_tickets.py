"""Tickets benchmark: ticket creation and the queue view of a busy branch through the gateway
(vs the tickets service directly), and the SLA scheduler's pass over a big ticket table (vs a
plain SQL read of the same due tickets), on PostgreSQL.

Set-up, as `crm up` does it but on PostgreSQL: fresh databases for sales, tickets and the
gateway (migrated), ``--customers`` customers in sales (``seed_bulk``), the gateway's demo users,
and ``--tickets`` historical tickets of those customers COPY'd into the tickets database: closed
and resolved ones over two years, open ones of the last hours (the SLA clock running, some about
to breach), pending ones of the last days; a third of them in ALA-01 (the busy branch). Then the
broker, sales, tickets and the gateway as uvicorn subprocesses with the argv and environment
``crm_cli.plan.build_plan`` gives `crm up` (the SLA scheduler off while the HTTP load runs).

- create ticket: POST /api/v1/tickets/tickets as the call centre (tickets asks sales over gRPC
  for the customer), through the gateway vs directly; every answer checked;
- queue view: GET /api/v1/tickets/queues/ALA-01.technical/tickets as the branch agent, gateway vs
  direct; every answer must be that queue's open tickets, most urgent first;
- SLA scan: ``scan_once`` at a moment when the running tickets' warnings are due, in this process
  with the servers stopped (seconds per pass), vs a plain SELECT of the same due rows; then a
  second pass with nothing due (the idle cost per interval).

    .venv/bin/python -m bench.bench_tickets [--customers 20000] [--tickets 200000] [--requests 1500]
    .venv/bin/python -m bench.bench_tickets --customers 100000 --tickets 1000000   # the full sizes
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import random
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

from crm_cli import services as registry
from crm_cli.plan import build_plan
from crm_cli.testing import suite_ports
from crm_sales.seed import sample_customers, seed_bulk
from crm_shared.auth import INTERNAL_TOKEN_HEADER, issue_internal_token
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_tickets.domain import sla
from crm_tickets.domain.routing import queue_for
from crm_tickets.services.sla_service import scan_once

from .bench_api import CpuMeter, Suite, seed_gateway_users, sign_in
from .common import SummaryRow, run_from_command_line, temporary_databases
from .loadgen import Client, Request, Response, Result, measure, ratio

BENCHED_SERVICES = ("sales", "tickets", "gateway")
CREATING_USER = "callcenter"
QUEUE_USER = "almaty.agent"
BUSY_QUEUE = "ALA-01.technical"
CUSTOMER_SAMPLE = 5000
CATEGORIES = (
    "internet",
    "internet",
    "internet",
    "tv",
    "tv",
    "mobile",
    "fixed_line",
    "billing",
    "relocation",
    "equipment",
    "other",
)
PRIORITIES = ("critical", "high", "high", "medium", "medium", "medium", "low", "low")
COPY_BATCH = 50_000
# The moment the SLA pass runs: a Tuesday, 11:00 in Almaty (a working hour).
SCAN_AT = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
COLUMNS = (
    "id",
    "customer_id",
    "customer_name",
    "customer_segment",
    "name",
    "description",
    "category",
    "priority",
    "severity",
    "channel",
    "location",
    "status",
    "queue",
    "branch_code",
    "region_code",
    "opened_by",
    "opened_by_name",
    "sla_policy",
    "response_due_at",
    "resolution_due_at",
    "first_response_at",
    "paused_at",
    "response_state",
    "resolution_state",
    "escalation_level",
    "sla_cycle",
    "sla_check_at",
    "urgency_at",
    "resolved_at",
    "closed_at",
    "created_at",
    "updated_at",
    "version",
)


@dataclass
class TicketsOptions:
    customers: int = 20_000
    tickets: int = 200_000
    requests: int = 1500
    concurrency: int = 8
    max_seconds: float = 20.0
    warmup: int | None = None

    @property
    def warmup_requests(self) -> int:
        return self.warmup if self.warmup is not None else max(100, self.requests // 10)


# --- historical tickets ----------------------------------------------------------------------------


@functools.cache
def _clock_of(policy_name: str, created: datetime, responded: bool) -> tuple[datetime, datetime, datetime | None]:
    """(response due, resolution due, next SLA check) of a ticket opened at ``created`` (cached: the
    generator rounds creation times to the minute, so the calendar is asked a few thousand times)."""
    policy = sla.POLICIES_BY_NAME[policy_name]
    response_due, resolution_due = sla.due_times(policy, created)
    view = sla.SlaView(policy, response_due, resolution_due, responded, "ok", "ok", 0)
    return response_due, resolution_due, sla.next_check(view)


def ticket_rows(customers: list[tuple], count: int, seed: int = 11):
    """``count`` ticket rows: 88 % finished over two years, 3 % pending, 9 % open in the last
    6 working hours with the SLA clock running. A third of them belong to ALA-01 customers."""
    rng = random.Random(seed)
    busy = [c for c in customers if c[3] == "ALA-01"] or customers
    for n in range(count):
        customer_id, name, segment, branch, region = rng.choice(busy if rng.random() < 0.33 else customers)
        category, priority = rng.choice(CATEGORIES), rng.choice(PRIORITIES)
        policy = sla.policy_for(priority, segment)
        roll = rng.random()
        first_response = paused = resolved = closed = check = urgency = None
        if roll < 0.09:  # open, running
            created = SCAN_AT - timedelta(minutes=rng.randrange(1, 360))
            status = rng.choice(("new", "acknowledged", "in_progress"))
            responded = status != "new"
            response_due, resolution_due, check = _clock_of(policy.name, created, responded)
            if responded:
                first_response = created + timedelta(minutes=5)
            urgency = resolution_due if responded else response_due
        elif roll < 0.12:  # pending: the clock paused
            created = SCAN_AT - timedelta(hours=rng.randrange(1, 24 * 10))  # whole hours: few calendar lookups
            status = "pending"
            response_due, resolution_due, _ = _clock_of(policy.name, created, True)
            first_response, paused = created + timedelta(minutes=5), created + timedelta(hours=1)
            urgency = resolution_due
        else:  # history
            created = SCAN_AT - timedelta(minutes=rng.randrange(60 * 24, 60 * 24 * 730))
            status = rng.choice(("closed", "closed", "closed", "resolved", "cancelled"))
            response_due, resolution_due = created + timedelta(hours=4), created + timedelta(hours=24)
            first_response = created + timedelta(minutes=30)
            resolved = created + timedelta(hours=rng.randrange(1, 60)) if status != "cancelled" else None
            closed = resolved + timedelta(days=2) if status == "closed" else None
        created = (
            created.replace(second=0, microsecond=0) if status in ("new", "acknowledged", "in_progress") else created
        )
        yield (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            customer_id,
            name,
            segment,
            f"{category} problem #{n}",
            "Historical ticket (benchmark data)",
            category,
            priority,
            "minor",
            "phone",
            None,
            status,
            queue_for(branch, category),
            branch,
            region,
            "user-callcenter",
            "callcenter",
            policy.name,
            response_due,
            resolution_due,
            first_response,
            paused,
            "met" if first_response else "ok",
            "met" if resolved else "ok",
            0,
            0,
            check,
            urgency,
            resolved,
            closed,
            created,
            closed or resolved or created,
            1,
        )


async def customers_of(sales_url: str) -> list[tuple]:
    """A random sample of the seeded customers: (id, name, kind, branch, region)."""
    db = Database(sales_url)
    try:
        rows = await sample_customers(db, CUSTOMER_SAMPLE)
    finally:
        await db.dispose()
    return [(r.id, r.legal_name or f"{r.last_name} {r.first_name}", r.kind, r.branch_code, r.region_code) for r in rows]


async def copy_tickets(tickets_url: str, customers: list[tuple], count: int) -> None:
    conn = await asyncpg.connect(tickets_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        rows = ticket_rows(customers, count)
        while True:
            batch = [row for _, row in zip(range(COPY_BATCH), rows)]
            if not batch:
                break
            await conn.copy_records_to_table("tickets", records=batch, columns=COLUMNS)
        await conn.execute("ANALYZE tickets")
    finally:
        await conn.close()


# --- the workloads -------------------------------------------------------------------------------


def create_workload(customers: list[tuple]):
    rng = random.Random(5)
    sent: dict[int, str] = {}

    def make(i: int) -> Request:
        customer_id = rng.choice(customers)[0]
        sent[i] = customer_id
        return Request.post_json(
            "/api/v1/tickets/tickets",
            {
                "customer_id": customer_id,
                "name": "No internet",
                "description": "Router shows a red light",
                "category": rng.choice(CATEGORIES),
                "priority": rng.choice(PRIORITIES),
            },
        )

    def check(i: int, response: Response) -> str | None:
        body, expected = response.json(), sent.pop(i)
        if body.get("customer_id") != expected or body.get("status") != "new":
            return f"expected a new ticket of {expected}, got {str(body)[:200]}"
        return None

    return make, check


def queue_workload():
    def make(i: int) -> Request:
        return Request.get(f"/api/v1/tickets/queues/{BUSY_QUEUE}/tickets?limit=50")

    def check(i: int, response: Response) -> str | None:
        items = response.json()["items"]
        urgency = [
            t["sla"]["response_due_at"] if t["sla"]["first_response_at"] is None else t["sla"]["resolution_due_at"]
            for t in items
        ]
        if len(items) != 50 or any(t["queue"] != BUSY_QUEUE for t in items) or urgency != sorted(urgency):
            return f"expected 50 tickets of {BUSY_QUEUE} most urgent first, got {len(items)}"
        return None

    return make, check


async def sla_pass(tickets_url: str) -> list[SummaryRow]:
    db = Database(tickets_url)
    try:
        due = text(
            "SELECT * FROM tickets WHERE sla_check_at <= :now AND paused_at IS NULL AND status IN "
            "('new', 'acknowledged', 'in_progress') ORDER BY sla_check_at"
        )
        async with db.read_only() as session:
            total = await session.scalar(text("SELECT count(*) FROM tickets"))
            started = time.perf_counter()
            due_rows = len((await session.execute(due, {"now": SCAN_AT})).all())
            plain = time.perf_counter() - started
        started = time.perf_counter()
        result = await scan_once(db, SCAN_AT)
        scan = time.perf_counter() - started
        started = time.perf_counter()
        idle = await scan_once(db, SCAN_AT)
        idle_s = time.perf_counter() - started
        async with db.read_only() as session:
            started = time.perf_counter()
            (await session.execute(due, {"now": SCAN_AT})).all()
            plain_idle = time.perf_counter() - started
    finally:
        await db.dispose()
    print(
        f"[tickets] SLA pass over {total} tickets: {result.tickets} due tickets, {result.signals} signals "
        f"in {scan:.2f} s ({result.tickets / scan:.0f} tickets/s); plain SELECT of the {due_rows} due rows "
        f"{plain:.3f} s; idle pass {idle_s * 1000:.1f} ms ({idle.tickets} tickets)",
        flush=True,
    )
    return [
        SummaryRow(
            f"SLA pass over {total} tickets ({result.tickets} due)",
            f"{scan:.2f} s per pass",
            f"{plain:.3f} s plain SELECT of the due rows",
            ratio(scan, plain),
            note="ratio of times: scheduler pass / plain read of the same rows (the cost of signals, "
            "events and escalations per due ticket)",
        ),
        SummaryRow(
            "SLA pass with nothing due",
            f"{idle_s * 1000:.1f} ms per pass",
            f"{plain_idle * 1000:.1f} ms plain SELECT",
            ratio(idle_s, plain_idle),
        ),
    ]


async def run(options: TicketsOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[tickets] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="crm-bench-tickets-") as tmp:
        async with temporary_databases() as databases, contextlib.AsyncExitStack() as stack:
            env = suite_ports()
            for name in BENCHED_SERVICES:
                env[registry.get_service(name).env_name("database_url")] = await databases.create(name)
            plan = build_plan(env=env, var_dir=Path(tmp), internal_token_secret=secrets.token_urlsafe(48))
            plan.processes = [process for process in plan.processes if process.name in BENCHED_SERVICES]
            tickets_process = next(p for p in plan.processes if p.name == "tickets")
            tickets_process.env[tickets_process.spec.env_name("sla_scheduler_enabled")] = "false"
            started = time.perf_counter()
            for process in plan.processes:
                await upgrade_async(process.spec.migrations_path(), process.database_url)
            sales_url = next(p for p in plan.processes if p.name == "sales").database_url
            sales_db = Database(sales_url)
            try:
                await seed_bulk(sales_db, options.customers, seed=20250101)
            finally:
                await sales_db.dispose()
            customers = await customers_of(sales_url)
            await seed_gateway_users(plan)
            say(
                f"databases migrated; {options.customers} customers in sales, gateway demo users "
                f"({time.perf_counter() - started:.1f} s)"
            )
            started = time.perf_counter()
            await copy_tickets(tickets_process.database_url, customers, options.tickets)
            say(f"{options.tickets} historical tickets COPY'd ({time.perf_counter() - started:.1f} s)")

            suite = Suite(plan, Path(tmp) / "processes.log")
            stack.push_async_callback(suite.stop)
            await suite.start()
            say(
                "broker, sales, tickets and gateway up as `crm up` starts them; "
                f"each run: {options.warmup_requests} warm-up, then {options.requests} measured requests "
                f"(or {options.max_seconds:g} s), {options.concurrency} concurrent clients; every answer checked"
            )
            gateway = Client(suite.url_of("gateway"))

            async def run_pair(kind: str, username: str, workload) -> tuple[Result, Result]:
                token, principal = await sign_in(gateway, username)
                via_gateway = Client(suite.url_of("gateway"), {"authorization": f"Bearer {token}"})
                direct = Client(
                    suite.url_of("tickets"),
                    {INTERNAL_TOKEN_HEADER: issue_internal_token(principal, plan.internal_token_secret, ttl_s=3600)},
                )
                pair = []
                for label, client, servers in (
                    ("direct to tickets", direct, ("tickets", "sales")),
                    ("through the gateway", via_gateway, ("gateway", "tickets", "sales")),
                ):
                    make, check = workload()
                    cpu = CpuMeter({name: suite.pid_of(name) for name in servers})
                    result = await measure(
                        f"{kind} {label}",
                        client,
                        make,
                        total=options.requests,
                        warmup=options.warmup_requests,
                        concurrency=options.concurrency,
                        max_seconds=options.max_seconds,
                        check=check,
                        on_start=cpu.start,
                    )
                    result.cpu_ms_per_request = cpu.per_request_ms(result.requests)
                    print(result.line(), flush=True)
                    if result.errors:
                        print("    first errors: " + "; ".join(result.first_errors), flush=True)
                    pair.append(result)
                return pair[0], pair[1]

            create_direct, create_gateway = await run_pair(
                "create ticket", CREATING_USER, lambda: create_workload(customers)
            )
            queue_direct, queue_gateway = await run_pair(f"queue view {BUSY_QUEUE}", QUEUE_USER, queue_workload)
            await suite.stop()
            stack.pop_all()
            rows = await sla_pass(tickets_process.database_url)

    c = options.concurrency
    errors = sum(r.errors for r in (create_direct, create_gateway, queue_direct, queue_gateway))
    result = [
        SummaryRow(
            f"create ticket throughput, c={c}",
            f"{create_gateway.rps:.0f} req/s via gateway",
            f"{create_direct.rps:.0f} req/s direct",
            ratio(create_gateway.rps, create_direct.rps),
        ),
        SummaryRow(
            f"create ticket p95, c={c}",
            f"{create_gateway.p95:.1f} ms via gateway",
            f"{create_direct.p95:.1f} ms direct",
            ratio(create_gateway.p95, create_direct.p95),
            note="ratio of latencies: gateway p95 / direct p95 (lower is better)",
        ),
        SummaryRow(
            f"queue view of {BUSY_QUEUE} p95, c={c}",
            f"{queue_gateway.p95:.1f} ms via gateway",
            f"{queue_direct.p95:.1f} ms direct",
            ratio(queue_gateway.p95, queue_direct.p95),
        ),
        SummaryRow(
            f"queue view throughput, c={c}",
            f"{queue_gateway.rps:.0f} req/s via gateway",
            f"{queue_direct.rps:.0f} req/s direct",
            ratio(queue_gateway.rps, queue_direct.rps),
        ),
        *rows,
    ]
    if errors:
        result.append(SummaryRow("tickets API errors (wrong or failed answers)", str(errors), "0", met=False))
    return result


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """``shared``: inside run_all, where --customers/--requests/--concurrency/--max-seconds/--warmup
    already exist (bench_api's); only the ticket count is added."""
    defaults = TicketsOptions()
    parser.add_argument("--tickets", type=int, default=defaults.tickets, help="historical tickets COPY'd")
    if shared:
        return
    parser.add_argument("--customers", type=int, default=defaults.customers, help="customers seeded in sales")
    parser.add_argument("--requests", type=int, default=defaults.requests, help="measured requests per run")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="concurrent clients")
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds, help="time cap of each run")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per run (default requests/10)")


def options_from(args: argparse.Namespace) -> TicketsOptions:
    return TicketsOptions(
        customers=args.customers,
        tickets=args.tickets,
        requests=args.requests,
        concurrency=args.concurrency,
        max_seconds=args.max_seconds,
        warmup=args.warmup,
    )


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
