"""Search benchmark: the one search box (GET /api/v1/search) through the gateway with N customers
in sales on PostgreSQL, against the phone look-up through the gateway in the same run.

Set-up as bench_api's: fresh PostgreSQL databases for sales, tickets, orders and the gateway
(migrated), N customers in sales (``seed_bulk``: Kazakh and Russian names, some businesses), the
gateway's demo users, the broker, then the four as uvicorn subprocesses with the argv and
environment that `crm up` gives them. The search fans out to sales, tickets and orders.

Measured through the gateway as the call centre (national scope, identifiers masked), closed
loop, warm-up first, every answer checked:
- the search box by names: a first name, a surname, "first last", "last first", and a surname
  spelt in Latin letters when it is stored in Cyrillic (search_text_of), of customers sampled at
  random; the answer must hold customers;
- the search box by a phone in varied notations (the customer must be the one found);
- the baseline: GET /api/v1/sales/customers?phone= (the caller-ID look-up) through the gateway;
- by name and the baseline again with one client (c=1): latency without queueing.

    .venv/bin/python -m bench.bench_search [--search-customers 20000] [--search-requests 1000]
    .venv/bin/python -m bench.bench_search --search-at-scale     # the issue's scale: 1 000 000 customers
"""

from __future__ import annotations

import argparse
import contextlib
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from crm_cli import services as registry
from crm_cli.plan import build_plan
from crm_cli.testing import suite_ports
from crm_sales.domain.customers import search_text_of
from crm_sales.seed import CustomerRow, sample_customers
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async

from .bench_api import Suite, phone_notations, seed_gateway_users, seed_sales, sign_in
from .common import SummaryRow, run_from_command_line, temporary_databases
from .loadgen import Client, Request, Response, measure, ratio

BENCHED_SERVICES = ("sales", "tickets", "orders", "gateway")
SEARCHING_USER = "callcenter"
SEARCH_P95_TARGET_MS = 50.0
AT_SCALE = 1_000_000  # customers: the scale (--search-at-scale)
NAME_SAMPLE = 2000
PAGE = 10


@dataclass
class SearchOptions:
    customers: int = 20_000
    requests: int = 1000
    concurrency: int = 8
    max_seconds: float = 20.0
    warmup: int | None = None

    @property
    def warmup_requests(self) -> int:
        return self.warmup if self.warmup is not None else max(100, self.requests // 10)


def name_queries(rows: list[CustomerRow], seed: int = 11) -> list[str]:
    """What people type for these customers: parts of the name in any order, in the stored script
    or in Latin letters."""
    rng = random.Random(seed)
    queries = []
    for row in rows:
        if row.kind != "individual" or not row.first_name or not row.last_name:
            words = (row.legal_name or "").split()
            queries.append(" ".join(words[:2]) if words else "")
            continue
        first, last = row.first_name, row.last_name
        queries.append(
            rng.choice((first, last, f"{first} {last}", f"{last} {first}", search_text_of(last), f"{last[:4]} {first}"))
        )
    return [q for q in queries if len(q) >= 2]


def search_path(q: str) -> str:
    return f"/api/v1/search?limit={PAGE}&q=" + quote(q, safe="")


def names_workload(queries: list[str]):
    def make(i: int) -> Request:
        return Request.get(search_path(queries[i % len(queries)]))

    def check(i: int, response: Response) -> str | None:
        body = response.json()
        if body["unavailable"]:
            return f"unavailable: {body['unavailable']}"
        if not any(item["type"] == "customer" for item in body["items"]):
            return f"no customer found for {queries[i % len(queries)]!r}"
        return None

    return make, check


def phone_workload(sample, path_of):
    def make(i: int) -> Request:
        notations = phone_notations(sample[i % len(sample)].e164)
        return Request.get(path_of(notations[(i // len(sample) + i) % len(notations)]))

    def check(i: int, response: Response) -> str | None:
        expected = sample[i % len(sample)].customer_id
        ids = [item["id"] for item in response.json()["items"] if item.get("type", "customer") == "customer"]
        return None if ids == [expected] else f"expected customer {expected}, found {ids}"

    return make, check


async def run(options: SearchOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[search] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="crm-bench-search-") as tmp:
        async with temporary_databases() as databases, contextlib.AsyncExitStack() as stack:
            env = suite_ports()
            for name in BENCHED_SERVICES:
                env[registry.get_service(name).env_name("database_url")] = await databases.create(name)
            plan = build_plan(env=env, var_dir=Path(tmp), internal_token_secret=secrets.token_urlsafe(48))
            plan.processes = [process for process in plan.processes if process.name in BENCHED_SERVICES]
            started = time.perf_counter()
            for process in plan.processes:
                await upgrade_async(process.spec.migrations_path(), process.database_url)
            sales = next(p for p in plan.processes if p.name == "sales")
            phones, _ = await seed_sales(sales.database_url, options.customers)
            db = Database(sales.database_url)
            try:
                queries = name_queries(await sample_customers(db, NAME_SAMPLE))
            finally:
                await db.dispose()
            await seed_gateway_users(plan)
            say(
                f"PostgreSQL databases migrated; {options.customers} customers seeded (seed_bulk), "
                f"{len(queries)} name queries sampled ({time.perf_counter() - started:.1f} s)"
            )
            suite = Suite(plan, Path(tmp) / "processes.log")
            stack.push_async_callback(suite.stop)
            await suite.start()
            say(
                f"broker, {', '.join(BENCHED_SERVICES)} up as `crm up` starts them; each run: "
                f"{options.warmup_requests} warm-up requests, then {options.requests} measured (or as many as "
                f"{options.max_seconds:g} s allow), {options.concurrency} concurrent clients, every answer checked"
            )
            token, _ = await sign_in(Client(suite.url_of("gateway")), SEARCHING_USER)
            gateway = Client(suite.url_of("gateway"), {"authorization": f"Bearer {token}"})

            async def run_one(label: str, workload, concurrency: int = options.concurrency):
                make, check = workload
                result = await measure(
                    label,
                    gateway,
                    make,
                    total=options.requests if concurrency > 1 else max(100, options.requests // 4),
                    warmup=options.warmup_requests,
                    concurrency=concurrency,
                    max_seconds=options.max_seconds,
                    check=check,
                )
                print(result.line(), flush=True)
                if result.errors:
                    print("    first errors: " + "; ".join(result.first_errors), flush=True)
                return result

            baseline = await run_one(
                "phone look-up (sales/customers?phone=) via gateway",
                phone_workload(phones, lambda typed: "/api/v1/sales/customers?phone=" + quote(typed, safe="")),
            )
            by_name = await run_one("search box by name (search?q=) via gateway", names_workload(queries))
            by_phone = await run_one("search box by phone (search?q=) via gateway", phone_workload(phones, search_path))
            baseline_1 = await run_one(
                "phone look-up via gateway (unloaded)",
                phone_workload(phones, lambda typed: "/api/v1/sales/customers?phone=" + quote(typed, safe="")),
                concurrency=1,
            )
            by_name_1 = await run_one(
                "search box by name via gateway (unloaded)", names_workload(queries), concurrency=1
            )

    c, n = options.concurrency, options.customers
    rows = [
        SummaryRow(
            f"search box by name p95, {n} customers, c={c}",
            f"{by_name.p95:.1f} ms via gateway",
            f"{baseline.p95:.1f} ms phone look-up",
            ratio(by_name.p95, baseline.p95),
            f"< {SEARCH_P95_TARGET_MS:.0f} ms",
            by_name.p95 < SEARCH_P95_TARGET_MS,
            note="ratio of latencies: search p95 / phone look-up p95 (lower is better)",
        ),
        SummaryRow(
            f"search box by name p95, {n} customers, c=1",
            f"{by_name_1.p95:.1f} ms via gateway",
            f"{baseline_1.p95:.1f} ms phone look-up",
            ratio(by_name_1.p95, baseline_1.p95),
            f"< {SEARCH_P95_TARGET_MS:.0f} ms",
            by_name_1.p95 < SEARCH_P95_TARGET_MS,
        ),
        SummaryRow(
            f"search box by phone p95, {n} customers, c={c}",
            f"{by_phone.p95:.1f} ms via gateway",
            f"{baseline.p95:.1f} ms phone look-up",
            ratio(by_phone.p95, baseline.p95),
            f"< {SEARCH_P95_TARGET_MS:.0f} ms",
            by_phone.p95 < SEARCH_P95_TARGET_MS,
        ),
        SummaryRow(
            f"search box by name throughput, c={c}",
            f"{by_name.rps:.0f} req/s",
            f"{baseline.rps:.0f} req/s phone look-up",
            ratio(by_name.rps, baseline.rps),
        ),
    ]
    errors = sum(r.errors for r in (by_name, by_phone, baseline, by_name_1, baseline_1))
    if errors:
        rows.append(SummaryRow("search errors (wrong or failed answers)", str(errors), "0", met=False))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Own flag names (--search-*), so that run_all can take them beside bench_api's."""
    defaults = SearchOptions()
    parser.add_argument(
        "--search-customers", type=int, default=defaults.customers, help="customers seeded (1000000: the target)"
    )
    parser.add_argument(
        "--search-at-scale",
        action="store_true",
        help=f"{AT_SCALE} customers on PostgreSQL (bulk-loaded by seed_bulk, not through the API): the target's scale",
    )
    parser.add_argument("--search-requests", type=int, default=defaults.requests, help="measured requests per run")
    parser.add_argument("--search-concurrency", type=int, default=defaults.concurrency, help="concurrent clients")
    parser.add_argument("--search-max-seconds", type=float, default=defaults.max_seconds, help="time cap of each run")


def options_from(args: argparse.Namespace) -> SearchOptions:
    return SearchOptions(
        customers=AT_SCALE if args.search_at_scale else args.search_customers,
        requests=args.search_requests,
        concurrency=args.search_concurrency,
        max_seconds=args.search_max_seconds,
    )


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
