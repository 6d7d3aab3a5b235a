"""API benchmark: the gateway's cost over calling the sales service directly, and both against
a bare FastAPI app on the same machine.

Set-up, as `crm up` does it but on PostgreSQL: fresh databases for sales and the gateway
(migrated with crm_shared.migrations), 100k customers in sales (``seed_bulk``), the gateway's
demo users, the embedded broker (Tansu) with the topic catalogue, then sales and the gateway
as uvicorn subprocesses with the argv and environment that ``crm_cli.plan.build_plan`` gives
`crm up`, and a bare "hello" app beside them (``bench.hello_app``, same uvicorn flags).

Measured with one closed-loop load generator (``bench.loadgen``), same concurrency, warm-up
first; every answer is checked (the right customer found, the customer created as sent):
- create customer (valid, unique IINs/BINs and phones) through the gateway vs directly to sales;
- search by phone (phones of seeded customers, in varied notations), gateway vs direct;
- the console's branch customer list: pages 0, 10, 50 and 200 (of 25, by cursor) of a branch
  agent's active customers by name, gateway vs direct (keyset paging: a deep page costs what the
  first one does);
- GET /hello on the bare app: the floor of this machine for one uvicorn worker.

    .venv/bin/python -m bench.bench_api [--customers 100000] [--requests 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from crm_cli import services as registry
from crm_cli.output import LinePrefixer
from crm_cli.plan import SuitePlan, build_plan
from crm_cli.supervisor import ChildSpec, StartupFailed, Supervisor
from crm_cli.testing import suite_ports
from crm_cli.topics import catalogue, create_topics, partitions_of
from crm_sales.seed import PhoneSample, sample_phones, seed_bulk, taken_identifiers
from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from crm_shared.broker import EmbeddedBroker, free_port
from crm_shared.db import Database
from crm_shared.identifiers import make_bin, make_iin
from crm_shared.migrations import upgrade_async
from crm_shared.settings import project_root

from .common import SummaryRow, run_from_command_line, temporary_databases
from .loadgen import Client, Request, Response, Result, measure, ratio

HOST = "127.0.0.1"
BENCHED_SERVICES = ("sales", "gateway")  # of the suite's processes, those started
CREATING_USER = "almaty.agent"  # a branch agent: registers customers in ALA-01
SEARCHING_USER = "callcenter"  # national scope: finds any caller by phone
DEMO_PASSWORD = "demo"
# High enough never to throttle the benchmark; the limiter stays on, so each request through
# the gateway still pays for its token-bucket upsert, as in production.
RATE_LIMIT_PER_MINUTE = 1_000_000_000
RATE_LIMIT_BURST = 1_000_000_000
SEARCH_P95_TARGET_MS = 20.0
GATEWAY_THROUGHPUT_TARGET = 0.6
PHONE_SAMPLE = 5000
READY_TIMEOUT_S = 180.0
IDLE_SECONDS = 5.0


@dataclass
class ApiOptions:
    customers: int = 100_000
    requests: int = 3000
    concurrency: int = 8
    max_seconds: float = 20.0  # per measured run: fewer requests than asked when time runs out
    warmup: int | None = None  # default: a tenth of --requests, at least 200
    unloaded_requests: int = 400  # the concurrency-1 search runs (latency without queueing)

    @property
    def warmup_requests(self) -> int:
        return self.warmup if self.warmup is not None else max(200, self.requests // 10)


# --- the phone notations people type -----------------------------------------------------------


def phone_notations(e164: str) -> list[str]:
    """ "+77011234567" as callers and agents write it (the service normalises every one)."""
    n = e164[2:]  # ten national digits
    return [
        e164,
        f"8{n}",
        f"8 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}",
        f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
        n,
        f"8({n[:3]}){n[3:]}",
        f"+7 {n[:3]} {n[3:6]} {n[6:]}",
    ]


class NewCustomers:
    """Create-customer bodies with valid identifiers and phones that no customer has yet."""

    FIRST = ("Aigerim", "Daniyar", "Dana", "Arman", "Saule", "Yerlan", "Madina", "Timur", "Ольга", "Сергей")
    LAST = ("Nurlanova", "Abenov", "Zhumabekova", "Sadykov", "Omarova", "Kassymov", "Иванова", "Ким")
    STREETS = ("Abay Ave", "Dostyk Ave", "Tole Bi St", "Satpayev St", "Al-Farabi Ave")

    def __init__(self, taken: set[str], seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.taken = taken  # tax ids and E.164 phones already in the database

    def _fresh(self, make) -> str:
        while True:
            value = make()
            if value and value not in self.taken:
                self.taken.add(value)
                return value

    def _phone(self) -> str:
        return self._fresh(
            lambda: (
                f"+77{self.rng.choice(('00', '01', '02', '05', '07', '47', '71', '77'))}"
                f"{self.rng.randrange(10_000_000):07d}"
            )
        )

    def body(self) -> dict:
        rng = self.rng
        phone = self._phone()
        common = {
            "phone": rng.choice(phone_notations(phone)),
            "email": f"client{rng.randrange(10**6)}@example.kz",
            "language": rng.choice(("kk", "ru", "en")),
            "data_processing_consent": True,
            "marketing_consent": rng.random() < 0.4,
            "addresses": [
                {
                    "kind": "registration",
                    "city": "Almaty",
                    "street": rng.choice(self.STREETS),
                    "building": str(rng.randrange(1, 250)),
                    "apartment": str(rng.randrange(1, 180)),
                    "postal_code": "050000",
                }
            ],
        }
        if rng.random() < 0.8:
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
            iin = self._fresh(lambda: make_iin(born, rng.random() < 0.5, rng.randrange(10000)))
            return {
                "kind": "individual",
                "iin": iin,
                "first_name": rng.choice(self.FIRST),
                "last_name": rng.choice(self.LAST),
                "middle_name": "Serikovich",
                **common,
            }
        registered = date(1995, 1, 1) + timedelta(days=rng.randrange(365 * 29))
        bin_ = self._fresh(lambda: make_bin(registered, 4, rng.randrange(100000)))
        return {
            "kind": "business",
            "bin": bin_,
            "legal_name": "Steppe Logistics",
            "legal_form": "LLP",
            "contacts": [{"name": "Serik Akhmetov", "position": "Director", "phone": self._phone()}],
            **common,
        }


# --- set-up --------------------------------------------------------------------------------------


async def seed_sales(url: str, customers: int) -> tuple[list[PhoneSample], set[str]]:
    """``customers`` customers via seed_bulk; returns a sample of their phones (with the customer
    id) and every tax id and phone now taken."""
    db = Database(url)
    try:
        await seed_bulk(db, customers, seed=20250101)
        sample = await sample_phones(db, PHONE_SAMPLE)
        taken = await taken_identifiers(db)
    finally:
        await db.dispose()
    return sample, taken


async def seed_gateway_users(plan: SuitePlan) -> None:
    process = plan.gateway
    db = Database(process.database_url)
    try:
        settings = registry.settings_for(
            process.spec,
            database_url=process.database_url,
            internal_token_secret=plan.internal_token_secret,
            kafka_bootstrap_servers=plan.kafka_bootstrap,
        )
        with contextlib.redirect_stdout(sys.stderr):  # its banner line is not a figure
            await registry.run_seed(process.spec, db, settings)
    finally:
        await db.dispose()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU spent by the servers and by the load generator during one measured run: on a shared
    2-core machine a steadier figure than requests/s, and it says which process the time went to."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: process_cpu_seconds(pid) for name, pid in self.pids.items()} | {
            "load generator": time.process_time()
        }

    def start(self) -> None:
        self._start = self._now()

    def per_request_ms(self, requests: int) -> dict[str, float]:
        now = self._now()
        return {name: (now[name] - self._start[name]) * 1000 / max(requests, 1) for name in now}


class Suite:
    """The broker, sales, the gateway and the hello app, started and stopped together."""

    def __init__(self, plan: SuitePlan, log_path: Path) -> None:
        self.plan = plan
        self.log = open(log_path, "w", encoding="utf-8")
        self.printer = LinePrefixer(self.log, colour=False, tail_lines=30)
        self.supervisor = Supervisor(self.printer, cwd=str(project_root()))
        self.broker = EmbeddedBroker(HOST, plan.broker_port, log_path=plan.broker_log)
        self.hello_port = free_port()

    def pid_of(self, name: str) -> int:
        return next(child.pid for child in self.supervisor.children if child.name == name)

    @property
    def hello_url(self) -> str:
        return f"http://{HOST}:{self.hello_port}"

    def url_of(self, name: str) -> str:
        process = next(p for p in self.plan.processes if p.name == name)
        return f"http://{HOST}:{process.http_port}"

    async def start(self) -> None:
        await asyncio.to_thread(self.broker.start)
        await create_topics(self.plan.kafka_bootstrap, partitions_of(catalogue()))
        # Started from this (the main) thread: the children's parent-death signal follows it.
        for process in self.plan.processes:
            env = dict(process.env)
            if process.spec.is_gateway:
                env[process.spec.env_name("rate_limit_per_minute")] = str(RATE_LIMIT_PER_MINUTE)
                env[process.spec.env_name("rate_limit_burst")] = str(RATE_LIMIT_BURST)
            self.supervisor.start(ChildSpec(process.name, process.argv, env, process.ready_url))
        self.supervisor.start(
            ChildSpec(
                "hello",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.hello_app:create_app",
                    "--factory",
                    "--host",
                    HOST,
                    "--port",
                    str(self.hello_port),
                    "--no-access-log",
                ],
                {},
                f"{self.hello_url}/hello",
            )
        )
        try:
            await asyncio.to_thread(self.supervisor.wait_ready, READY_TIMEOUT_S)
        except StartupFailed as failure:
            raise RuntimeError(f"{failure}; its last lines:\n  " + "\n  ".join(failure.last_lines)) from None

    async def stop(self) -> None:
        try:
            await asyncio.to_thread(self.supervisor.stop_all)
        finally:
            self.broker.stop()
            self.log.close()


async def sign_in(gateway: Client, username: str) -> tuple[str, Principal]:
    """The user's access token, and the principal the gateway forwards for them (from /auth/me)."""
    form = urlencode({"username": username, "password": DEMO_PASSWORD}).encode()
    answer = await gateway.send(
        Request("POST", "/api/v1/auth/token", form, (("content-type", "application/x-www-form-urlencoded"),))
    )
    if answer.status != 200:
        raise RuntimeError(f"signing in as {username} failed: HTTP {answer.status} {answer.body[:300]!r}")
    token = answer.json()["access_token"]
    me = await Client(f"http://{gateway.host}:{gateway.port}", {"authorization": f"Bearer {token}"}).send(
        Request.get("/api/v1/auth/me")
    )
    claims = me.json()
    principal = Principal(
        subject=claims["id"],
        username=claims["username"],
        role=Role(claims["role"]),
        region=claims["region"],
        branch=claims["branch"],
        scopes=tuple(claims["scopes"]),
    )
    return token, principal


# --- the workloads -------------------------------------------------------------------------------


def search_workload(sample: list[PhoneSample]):
    def make(i: int) -> Request:
        e164 = sample[i % len(sample)].e164
        notations = phone_notations(e164)
        return Request.get(
            "/api/v1/sales/customers?phone=" + quote(notations[(i // len(sample) + i) % len(notations)], safe="")
        )

    def check(i: int, response: Response) -> str | None:
        expected_id = sample[i % len(sample)].customer_id
        items = response.json()["items"]
        if [item["id"] for item in items] != [expected_id]:
            return f"expected customer {expected_id}, found {[item['id'] for item in items]}"
        return None

    return make, check


LIST_PAGE_SIZE = 25
LIST_DEPTHS = (0, 10, 50, 200)  # pages into the branch's list, by cursor


def list_path(cursor: str | None) -> str:
    """The console's branch customer list, as it asks for a page (active customers by name)."""
    return f"/api/v1/sales/customers?status=active&limit={LIST_PAGE_SIZE}" + (
        f"&cursor={quote(cursor, safe='')}" if cursor else ""
    )


async def list_cursors(client: Client) -> list[str | None]:
    """Cursors of pages at LIST_DEPTHS of the caller's list (as far as the list goes), found by
    walking it once: the list workload then asks for shallow and deep pages alike."""
    cursors, cursor = [], None
    for page in range(max(LIST_DEPTHS) + 1):
        if page in LIST_DEPTHS:
            cursors.append(cursor)
        cursor = json.loads((await client.send(Request.get(list_path(cursor)))).body)["next_cursor"]
        if cursor is None:
            break
    return cursors


def list_workload(cursors: list[str | None]):
    def make(i: int) -> Request:
        return Request.get(list_path(cursors[i % len(cursors)]))

    def check(i: int, response: Response) -> str | None:
        items = response.json()["items"]
        if len(items) != LIST_PAGE_SIZE:
            return f"expected a full page of {LIST_PAGE_SIZE}, got {len(items)}"
        return None

    return make, check


def create_workload(customers: NewCustomers):
    sent: dict[int, dict] = {}

    def make(i: int) -> Request:
        body = customers.body()
        sent[i] = body
        return Request.post_json("/api/v1/sales/customers", body)

    def check(i: int, response: Response) -> str | None:
        body, created = sent.pop(i), response.json()
        key = "iin" if body["kind"] == "individual" else "bin"
        if created.get(key) != body[key] or created.get("branch_code") != "ALA-01" or created.get("version") != 1:
            return f"created {created.get(key)} in {created.get('branch_code')}, sent {body[key]}"
        return None

    return make, check


def throughput_row(name: str, gateway: Result, direct: Result) -> SummaryRow:
    value = ratio(gateway.rps, direct.rps)
    return SummaryRow(
        name,
        f"{gateway.rps:.0f} req/s via gateway",
        f"{direct.rps:.0f} req/s direct",
        value,
        f">= {GATEWAY_THROUGHPUT_TARGET:.2f}",
        value >= GATEWAY_THROUGHPUT_TARGET,
    )


def cpu_row(kind: str, gateway: Result, direct: Result, hello: Result) -> SummaryRow:
    """Server CPU per request: gateway + sales when routed, sales alone when direct."""
    routed = gateway.cpu_ms_per_request
    servers = routed.get("gateway", 0.0) + routed.get("sales", 0.0)
    return SummaryRow(
        f"{kind}: server CPU per request",
        f"{servers:.2f} ms (gateway {routed.get('gateway', 0):.2f} + sales {routed.get('sales', 0):.2f})",
        f"{direct.cpu_ms_per_request.get('sales', 0):.2f} ms direct; hello "
        f"{hello.cpu_ms_per_request.get('hello', 0):.2f} ms",
        ratio(servers, direct.cpu_ms_per_request.get("sales", 0.0)),
        note="ratio of CPU: (gateway + sales) / sales direct (lower is better)",
    )


async def run(options: ApiOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[api] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="crm-bench-api-") as tmp:
        async with temporary_databases() as databases, contextlib.AsyncExitStack() as stack:
            env = suite_ports()
            for name in BENCHED_SERVICES:
                env[registry.get_service(name).env_name("database_url")] = await databases.create(name)
            plan = build_plan(env=env, var_dir=Path(tmp), internal_token_secret=secrets.token_urlsafe(48))
            # Only what is measured competes for the CPUs; the gateway's readiness does not need
            # its other upstreams, and their routes are not called.
            plan.processes = [process for process in plan.processes if process.name in BENCHED_SERVICES]
            started = time.perf_counter()
            for process in plan.processes:
                await upgrade_async(process.spec.migrations_path(), process.database_url)
            sales = next(p for p in plan.processes if p.name == "sales")
            sample, taken = await seed_sales(sales.database_url, options.customers)
            await seed_gateway_users(plan)
            say(
                f"PostgreSQL databases migrated; {options.customers} customers seeded (seed_bulk), gateway demo "
                f"users seeded ({time.perf_counter() - started:.1f} s)"
            )

            suite = Suite(plan, Path(tmp) / "processes.log")
            stack.push_async_callback(suite.stop)
            started = time.perf_counter()
            await suite.start()
            say(
                f"broker, sales, gateway and hello app up as uvicorn subprocesses, argv and environment as `crm up` "
                f"gives them (spans to a JSON-lines file) ({time.perf_counter() - started:.1f} s)"
            )
            say(
                f"gateway rate limit set to {RATE_LIMIT_PER_MINUTE:.0e}/min, burst {RATE_LIMIT_BURST:.0e}: "
                "high enough never to throttle; the limiter stays on, so every gateway request still pays "
                "for its token-bucket upsert"
            )
            say(
                f"each run: {options.warmup_requests} warm-up requests, then {options.requests} measured (or as "
                f"many as {options.max_seconds:g} s allow), {options.concurrency} concurrent keep-alive clients; "
                "every answer checked"
            )

            idle = CpuMeter({name: suite.pid_of(name) for name in ("sales", "gateway", "hello")})
            idle.start()
            await asyncio.sleep(IDLE_SECONDS)
            idle_ms = idle.per_request_ms(1)
            say(
                f"CPU while idle (no requests, {IDLE_SECONDS:g} s; background workers only): "
                + ", ".join(
                    f"{name} {idle_ms[name] / IDLE_SECONDS / 10:.1f}% of a core"
                    for name in ("sales", "gateway", "hello")
                )
            )

            gateway = Client(suite.url_of("gateway"))
            results: dict[str, Result] = {}

            async def run_pair(
                kind: str, username: str, workload, *, requests: int, concurrency: int, suffix: str = ""
            ) -> tuple[Result, Result]:
                token, principal = await sign_in(gateway, username)
                via_gateway = Client(suite.url_of("gateway"), {"authorization": f"Bearer {token}"})
                direct = Client(
                    suite.url_of("sales"),
                    {INTERNAL_TOKEN_HEADER: issue_internal_token(principal, plan.internal_token_secret, ttl_s=3600)},
                )
                pair = []
                for label, client, servers in (
                    ("direct to sales", direct, ("sales",)),
                    ("through the gateway", via_gateway, ("gateway", "sales")),
                ):
                    make, check = workload()
                    cpu = CpuMeter({name: suite.pid_of(name) for name in servers})
                    result = await measure(
                        f"{kind} {label}{suffix}",
                        client,
                        make,
                        total=requests,
                        warmup=options.warmup_requests,
                        concurrency=concurrency,
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

            cpu = CpuMeter({"hello": suite.pid_of("hello")})
            hello = await measure(
                "GET /hello on the bare FastAPI app",
                Client(suite.hello_url),
                lambda i: Request.get("/hello"),
                total=options.requests,
                warmup=options.warmup_requests,
                concurrency=options.concurrency,
                max_seconds=options.max_seconds,
                on_start=cpu.start,
            )
            hello.cpu_ms_per_request = cpu.per_request_ms(hello.requests)
            print(hello.line(), flush=True)
            results["search_direct"], results["search_gateway"] = await run_pair(
                "search by phone",
                SEARCHING_USER,
                lambda: search_workload(sample),
                requests=options.requests,
                concurrency=options.concurrency,
            )
            token, principal = await sign_in(gateway, CREATING_USER)
            cursors = await list_cursors(Client(suite.url_of("gateway"), {"authorization": f"Bearer {token}"}))
            say(
                f"branch list of {CREATING_USER}: pages {', '.join(str(d) for d in LIST_DEPTHS[: len(cursors)])} "
                f"of {LIST_PAGE_SIZE} customers, by cursor"
            )
            results["list_direct"], results["list_gateway"] = await run_pair(
                "branch customer list page",
                CREATING_USER,
                lambda: list_workload(cursors),
                requests=options.requests,
                concurrency=options.concurrency,
            )
            customers = NewCustomers(taken)
            results["create_direct"], results["create_gateway"] = await run_pair(
                "create customer",
                CREATING_USER,
                lambda: create_workload(customers),
                requests=options.requests,
                concurrency=options.concurrency,
            )
            search_direct_1, search_gateway_1 = await run_pair(
                "search by phone",
                SEARCHING_USER,
                lambda: search_workload(sample),
                requests=options.unloaded_requests,
                concurrency=1,
                suffix=" (unloaded)",
            )

    search_direct, search_gateway = results["search_direct"], results["search_gateway"]
    create_direct, create_gateway = results["create_direct"], results["create_gateway"]
    errors = sum(
        r.errors
        for r in (
            hello,
            search_direct,
            search_gateway,
            create_direct,
            create_gateway,
            search_direct_1,
            search_gateway_1,
            results["list_direct"],
            results["list_gateway"],
        )
    )
    c = options.concurrency
    rows = [
        SummaryRow(
            f"search by phone p95, c={c}",
            f"{search_gateway.p95:.1f} ms via gateway",
            f"{search_direct.p95:.1f} ms direct",
            ratio(search_gateway.p95, search_direct.p95),
            f"< {SEARCH_P95_TARGET_MS:.0f} ms",
            search_gateway.p95 < SEARCH_P95_TARGET_MS,
            note="ratio of latencies: gateway p95 / direct p95 (lower is better)",
        ),
        SummaryRow(
            "search by phone p95, c=1",
            f"{search_gateway_1.p95:.1f} ms via gateway",
            f"{search_direct_1.p95:.1f} ms direct",
            ratio(search_gateway_1.p95, search_direct_1.p95),
            f"< {SEARCH_P95_TARGET_MS:.0f} ms",
            search_gateway_1.p95 < SEARCH_P95_TARGET_MS,
        ),
        throughput_row(f"search by phone throughput, c={c}", search_gateway, search_direct),
        throughput_row(f"create customer throughput, c={c}", create_gateway, create_direct),
        SummaryRow(
            f"branch list page (pages 0-{max(LIST_DEPTHS)} by cursor) p95, c={c}",
            f"{results['list_gateway'].p95:.1f} ms via gateway",
            f"{results['list_direct'].p95:.1f} ms direct",
            ratio(results["list_gateway"].p95, results["list_direct"].p95),
        ),
        SummaryRow(
            f"branch list page throughput, c={c}",
            f"{results['list_gateway'].rps:.0f} req/s via gateway",
            f"{results['list_direct'].rps:.0f} req/s direct",
            ratio(results["list_gateway"].rps, results["list_direct"].rps),
        ),
        SummaryRow(
            "search via gateway vs hello floor",
            f"{search_gateway.rps:.0f} req/s",
            f"{hello.rps:.0f} req/s hello",
            ratio(search_gateway.rps, hello.rps),
        ),
        SummaryRow(
            "create via gateway vs hello floor",
            f"{create_gateway.rps:.0f} req/s",
            f"{hello.rps:.0f} req/s hello",
            ratio(create_gateway.rps, hello.rps),
        ),
        SummaryRow(
            "create customer p95",
            f"{create_gateway.p95:.1f} ms via gateway",
            f"{create_direct.p95:.1f} ms direct",
            ratio(create_gateway.p95, create_direct.p95),
        ),
        cpu_row("search by phone", search_gateway, search_direct, hello),
        cpu_row("create customer", create_gateway, create_direct, hello),
    ]
    if errors:
        rows.append(SummaryRow("API errors (wrong or failed answers)", str(errors), "0", met=False))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ApiOptions()
    parser.add_argument("--customers", type=int, default=defaults.customers, help="customers seeded in sales")
    parser.add_argument("--requests", type=int, default=defaults.requests, help="measured requests per run")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="concurrent clients")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=defaults.max_seconds,
        help="time cap of each measured run (the warm-up gets a quarter of it)",
    )
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per run (default requests/10)")


def options_from(args: argparse.Namespace) -> ApiOptions:
    return ApiOptions(
        customers=args.customers,
        requests=args.requests,
        concurrency=args.concurrency,
        max_seconds=args.max_seconds,
        warmup=args.warmup,
    )


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
