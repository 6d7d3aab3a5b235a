"""Orders benchmark: orders taken per second through the gateway, and the time from "order
completed" to an external billing consumer receiving the event.

Set-up, as `crm up` does it but on PostgreSQL: fresh databases for sales, orders and the gateway
(migrated), ``--customers`` (10 000) customers in sales (``seed_bulk``), a catalogue of
``--offerings`` (200) product offerings in orders (the demo catalogue plus generated ones, through
the seed's ``add_offerings``), the gateway's demo users and API keys, the embedded broker with the
topic catalogue; then sales, orders and the gateway as uvicorn subprocesses with the argv and
environment of ``crm_cli.plan.build_plan`` (orders finds sales' gRPC server there; its relay
publishes the outbox), and the bare hello app (``bench.bench_api.Suite``).

- take orders: ``POST /api/v1/orders/orders`` as almaty.agent for an Almaty customer (orders asks
  sales over gRPC whether the customer is visible, then prices 1-3 offerings sold in the region),
  through the gateway vs directly to orders with the internal token the gateway would send;
  every answer checked (state, customer, total from the catalogue prices). The floor: GET /hello.
- order completed → billing: one-item orders fulfilled by the OSS demo key through the gateway
  (each fulfilment completes its order); a plain aiokafka consumer (the billing system) on
  ``crm.orders.order.v1`` notes when each ``crm.orders.order.completed`` arrives; the latency is
  that moment minus the order's ``completed_at`` (set in the completing transaction; same
  machine, same clock). Baseline in the same run on the same broker: a raw aiokafka produce →
  consume loop of the same records (value and headers of a real completed event) at the same
  pace, latency from send to receipt, consumer with the same options.

    .venv/bin/python -m bench.bench_orders [--customers 10000] [--offerings 200] [--orders 2000]
        [--completions 400] [--concurrency 8] [--max-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from crm_cli import services as registry
from crm_cli.plan import build_plan
from crm_cli.testing import suite_ports
from crm_gateway.seed import DEMO_OSS_KEY
from crm_orders.config import OrdersSettings
from crm_orders.seed import DEMO_CATALOGUE, DemoOffering, add_offerings
from crm_sales.seed import branch_customer_ids, seed_bulk
from crm_shared.auth import INTERNAL_TOKEN_HEADER, issue_internal_token
from crm_shared.db import Database
from crm_shared.kafka import ensure_topics, make_producer
from crm_shared.migrations import upgrade_async

from .bench_api import CpuMeter, Suite, seed_gateway_users, sign_in
from .common import SummaryRow, run_from_command_line, temporary_databases
from .loadgen import Client, Request, Response, Result, measure, ratio, run_load

BENCHED_SERVICES = ("sales", "orders", "gateway")
ORDER_TOPIC = "crm.orders.order.v1"
COMPLETED = "crm.orders.order.completed"
ORDERS_PATH = "/api/v1/orders/orders"
TAKING_USER = "almaty.agent"
REGION, BRANCH = "KZ-75", "ALA-01"
RECEIPT_TIMEOUT_S = 120.0
# A billing system's consumer: aiokafka's defaults, except that it waits at most this long for
# data in a fetch (the default 500 ms would be most of what is measured); the baseline uses the same.
FETCH_MAX_WAIT_MS = 100


@dataclass
class OrdersOptions:
    customers: int = 10_000
    offerings: int = 200
    orders: int = 2000
    completions: int = 400
    concurrency: int = 8
    max_seconds: float = 20.0
    warmup: int | None = None

    @property
    def warmup_requests(self) -> int:
        return self.warmup if self.warmup is not None else max(100, self.orders // 10)


# --- set-up --------------------------------------------------------------------------------------


def generated_catalogue(total: int, seed: int = 5) -> list[DemoOffering]:
    """The demo catalogue plus generated offerings up to ``total``: every product line, a few
    retired, some sold in a few regions only."""
    rng = random.Random(seed)
    lines = {
        "internet": lambda n: {
            "download_speed_mbps": str(rng.choice((50, 100, 200, 300, 500, 1000))),
            "technology": rng.choice(("gpon", "lte", "vdsl")),
        },
        "tv": lambda n: {"channels": str(rng.randrange(40, 260)), "hd_channels": str(rng.randrange(5, 90))},
        "mobile": lambda n: {
            "data_allowance_gb": str(rng.choice((5, 10, 20, 30, 50, 100))),
            "minutes": str(rng.choice((200, 400, 800))),
        },
        "fixed_line": lambda n: {"local_minutes": "unlimited", "lines": str(rng.randrange(1, 4))},
    }
    regions = ("KZ-75", "KZ-71", "KZ-79", "KZ-35", "KZ-55", "KZ-43")
    offerings = list(DEMO_CATALOGUE)
    for n in range(total - len(offerings)):
        line = rng.choice(list(lines))
        offerings.append(
            DemoOffering(
                id=f"bench-{line}-{n:03d}",
                name=f"{line.replace('_', ' ').title()} plan {n}",
                product_line=line,
                one_off_kzt=rng.choice((0, 500, 3000, 10000)),
                monthly_kzt=rng.randrange(990, 19990, 100),
                characteristics=lines[line](n),
                region_codes=tuple(rng.sample(regions, 2)) if rng.random() < 0.2 else (),
                status="retired" if rng.random() < 0.05 else "active",
            )
        )
    return offerings


def sellable_here(offerings: list[DemoOffering]) -> list[DemoOffering]:
    return [o for o in offerings if o.status == "active" and (not o.region_codes or REGION in o.region_codes)]


async def seed_sales(url: str, customers: int) -> list[str]:
    """``customers`` customers (seed_bulk); returns the ids of those in the Almaty branch."""
    db = Database(url)
    try:
        await seed_bulk(db, customers, seed=20250301)
        return await branch_customer_ids(db, BRANCH)
    finally:
        await db.dispose()


async def seed_catalogue(url: str, offerings: list[DemoOffering]) -> int:
    db = Database(url)
    try:
        return await add_offerings(db, offerings)
    finally:
        await db.dispose()


# --- the workloads -------------------------------------------------------------------------------


class OrderBodies:
    def __init__(self, customers: list[str], offerings: list[DemoOffering], seed: int = 3) -> None:
        self.rng = random.Random(seed)
        self.customers = customers
        self.offerings = offerings
        self.sent: dict[int, dict] = {}

    def body(self, items: int) -> dict:
        chosen = self.rng.sample(self.offerings, items)
        return {
            "customer_id": self.rng.choice(self.customers),
            "items": [{"offering_id": o.id, "service_address": "Almaty, Abay Ave 10"} for o in chosen],
        }

    def expected_one_off_tiyn(self, body: dict) -> int:
        by_id = {o.id: o for o in self.offerings}
        return sum(by_id[item["offering_id"]].one_off_kzt * 100 for item in body["items"])

    def workload(self):
        def make(i: int) -> Request:
            body = self.body(self.rng.randint(1, 3))
            self.sent[i] = body
            return Request.post_json(ORDERS_PATH, body)

        def check(i: int, response: Response) -> str | None:
            body, order = self.sent.pop(i), response.json()
            if (
                order.get("state") != "acknowledged"
                or order.get("customer_id") != body["customer_id"]
                or len(order.get("items", ())) != len(body["items"])
                or order.get("one_off_total_tiyn") != self.expected_one_off_tiyn(body)
            ):
                return f"taken as {order.get('state')} for {order.get('customer_id')}, sent {body}"
            return None

        return make, check


class BillingConsumer:
    """The billing system: a plain aiokafka consumer of the order topic from its end, noting
    when each completed event arrives (wall clock) and the order's completed_at."""

    def __init__(self, bootstrap: str, topic: str = ORDER_TOPIC) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self.latencies_ms: dict[str, float] = {}  # order id -> receipt - completed_at
        self.sample: tuple[bytes, list[tuple[str, bytes]]] | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer.seek_to_end()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=1000)
            received = time.time()
            for records in batch.values():
                for record in records:
                    headers = {k: v for k, v in record.headers}
                    if headers.get("ce_type") != COMPLETED.encode():
                        continue
                    data = orjson.loads(record.value)
                    completed = datetime.fromisoformat(data["completed_at"]).timestamp()
                    self.latencies_ms.setdefault(data["id"], (received - completed) * 1000)
                    if self.sample is None:
                        self.sample = (record.value, list(record.headers))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


async def raw_loop_latencies(
    bootstrap: str, value: bytes, headers: list[tuple[str, bytes]], count: int, interval_s: float
) -> list[float]:
    """Same records produced at the same pace to a fresh topic on the same broker, consumed by a
    consumer with the same options: milliseconds from send to receipt."""
    topic = f"bench.raw.orders.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(bootstrap, [(topic, 3)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    producer = make_producer(OrdersSettings(kafka_bootstrap_servers=bootstrap))
    await consumer.start()
    await producer.start()
    received: dict[bytes, float] = {}
    sent: dict[bytes, float] = {}

    async def consume() -> None:
        while len(received) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            now = time.time()
            for records in batch.values():
                for record in records:
                    received.setdefault(record.key, now)

    task = asyncio.create_task(consume())
    try:
        for n in range(count):
            key = f"raw-{n}".encode()
            sent[key] = time.time()
            await producer.send(topic, value, key=key, headers=headers)
            await asyncio.sleep(interval_s)
        await producer.flush()
        await asyncio.wait_for(task, RECEIPT_TIMEOUT_S)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
    return [(received[key] - sent[key]) * 1000 for key in sent]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(q / 100 * len(data)))]


# --- the run -------------------------------------------------------------------------------------


async def run(options: OrdersOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[orders] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="crm-bench-orders-") as tmp:
        async with temporary_databases() as databases, contextlib.AsyncExitStack() as stack:
            env = suite_ports()
            for name in BENCHED_SERVICES:
                env[registry.get_service(name).env_name("database_url")] = await databases.create(name)
            plan = build_plan(env=env, var_dir=Path(tmp), internal_token_secret=secrets.token_urlsafe(48))
            plan.processes = [process for process in plan.processes if process.name in BENCHED_SERVICES]
            started = time.perf_counter()
            for process in plan.processes:
                await upgrade_async(process.spec.migrations_path(), process.database_url)
            url = {p.name: p.database_url for p in plan.processes}
            almaty_customers = await seed_sales(url["sales"], options.customers)
            catalogue = generated_catalogue(options.offerings)
            await seed_catalogue(url["orders"], catalogue)
            await seed_gateway_users(plan)
            sellable = sellable_here(catalogue)
            say(
                f"PostgreSQL databases migrated; {options.customers} customers ({len(almaty_customers)} in "
                f"{BRANCH}), {len(catalogue)} offerings ({len(sellable)} sold in {REGION}), gateway demo users and "
                f"keys seeded ({time.perf_counter() - started:.1f} s)"
            )

            suite = Suite(plan, Path(tmp) / "processes.log")
            stack.push_async_callback(suite.stop)
            started = time.perf_counter()
            await suite.start()
            say(
                f"broker, sales, orders, gateway and hello app up as `crm up` starts them "
                f"({time.perf_counter() - started:.1f} s); each run: {options.warmup_requests} warm-up requests, then "
                f"{options.orders} measured (or {options.max_seconds:g} s), {options.concurrency} clients"
            )

            gateway_url, orders_url = suite.url_of("gateway"), suite.url_of("orders")
            token, principal = await sign_in(Client(gateway_url), TAKING_USER)
            via_gateway = Client(gateway_url, {"authorization": f"Bearer {token}"})
            direct = Client(
                orders_url,
                {INTERNAL_TOKEN_HEADER: issue_internal_token(principal, plan.internal_token_secret, ttl_s=3600)},
            )

            cpu = CpuMeter({"hello": suite.pid_of("hello")})
            hello = await measure(
                "GET /hello on the bare FastAPI app",
                Client(suite.hello_url),
                lambda i: Request.get("/hello"),
                total=options.orders,
                warmup=options.warmup_requests,
                concurrency=options.concurrency,
                max_seconds=options.max_seconds,
                on_start=cpu.start,
            )
            hello.cpu_ms_per_request = cpu.per_request_ms(hello.requests)
            print(hello.line(), flush=True)

            takes: dict[str, Result] = {}
            for label, client, servers in (
                ("direct to orders", direct, ("orders", "sales")),
                ("through the gateway", via_gateway, ("gateway", "orders", "sales")),
            ):
                make, check = OrderBodies(almaty_customers, sellable, seed=len(takes)).workload()
                cpu = CpuMeter({name: suite.pid_of(name) for name in servers})
                result = await measure(
                    f"take order {label}",
                    client,
                    make,
                    total=options.orders,
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
                takes[label] = result

            # one-item orders to complete, taken directly (not measured)
            to_complete: list[dict] = []
            bodies = OrderBodies(almaty_customers, sellable, seed=99)

            def one_item(i: int) -> Request:
                return Request.post_json(ORDERS_PATH, bodies.body(1))

            def keep(i: int, response: Response) -> None:
                to_complete.append(response.json())

            prepared = await run_load(
                "orders to complete",
                direct,
                one_item,
                total=options.completions,
                concurrency=options.concurrency,
                check=keep,
            )
            if prepared.errors:
                raise RuntimeError("taking the orders to complete failed: " + "; ".join(prepared.first_errors))

            billing = BillingConsumer(plan.kafka_bootstrap)
            await billing.start()
            stack.push_async_callback(billing.stop)
            oss = Client(gateway_url, {"x-api-key": DEMO_OSS_KEY.key})

            def fulfil(i: int) -> Request:
                order = to_complete[i]
                return Request.post_json(
                    f"{ORDERS_PATH}/{order['id']}/items/{order['items'][0]['id']}/fulfilment", {"state": "completed"}
                )

            def completed(i: int, response: Response) -> str | None:
                state = response.json().get("state")
                return None if state == "completed" else f"order {to_complete[i]['id']} is {state}"

            cpu = CpuMeter({name: suite.pid_of(name) for name in ("gateway", "orders")})
            cpu.start()
            fulfilments = await run_load(
                "fulfil (completes the order) via gateway",
                oss,
                fulfil,
                total=len(to_complete),
                concurrency=max(1, options.concurrency // 2),
                check=completed,
            )
            fulfilments.cpu_ms_per_request = cpu.per_request_ms(fulfilments.requests)
            print(fulfilments.line(), flush=True)
            wanted = {order["id"] for order in to_complete}
            deadline = time.monotonic() + RECEIPT_TIMEOUT_S
            while not wanted <= set(billing.latencies_ms) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            relay_latencies = [billing.latencies_ms[i] for i in wanted if i in billing.latencies_ms]
            missing = len(wanted) - len(relay_latencies)
            say(
                f"order completed -> billing consumer: {len(relay_latencies)} of {len(wanted)} received, "
                f"p50 {percentile(relay_latencies, 50):.1f} ms, p95 {percentile(relay_latencies, 95):.1f} ms"
            )
            if billing.sample is None:
                raise RuntimeError("the billing consumer received no completed event")
            value, headers = billing.sample
            raw = await raw_loop_latencies(
                plan.kafka_bootstrap, value, headers, len(wanted), fulfilments.seconds / max(1, fulfilments.requests)
            )
            say(
                f"raw produce -> consume, same records and pace: {len(raw)} records, "
                f"p50 {percentile(raw, 50):.1f} ms, p95 {percentile(raw, 95):.1f} ms"
            )

    direct_result, gateway_result = takes["direct to orders"], takes["through the gateway"]
    c = options.concurrency
    routed = gateway_result.cpu_ms_per_request
    rows = [
        SummaryRow(
            f"take order throughput, c={c}",
            f"{gateway_result.rps:.0f} orders/s via gateway",
            f"{direct_result.rps:.0f} orders/s direct",
            ratio(gateway_result.rps, direct_result.rps),
        ),
        SummaryRow(
            "take order via gateway vs hello floor",
            f"{gateway_result.rps:.0f} req/s",
            f"{hello.rps:.0f} req/s hello",
            ratio(gateway_result.rps, hello.rps),
        ),
        SummaryRow(
            f"take order p95, c={c}",
            f"{gateway_result.p95:.1f} ms via gateway",
            f"{direct_result.p95:.1f} ms direct",
            ratio(gateway_result.p95, direct_result.p95),
            note="ratio of latencies: gateway p95 / direct p95 (lower is better)",
        ),
        SummaryRow(
            "take order: server CPU per order",
            f"{sum(routed.get(n, 0) for n in ('gateway', 'orders', 'sales')):.2f} ms (gateway "
            f"{routed.get('gateway', 0):.2f} + orders {routed.get('orders', 0):.2f} + sales "
            f"{routed.get('sales', 0):.2f})",
            f"{direct_result.cpu_ms_per_request.get('orders', 0) + direct_result.cpu_ms_per_request.get('sales', 0):.2f}"
            " ms direct (orders + sales)",
        ),
        SummaryRow(
            "order completed -> billing consumer p50",
            f"{percentile(relay_latencies, 50):.1f} ms",
            f"{percentile(raw, 50):.1f} ms raw produce->consume",
            ratio(percentile(relay_latencies, 50), percentile(raw, 50)),
            note="ratio of latencies: outbox path / raw Kafka path (lower is better)",
        ),
        SummaryRow(
            "order completed -> billing consumer p95",
            f"{percentile(relay_latencies, 95):.1f} ms",
            f"{percentile(raw, 95):.1f} ms raw produce->consume",
            ratio(percentile(relay_latencies, 95), percentile(raw, 95)),
        ),
    ]
    errors = sum(r.errors for r in (hello, direct_result, gateway_result, fulfilments)) + missing
    if errors:
        rows.append(SummaryRow("orders errors (wrong answers, events not received)", str(errors), "0", met=False))
    return rows


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """``shared``: --concurrency and --max-seconds already come from bench_api (run_all)."""
    defaults = OrdersOptions()
    parser.add_argument(
        "--order-customers",
        type=int,
        default=defaults.customers,
        help="customers seeded in sales for the orders benchmark",
    )
    parser.add_argument("--offerings", type=int, default=defaults.offerings, help="offerings in the catalogue")
    parser.add_argument("--orders", type=int, default=defaults.orders, help="measured orders taken per run")
    parser.add_argument(
        "--completions",
        type=int,
        default=defaults.completions,
        help="orders completed for the completed -> billing latency",
    )
    if not shared:
        parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="concurrent clients")
        parser.add_argument(
            "--max-seconds", type=float, default=defaults.max_seconds, help="time cap of each measured run"
        )


def options_from(args: argparse.Namespace) -> OrdersOptions:
    return OrdersOptions(
        customers=args.order_customers,
        offerings=args.offerings,
        orders=args.orders,
        completions=args.completions,
        concurrency=args.concurrency,
        max_seconds=args.max_seconds,
    )


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
