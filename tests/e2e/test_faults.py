"""Fault injection against the suite as `crm up --seed` starts it (SQLite databases, the embedded
broker, every process supervised by `crm up`), each fault while a writer creates customers through
the gateway:

- kill -9 of the broker: `crm up` starts it again (empty: it keeps nothing), the relays notice and
  publish their outboxes again, consumers converge;
- kill -9 of the sales service, at a point the test observed: its relay stopped by its test hook
  after 5 acknowledged events, before marking them sent; `crm up` starts sales again;
- SIGSTOP of the broker for 20 s: no write fails meanwhile, and sales' /metrics shows the backlog
  growing (read from the database, not from the stuck relay).

Afterwards, counted: every 201 has exactly one event id on crm.sales.customer.v1; no event is
applied twice (a consumer's inbox holds each event id once, and branch-stats' holds exactly the ids
on its topic); every projection equals its source: sales' branch statistics = its active customers,
sales' staff and branch directories = the gateway's users and branches, tickets' installed products
= orders' installed products.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crm_cli import services as registry
from crm_cli.testing import RunningSuite, descendants, sign_in
from crm_shared.identifiers import make_iin
from crm_shared.testing import read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CUSTOMER_TOPIC = "crm.sales.customer.v1"
CONVERGENCE_TIMEOUT_S = 120
# The writers' customers, by branch: almaty.agent places in ALA-01, karaganda.agent in KAR-01.
AGENTS = ("almaty.agent", "karaganda.agent")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Its own suite (the faults would disturb the other e2e tests' shared one), on SQLite as `make run`
    starts it, with the sales relay's test hook and relays that check an idle broker every second."""
    var = tmp_path_factory.mktemp("faults") / "var"
    env = {"CRM_SALES_RELAY_TEST_PAUSE_FILE": str(var / "sales-relay-pause")}
    for spec in registry.SERVICES:
        env[spec.env_name("outbox_broker_check_interval_s")] = "1"
    running_suite = RunningSuite(var, seed=True, env=env)
    with running_suite:
        yield running_suite


@pytest.fixture(autouse=True)
def suite_output_on_failure(request, suite):
    """A failed test shows what `crm up` and its processes said meanwhile (pytest prints it)."""
    failed_before, first_line = request.session.testsfailed, len(suite.lines)
    yield
    if request.session.testsfailed > failed_before:
        print("\n".join(suite.lines[first_line:][-400:]))


# --- the writer ------------------------------------------------------------------------------------


def letters(n: int) -> str:
    """n in base 26 as lowercase letters (names allow no digits)."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out = chr(ord("a") + digit) + out
        if not n:
            return out


@dataclass
class Write:
    started: float
    ended: float
    status: int
    customer_id: str | None
    retry_after: str | None
    detail: str = ""


@dataclass
class Writer:
    """Creates customers through the gateway, one after another, until stopped."""

    suite: RunningSuite
    writes: list[Write] = field(default_factory=list)
    _serials: Counter = field(default_factory=Counter)

    @property
    def created(self) -> list[str]:
        return [w.customer_id for w in self.writes if w.status == 201]

    async def run(self, stop: asyncio.Event) -> None:
        rnd = random.Random()
        phones = rnd.randrange(0, 5_000_000)  # a run's own block of numbers, under a prefix nobody else uses
        birth = date(1950 + rnd.randint(0, 50), rnd.randint(1, 12), rnd.randint(1, 28))
        async with httpx.AsyncClient(base_url=self.suite.gateway_url, timeout=60) as client:
            headers = [await sign_in(client, agent) for agent in AGENTS]
            n = 0
            while not stop.is_set():
                n += 1
                iin = None
                while iin is None:
                    self._serials[birth] += 1
                    iin = make_iin(birth, n % 2 == 0, self._serials[birth] % 10000)
                body = {
                    "kind": "individual",
                    "iin": iin,
                    "first_name": "Fault",
                    "last_name": "Writer" + letters(n),
                    "phone": f"+7699{(phones + n) % 10_000_000:07d}",
                }
                started = time.monotonic()
                try:
                    response = await client.post("/api/v1/sales/customers", headers=headers[n % 2], json=body)
                    status = response.status_code
                    customer_id = response.json().get("id") if status == 201 else None
                    retry_after = response.headers.get("retry-after")
                    detail = "" if status == 201 else response.text[:300]
                except httpx.HTTPError as exc:
                    status, customer_id, retry_after, detail = 0, None, None, repr(exc)
                self.writes.append(Write(started, time.monotonic(), status, customer_id, retry_after, detail))
                # paced well under the per-user rate limit (1200 a minute), however fast the machine
                await asyncio.sleep(0.2 if status != 201 else 0.1)

    async def until_created(self, more: int, timeout_s: float = 120) -> None:
        """Until ``more`` customers were created from now on (observed, not timed)."""
        target = len(self.created) + more
        deadline = time.monotonic() + timeout_s
        while len(self.created) < target:
            assert time.monotonic() < deadline, (
                f"{len(self.created)} created, waiting for {target}; failures by status "
                f"{Counter(w.status for w in self.failures())}, the last: {self.failures()[-3:]}"
            )
            await asyncio.sleep(0.05)

    def failures(self, between: tuple[float, float] = (0.0, float("inf"))) -> list[Write]:
        return [w for w in self.writes if w.status != 201 and w.started >= between[0] and w.ended <= between[1]]


@asynccontextmanager
async def writing(suite: RunningSuite):
    writer, stop = Writer(suite), asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    try:
        await writer.until_created(10)
        yield writer
    finally:
        stop.set()
        await asyncio.wait_for(task, 120)


# --- the suite's processes and databases ---------------------------------------------------------


def pid_of(suite: RunningSuite, needle: str) -> int:
    for pid in descendants(suite.proc.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            return pid
    raise AssertionError(f"no process of the suite runs {needle!r}")


def broker_pid(suite: RunningSuite) -> int:
    return pid_of(suite, "tansu")


async def until_output(suite: RunningSuite, text: str, *, after: int = 0, timeout_s: float = 120) -> None:
    """Until `crm up` printed a line containing ``text`` (among its lines from index ``after`` on)."""
    deadline = time.monotonic() + timeout_s
    while not any(text in line for line in suite.lines[after:]):
        assert time.monotonic() < deadline, f"`crm up` never said {text!r}:\n" + "\n".join(suite.lines[after:])
        await asyncio.sleep(0.1)


def query(suite: RunningSuite, service: str, sql: str) -> list[tuple]:
    """Rows from a service's SQLite database, read-only (WAL readers do not disturb the service)."""
    conn = sqlite3.connect(f"file:{suite.var_dir / (service + '.db')}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def scrape(suite: RunningSuite, service: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(f"http://127.0.0.1:{suite.port(service)}/metrics")).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("service") == service and not sample.labels.keys() - {"service"}
    }


# --- what must hold after every fault ---------------------------------------------------------------


def projection_differences(suite: RunningSuite) -> dict[str, tuple]:
    """Each projection against its source; empty when all agree."""
    differences = {}
    pairs = {
        "branch stats = active customers": (
            query(suite, "sales", "SELECT region_code, branch_code, kind, count FROM customer_counts WHERE count > 0"),
            query(
                suite,
                "sales",
                "SELECT region_code, branch_code, kind, count(*) FROM customers WHERE status = 'active' "
                "GROUP BY region_code, branch_code, kind",
            ),
        ),
        "staff directory = gateway users": (
            query(suite, "sales", "SELECT id, username, role, region_code, branch_code, active FROM staff_members"),
            query(suite, "gateway", "SELECT id, username, role, region_code, branch_code, active FROM users"),
        ),
        "branch directory = gateway branches": (
            query(suite, "sales", "SELECT code, region_code, active FROM branch_directory"),
            query(suite, "gateway", "SELECT code, region_code, active FROM branches"),
        ),
        "tickets' installed products = orders'": (
            query(suite, "tickets", "SELECT id, customer_id, status FROM installed_products"),
            query(suite, "orders", "SELECT id, customer_id, status FROM installed_products"),
        ),
    }
    for name, (projection, source) in pairs.items():
        if sorted(projection) != sorted(source):
            differences[name] = (sorted(set(projection) - set(source))[:5], sorted(set(source) - set(projection))[:5])
    return differences


def unsent(suite: RunningSuite) -> dict[str, int]:
    counts = {
        spec.name: query(suite, spec.name, "SELECT count(*) FROM outbox_events WHERE sent_at IS NULL")[0][0]
        for spec in registry.SERVICES
    }
    return {name: count for name, count in counts.items() if count}


def customer_events_not_applied(suite: RunningSuite) -> set[str]:
    """Events of the customer topic in sales' outbox that branch-stats has not applied (yet)."""
    return {
        event_id
        for (event_id,) in query(
            suite,
            "sales",
            f"SELECT event_id FROM outbox_events WHERE topic = '{CUSTOMER_TOPIC}' AND event_id NOT IN "
            "(SELECT event_id FROM inbox_records WHERE consumer = 'branch-stats')",
        )
    }


async def converged(suite: RunningSuite, writer: Writer) -> None:
    """Waits until every outbox is published, every projection equals its source and branch-stats
    has applied every customer event, then counts."""
    deadline = time.monotonic() + CONVERGENCE_TIMEOUT_S
    while unsent(suite) or projection_differences(suite) or customer_events_not_applied(suite):
        assert time.monotonic() < deadline, (
            f"not converged after {CONVERGENCE_TIMEOUT_S}s: unsent {unsent(suite)}, "
            f"projections {projection_differences(suite)}, "
            f"{len(customer_events_not_applied(suite))} customer events not applied by branch-stats"
        )
        await asyncio.sleep(0.5)

    created = writer.created
    assert len(created) == len(set(created)) >= 20
    outbox_ids = {
        event_id
        for (event_id,) in query(suite, "sales", f"SELECT event_id FROM outbox_events WHERE topic = '{CUSTOMER_TOPIC}'")
    }
    records = await read_topic(
        f"127.0.0.1:{suite.broker_port}",
        CUSTOMER_TOPIC,
        until=lambda got: outbox_ids <= {dict(r.headers)["ce_id"].decode() for r in got},
        timeout_s=CONVERGENCE_TIMEOUT_S,
    )
    created_events: dict[str, set[str]] = {}
    on_topic = set()
    for record in records:
        headers = {key: value.decode() for key, value in record.headers}
        on_topic.add(headers["ce_id"])
        if headers["ce_type"] == "crm.sales.customer.created":
            created_events.setdefault(headers["ce_subject"], set()).add(headers["ce_id"])
    assert all(len(created_events.get(customer, ())) == 1 for customer in created), (
        "a 201 without exactly one created event on the topic: "
        + str({c: created_events.get(c) for c in created if len(created_events.get(c, ())) != 1})
    )
    # each event applied once: one inbox row per (consumer, event id) in every service, and
    # branch-stats has applied exactly the events on its topic
    for spec in registry.SERVICES:
        repeated = query(
            suite,
            spec.name,
            "SELECT consumer, event_id FROM inbox_records GROUP BY consumer, event_id HAVING count(*) > 1",
        )
        assert repeated == [], (spec.name, repeated)
    applied = {
        event_id
        for (event_id,) in query(suite, "sales", "SELECT event_id FROM inbox_records WHERE consumer = 'branch-stats'")
    }
    assert applied == on_topic == outbox_ids


# --- the faults ------------------------------------------------------------------------------------


async def test_the_broker_killed_comes_back_and_every_projection_converges(suite: RunningSuite):
    async with writing(suite) as writer:
        metrics_before = await scrape(suite, "sales")
        await writer.until_created(10)
        # the kill lands after the sales relay has published some of the writer's events (observed)
        deadline = time.monotonic() + 60
        while (await scrape(suite, "sales")).get("crm_outbox_published_total", 0) < metrics_before.get(
            "crm_outbox_published_total", 0
        ) + 10:
            assert time.monotonic() < deadline, "the sales relay published nothing"
            await asyncio.sleep(0.2)
        mark = len(suite.lines)
        os.kill(broker_pid(suite), signal.SIGKILL)
        await until_output(suite, "restarted the broker", after=mark)
        await writer.until_created(20)
    assert writer.failures() == []  # the broker is not on the write path
    await converged(suite, writer)
    said = "\n".join(suite.lines[mark:])
    assert "broker was killed by SIGKILL" in said and "restarting it in" in said
    assert "the broker lost published events" in said  # a relay noticed, and published again
    assert (await scrape(suite, "sales")).get("crm_outbox_broker_resets_total", 0) >= 1
    assert suite.proc.poll() is None  # the suite kept running


async def test_the_sales_service_killed_comes_back_and_every_projection_converges(suite: RunningSuite):
    pause = suite.var_dir / "sales-relay-pause"
    paused = pause.with_name(pause.name + ".paused")
    async with writing(suite) as writer:
        mark = len(suite.lines)
        pause.write_text("5")  # the sales relay stops after 5 acknowledged events, before marking them
        deadline = time.monotonic() + 60
        while not paused.exists():
            assert time.monotonic() < deadline, "the sales relay never reached its test hook"
            await asyncio.sleep(0.05)
        sales_pid = int(paused.read_text().split()[0])
        assert sales_pid == pid_of(suite, "crm_sales.main:create_app")
        killed_at = time.monotonic()
        os.kill(sales_pid, signal.SIGKILL)
        await until_output(suite, "sales is ready again", after=mark)
        back_at = time.monotonic()
        await writer.until_created(20)
    await converged(suite, writer)
    said = "\n".join(suite.lines[mark:])
    assert "sales was killed by SIGKILL" in said and "restarted sales (pid" in said
    assert suite.proc.poll() is None
    assert pid_of(suite, "crm_sales.main:create_app") != sales_pid
    # while sales was down the gateway answered for it: 503 with Retry-After (or, for a request
    # in flight at the kill, 502); every other write succeeded
    for write in writer.failures():
        assert killed_at - 1 <= write.started <= back_at + 1, write
        assert write.status in (502, 503), write
        assert write.status != 503 or write.retry_after, write


async def test_a_frozen_broker_fails_no_write_and_metrics_show_the_backlog(suite: RunningSuite):
    async with writing(suite) as writer:
        pid = broker_pid(suite)
        os.kill(pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            await asyncio.sleep(15)  # the fault's length, not a guess about the suite's speed
            scraped_at = time.monotonic()
            during = await scrape(suite, "sales")
            await asyncio.sleep(max(0.0, 20 - (time.monotonic() - frozen_at)))
        finally:
            os.kill(pid, signal.SIGCONT)
        thawed_at = time.monotonic()
        await writer.until_created(20)
    assert writer.failures(between=(frozen_at, thawed_at)) == []
    frozen_writes = [w for w in writer.writes if frozen_at <= w.started and w.ended <= thawed_at]
    assert len(frozen_writes) >= 10, "the writer kept writing while the broker was frozen"
    # what /metrics said while the relay waited for the frozen broker: at least the customers created
    # since the freeze were waiting, the oldest of them since its 201 at the latest
    waiting = [w for w in frozen_writes if w.status == 201 and w.ended <= scraped_at]
    assert waiting, "customers were created while the broker was frozen"
    assert during["crm_outbox_backlog"] >= len(waiting)
    assert during["crm_outbox_oldest_unsent_age_seconds"] >= scraped_at - waiting[0].ended - 1
    await converged(suite, writer)
    assert suite.proc.poll() is None
