"""Analytics: ingest from Kafka into ClickHouse (chDB) against a raw aiokafka consume loop over the
same records, the dashboards' p95 on a loaded store, the freshness of one event, and the memory
of the process.

    .venv/bin/python -m bench.bench_analytics [--kafka-events 20000] [--store-events 1000000] [--queries 20]
    .venv/bin/python -m bench.bench_analytics --store-events 50000000      # the issue's size

1. ``--kafka-events`` synthetic events (crm_analytics.seed.demo_events: the services' topics, types
   and payload fields) are produced to an embedded broker. A raw loop (aiokafka, a new group,
   getmany until every record is read, nothing else) reads them; then the analytics service (its
   app, in this process, chDB embedded, PostgreSQL for the pseudonyms) ingests them from a new
   group. Both are timed from the consumer's start to the last record: the ratio ingest / raw.
2. Freshness: one more customer event published, and the time until the overview counts it.
3. ``--store-events`` more rows are made inside ClickHouse (crm_analytics.services.bulk_service),
   then every chart and the overview are asked ``--queries`` times through the API (in process,
   national, the last year): p50 and p95 of each.
4. RSS of the process (the service, the broker client and the benchmark) after all of that.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm_analytics.config import AnalyticsSettings
from crm_analytics.domain.dashboards import CHARTS
from crm_analytics.main import create_app
from crm_analytics.seed import demo_events
from crm_analytics.services import bulk_service
from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from crm_shared.broker import EmbeddedBroker, free_port
from crm_shared.kafka import ensure_topics, make_producer
from crm_shared.migrations import upgrade_async

from .common import SummaryRow, run_from_command_line, temporary_databases

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "analytics" / "migrations"
QUERY_TARGET_MS = 200.0
INGEST_TARGET = 0.5
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}


@dataclass
class AnalyticsOptions:
    kafka_events: int = 20_000
    store_events: int = 1_000_000
    queries: int = 20


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def produce(bootstrap: str, settings: AnalyticsSettings, count: int) -> dict[str, int]:
    producer = make_producer(settings, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    counts: dict[str, int] = {}
    try:
        pending = []
        for topic, event in demo_events(count, seed=3):
            pending.append(
                await producer.send(topic, event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers())
            )
            counts[topic] = counts.get(topic, 0) + 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts


async def raw_consume(bootstrap: str, topics: list[str], total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench.raw.{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            seen += sum(len(records) for records in batch.values())
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def run(options: AnalyticsOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[analytics] {message}", flush=True)

    rows: list[SummaryRow] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-analytics-") as tmp:
        broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log")
        await asyncio.to_thread(broker.start)
        try:
            async with temporary_databases() as databases:
                url = await databases.create("analytics")
                await upgrade_async(MIGRATIONS, url)
                secret = uuid.uuid4().hex * 2
                settings = AnalyticsSettings(
                    database_url=url,
                    kafka_bootstrap_servers=broker.bootstrap_servers,
                    clickhouse_path=str(Path(tmp) / "chdb"),
                    internal_token_secret=secret,
                    ingest_group_id="bench.analytics.ingest",
                    ingest_poll_ms=100,
                    relay_enabled=False,
                    # the ingest worker only: the erasure consumer (one transaction per customer
                    # event, for the erasures among them) is not what this measures
                    consumers_enabled=False,
                    monthly_reports_enabled=False,
                    log_json=False,
                    log_level="WARNING",
                )
                topics = sorted({topic for topic, _ in demo_events(200, seed=3)})
                await ensure_topics(broker.bootstrap_servers, [(t, 1) for t in topics])
                counts = await produce(broker.bootstrap_servers, settings, options.kafka_events)
                say(f"{options.kafka_events} events produced on {len(counts)} topics")
                raw_s = await raw_consume(broker.bootstrap_servers, topics, options.kafka_events)
                raw_rate = options.kafka_events / raw_s
                print(f"raw aiokafka consume loop: {raw_rate:.0f} events/s ({raw_s:.2f} s)", flush=True)

                app = create_app(settings)
                started = time.perf_counter()
                async with app.router.lifespan_context(app):
                    headers = {
                        INTERNAL_TOKEN_HEADER: issue_internal_token(
                            Principal("bench", "bench", Role.HQ_ANALYST), secret, ttl_s=24 * 3600
                        )
                    }
                    async with httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://analytics", timeout=120
                    ) as client:

                        async def customers() -> int:
                            answer = await client.get(
                                "/api/v1/analytics/dashboards/charts/customers_by_kind", params=PERIOD, headers=headers
                            )
                            return sum(row[1] for row in answer.json()["rows"])

                        async def ingested() -> int:
                            answer = await client.get(
                                "/api/v1/analytics/dashboards/charts/orders_by_state", params=PERIOD, headers=headers
                            )
                            return sum(r[1] for r in answer.json()["rows"])

                        while await ingested() < counts.get("crm.orders.order.v1", 0):
                            await asyncio.sleep(0.25)  # a light poll: the store serves one call at a time
                        ingest_s = time.perf_counter() - started
                        ingest_rate = options.kafka_events / ingest_s
                        print(f"analytics ingest into chDB: {ingest_rate:.0f} events/s ({ingest_s:.2f} s)", flush=True)
                        rows.append(
                            SummaryRow(
                                "analytics ingest Kafka -> chDB",
                                f"{ingest_rate:.0f} events/s",
                                f"{raw_rate:.0f} events/s raw aiokafka",
                                ingest_rate / raw_rate,
                                f">= {INGEST_TARGET}",
                                ingest_rate / raw_rate >= INGEST_TARGET,
                                note="both timed from the consumer's start (group join included) to the last record",
                            )
                        )

                        before = await customers()
                        one = [(t, e) for t, e in demo_events(1, seed=99)]
                        producer = make_producer(settings)
                        await producer.start()
                        sent = time.perf_counter()
                        for topic, event in one:
                            await producer.send_and_wait(
                                topic, event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers()
                            )
                        await producer.stop()
                        while await customers() <= before:
                            await asyncio.sleep(0.01)
                        fresh_ms = (time.perf_counter() - sent) * 1000
                        print(f"freshness: an event visible in a chart after {fresh_ms:.0f} ms", flush=True)
                        rows.append(SummaryRow("analytics freshness", f"{fresh_ms:.0f} ms", "", None))

                        store = next(c for c in app.state.runtime.clients.values() if c.name == "clickhouse")
                        loading = time.perf_counter()
                        await bulk_service.load_synthetic(store, options.store_events)
                        say(
                            f"{options.store_events} more rows made in ClickHouse in "
                            f"{time.perf_counter() - loading:.1f} s"
                        )
                        compacting = time.perf_counter()
                        compacted = await store.compact(quiet_s=0)
                        say(
                            f"{len(compacted)} partitions of the records compacted in "
                            f"{time.perf_counter() - compacting:.1f} s (what the service's compactor does "
                            "to a partition quiet for compaction_quiet_s)"
                        )
                        worst = 0.0
                        for path in ["overview", *[f"charts/{name}" for name in CHARTS]]:
                            timings = []
                            for _ in range(options.queries):
                                asked = time.perf_counter()
                                answer = await client.get(
                                    f"/api/v1/analytics/dashboards/{path}", params=PERIOD, headers=headers
                                )
                                assert answer.status_code == 200, answer.text
                                timings.append((time.perf_counter() - asked) * 1000)
                            timings.sort()
                            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                            worst = max(worst, p95 if path != "overview" else 0)
                            print(f"{path:45s} p50 {statistics.median(timings):7.1f} ms  p95 {p95:7.1f} ms", flush=True)
                        rows.append(
                            SummaryRow(
                                f"analytics worst chart p95 ({options.store_events + options.kafka_events} events)",
                                f"{worst:.0f} ms",
                                "",
                                None,
                                f"< {QUERY_TARGET_MS:.0f} ms",
                                worst < QUERY_TARGET_MS,
                                note="each chart through the API in process; the overview runs every chart",
                            )
                        )
                        memory = rss_mb()
                        print(f"RSS of the process: {memory:.0f} MB", flush=True)
                        rows.append(SummaryRow("analytics process RSS", f"{memory:.0f} MB", "", None))
        finally:
            broker.stop()
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kafka-events", type=int, default=AnalyticsOptions.kafka_events)
    parser.add_argument("--store-events", type=int, default=AnalyticsOptions.store_events)
    parser.add_argument("--queries", type=int, default=AnalyticsOptions.queries)


def options_from(args: argparse.Namespace) -> AnalyticsOptions:
    return AnalyticsOptions(kafka_events=args.kafka_events, store_events=args.store_events, queries=args.queries)


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
