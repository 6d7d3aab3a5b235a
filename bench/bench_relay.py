"""Outbox relay benchmark: events/s from a service database's outbox to the broker, next to a
raw aiokafka produce loop of the same records to the same broker in the same run.

- the relay: N ``crm.sales.customer.created`` events (a realistic customer payload, built with
  the service's own ``customer_state``) are written into a fresh sales database's outbox with
  its ``EventWriter`` (``crm_sales.seed.seed_customer_events``), then drained the way
  ``OutboxRelay`` does it: ``publish_pending`` in a loop under ``RelayLeadership``, batch size
  ``outbox_batch_size``, a producer from ``make_producer``, tracing installed as in a service
  started by `crm up` (spans to a JSON-lines file). Timed from the first pass to the last event
  marked sent.
- the baseline: the same N records (same keys, values and headers) sent with ``producer.send``
  in a loop by a producer with the same options, then every acknowledgement awaited.

PostgreSQL always; SQLite (the embedded default) as an extra line. The broker is the embedded
Tansu on a free port.

    .venv/bin/python -m bench.bench_relay [--events 20000] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update

from crm_cli import services as registry
from crm_sales.config import SalesSettings
from crm_sales.seed import CUSTOMER_EVENTS_TOPIC as TOPIC
from crm_sales.seed import seed_customer_events
from crm_shared.broker import EmbeddedBroker, free_port
from crm_shared.db import Database
from crm_shared.kafka import ensure_topics, make_producer
from crm_shared.migrations import upgrade_async
from crm_shared.models import OutboxEvent
from crm_shared.outbox import as_cloud_event
from crm_shared.relay import RelayLeadership, publish_pending
from crm_shared.telemetry import setup_tracing, shutdown_tracing

from .common import SummaryRow, run_from_command_line, temporary_databases

RELAY_TARGET = 0.5
PARTITIONS = 3  # as the topic catalogue gives crm.sales.customer.v1
WRITE_BATCH = 1000


@dataclass
class RelayOptions:
    events: int = 20_000
    sqlite: bool = True
    # as a service's default (trace_sample_ratio): the share of events written under a sampled trace
    trace_sample_ratio: float = SalesSettings().trace_sample_ratio


@dataclass
class Throughput:
    label: str
    events: int
    seconds: float
    cpu_seconds: float  # of this process (the relay or the producer loop), all threads

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds * 1e6 / self.events if self.events else float("nan")

    def line(self) -> str:
        return (
            f"{self.label:<40} {self.events:>7} events {self.seconds:>7.2f} s {self.per_second:>7.0f} events/s"
            f"  CPU {self.cpu_us_per_event:>5.0f} us/event"
        )


async def write_events(db: Database, count: int, trace_sample_ratio: float) -> None:
    """``count`` customer-created events in the outbox, written by the service's seed with its
    EventWriter (payloads built with its own ``customer_state``), each then given the trace
    context a request would have stored with it: a trace of its own, sampled with probability
    ``trace_sample_ratio`` (as the services' parent-based sampler decides for new traces)."""
    await seed_customer_events(db, count, batch=WRITE_BATCH)
    rng = random.Random(7)
    async with db.read_only() as session:
        seqs = (await session.scalars(select(OutboxEvent.seq).order_by(OutboxEvent.seq))).all()
    contexts = [
        {
            "seq": seq,
            "trace_headers": {
                "traceparent": f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-"
                + ("01" if rng.random() < trace_sample_ratio else "00")
            },
        }
        for seq in seqs
    ]
    for start in range(0, len(contexts), WRITE_BATCH):
        async with db.unit_of_work() as session:
            await session.execute(update(OutboxEvent), contexts[start : start + WRITE_BATCH])


async def unsent_records(db: Database) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """(topic, key, value, headers) of every unsent event, as the relay would send them."""
    async with db.read_only() as session:
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.sent_at.is_(None)).order_by(OutboxEvent.seq))
        ).all()
    records = []
    for event in events:
        cloud_event = as_cloud_event(event)
        records.append((event.topic, event.key.encode(), cloud_event.kafka_value(), cloud_event.kafka_headers()))
    return records


async def drain_with_relay(db: Database, settings: SalesSettings) -> tuple[int, float, float]:
    """publish_pending in a loop under RelayLeadership until the outbox is empty:
    (events, seconds, CPU seconds of this process)."""
    producer = make_producer(settings)
    await producer.start()
    leadership = RelayLeadership(db)
    try:
        if not await leadership.try_acquire():
            raise RuntimeError("another relay holds this database's outbox")
        published = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while True:
            sent, more_waiting = await publish_pending(db, producer, settings.service_name, settings.outbox_batch_size)
            published += sent
            if not more_waiting:
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await leadership.release()
        await producer.stop()
    async with db.read_only() as session:
        unsent = await session.scalar(select(func.count()).where(OutboxEvent.sent_at.is_(None)))
    if unsent:
        raise RuntimeError(f"the relay stopped with {unsent} events unsent")
    return published, elapsed, cpu


async def raw_produce(
    label: str, settings: SalesSettings, topic: str, records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]
) -> Throughput:
    """The same records, sent straight to ``topic`` by a producer with the relay's options."""
    producer = make_producer(settings)
    await producer.start()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        acks = [await producer.send(topic, value=value, key=key, headers=headers) for _, key, value, headers in records]
        await asyncio.gather(*acks)
        return Throughput(label, len(records), time.perf_counter() - started, time.process_time() - cpu_started)
    finally:
        await producer.stop()


async def relay_run(
    label: str, url: str, settings_kwargs: dict, events: int, raw_topic: str, trace_sample_ratio: float
) -> tuple[Throughput, list[Throughput], str]:
    """A fresh outbox of ``events`` events at ``url``, drained by the relay, with a raw produce
    of the same records just before and just after it (the broker's pace drifts as it fills)."""
    await upgrade_async(registry.get_service("sales").migrations_path(), url)
    db = Database(url)
    try:
        await write_events(db, events, trace_sample_ratio)
        records = await unsent_records(db)
        settings = SalesSettings(database_url=url, **settings_kwargs)
        raws = [await raw_produce("raw aiokafka produce loop, before", settings, raw_topic, records)]
        published, seconds, cpu = await drain_with_relay(db, settings)
        raws.append(await raw_produce("raw aiokafka produce loop, after", settings, raw_topic, records))
    finally:
        await db.dispose()
    return Throughput(label, published, seconds, cpu), raws, describe_records(records)


def describe_records(records) -> str:
    sizes = sorted(len(value) for _, _, value, _ in records)
    return (
        f"record values {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]}), "
        f"{len(records[0][3])} headers each"
    )


async def run(options: RelayOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[relay] {message}", flush=True)

    lines: list[tuple[Throughput, float, float]] = []  # relay, raw events/s and CPU us/event of the same run
    with tempfile.TemporaryDirectory(prefix="crm-bench-relay-") as tmp:
        broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log")
        await asyncio.to_thread(broker.start)
        try:
            raw_topic = "crm.bench.raw.v1"
            await ensure_topics(broker.bootstrap_servers, [(TOPIC, PARTITIONS), (raw_topic, PARTITIONS)])
            settings_kwargs = {"kafka_bootstrap_servers": broker.bootstrap_servers}
            # As in a service that `crm up` started: spans exported to a JSON-lines file.
            setup_tracing("sales", trace_file=str(Path(tmp) / "traces.jsonl"), sample_ratio=options.trace_sample_ratio)
            say(
                f"{options.events} crm.sales.customer.created events per outbox; relay batch size "
                f"{SalesSettings().outbox_batch_size} (outbox_batch_size); both sides use a producer from "
                "make_producer (acks=all, linger_ms=5, not idempotent); tracing on, as in a service; "
                f"each event written under a trace of its own, {options.trace_sample_ratio:.0%} of them sampled"
            )
            targets = []
            async with temporary_databases() as databases:
                targets.append(("outbox relay, PostgreSQL", await databases.create("relay")))
                if options.sqlite:
                    targets.append(("outbox relay, SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'relay.db'}"))
                for label, url in targets:
                    started = time.perf_counter()
                    relay, raws, described = await relay_run(
                        label, url, settings_kwargs, options.events, raw_topic, options.trace_sample_ratio
                    )
                    say(
                        f"{label}: {described}; written, relayed and produced raw twice in "
                        f"{time.perf_counter() - started:.1f} s"
                    )
                    for line in (raws[0], relay, raws[1]):
                        print(line.line(), flush=True)
                    lines.append(
                        (
                            relay,
                            sum(r.per_second for r in raws) / len(raws),
                            sum(r.cpu_us_per_event for r in raws) / len(raws),
                        )
                    )
        finally:
            shutdown_tracing()
            broker.stop()

    rows = []
    for relay, raw, raw_cpu in lines:
        value = relay.per_second / raw
        postgres = "PostgreSQL" in relay.label
        rows.append(
            SummaryRow(
                relay.label,
                f"{relay.per_second:.0f} events/s",
                f"{raw:.0f} events/s raw produce",
                value,
                f">= {RELAY_TARGET:.2f}" if postgres else "",
                value >= RELAY_TARGET if postgres else None,
                note="raw baseline: mean of the produce loops just before and after the relay" if postgres else "",
            )
        )
        rows.append(
            SummaryRow(
                f"{relay.label}: CPU per event",
                f"{relay.cpu_us_per_event:.0f} us",
                f"{raw_cpu:.0f} us raw produce",
                relay.cpu_us_per_event / raw_cpu,
                note="CPU of the publishing process only (not PostgreSQL's, not the broker's); "
                "ratio relay / raw, lower is better"
                if postgres
                else "",
            )
        )
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=RelayOptions.events, help="events written and relayed")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite line")
    parser.add_argument(
        "--trace-sample-ratio",
        type=float,
        default=RelayOptions.trace_sample_ratio,
        help="share of the events written under a sampled trace, whose publish span is recorded "
        "(a service's trace_sample_ratio by default)",
    )


def options_from(args: argparse.Namespace) -> RelayOptions:
    return RelayOptions(events=args.events, sqlite=args.sqlite, trace_sample_ratio=args.trace_sample_ratio)


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
