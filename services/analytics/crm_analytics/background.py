"""The ingest worker: every topic of the event catalogue (crm_contracts.events), one consumer
group, read in batches (getmany) and written to the event store in one insert per batch; the
offsets are committed after the insert. A crash in between re-reads the batch, and the store
counts each event once by its id (services/ingest_service.py), so a redelivery does no harm.

After the store's ``rebuild()`` it reads every topic again from the earliest retained record
(`crm outbox replay` puts older events of a service's outbox back on the broker)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from crm_contracts import events as catalogue
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.kafka import make_consumer
from crm_shared.periodic import PeriodicJob
from crm_shared.settings import var_dir

from .config import AnalyticsSettings
from .db.store import EventStore
from .domain.projection import Parsed
from .services import export_service, ingest_service

log = logging.getLogger("crm.analytics.ingest")


def parsed(record: ConsumerRecord) -> Parsed | None:
    try:
        event = CloudEvent.from_kafka(list(record.headers or ()), record.value)
    except Exception as exc:
        log.error("skipping malformed record %s[%s]@%s: %s", record.topic, record.partition, record.offset, exc)
        return None
    data = event.data if isinstance(event.data, dict) else {}
    return Parsed(event.id, event.type, record.topic, event.time, data, event.region, event.branch)


class IngestWorker:
    name = "analytics-ingest"

    def __init__(self, db: Database, store: EventStore, settings: AnalyticsSettings) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.topics = catalogue.topic_names()
        self.ingested = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._generation = store.generation

    @property
    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close()

    async def _run(self) -> None:
        """Batch n+1 is read and prepared while batch n is stored (one batch in flight at most:
        the batches are stored in order, each committed after its insert)."""
        failures = 0
        storing: asyncio.Task | None = None
        while not self._stopping.is_set():
            try:
                consumer = await self._ensure_consumer()
                if self._generation != self.store.generation:  # the store was rebuilt: replay
                    storing = await self._finish(storing)
                    self._generation = self.store.generation
                    await consumer.seek_to_beginning()
                batch = await consumer.getmany(
                    timeout_ms=self.settings.ingest_poll_ms, max_records=self.settings.ingest_batch_size
                )
                events = [event for records in batch.values() for record in records if (event := parsed(record))]
                prepared = await ingest_service.prepare(self.db, events)
                offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
                storing = await self._finish(storing)
                if offsets:
                    storing = asyncio.create_task(self._store(consumer, prepared, offsets))
                failures = 0
            except asyncio.CancelledError:
                await self._abandon(storing)
                raise
            except Exception as exc:
                storing = await self._abandon(storing)  # uncommitted batches are read again
                failures += 1
                delay = min(30.0, 0.5 * 2 ** (failures - 1))
                log.warning("ingest: restarting its Kafka client in %.1fs: %s", delay, exc)
                await self._close()
                await asyncio.sleep(delay)

    async def _finish(self, storing: asyncio.Task | None) -> None:
        """Waits for the batch being stored (its failure raised here)."""
        if storing is not None:
            await storing

    async def _abandon(self, storing: asyncio.Task | None) -> None:
        if storing is not None:
            storing.cancel()
            await asyncio.gather(storing, return_exceptions=True)

    async def _store(self, consumer: AIOKafkaConsumer, prepared: ingest_service.Prepared, offsets: dict) -> None:
        self.ingested += await ingest_service.store_batch(self.store, prepared)
        await consumer.commit(offsets)

    async def _ensure_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = make_consumer(
                self.settings,
                group_id=self.settings.ingest_group_id,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            consumer.subscribe(self.topics)
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception as exc:
                log.warning("ingest: stopping the Kafka client failed: %s", exc)


class Compactor(PeriodicJob):
    """Merges the quiet partitions of the records into one part each (EventStore.compact), every
    ``compaction_interval_s``: the dashboards' FINAL then has nothing to merge in them."""

    name = "analytics-compaction"

    def __init__(self, store: EventStore, settings: AnalyticsSettings) -> None:
        super().__init__(interval_s=settings.compaction_interval_s, log=log, first_pass_at_start=False)
        self.store = store
        self.settings = settings

    async def run_pass(self) -> None:
        for partition in await self.store.compact(self.settings.compaction_quiet_s):
            log.info("records partition %s compacted", partition)


class MonthlyReports(PeriodicJob):
    """Writes the previous month's report of every region once (services/export_service.py), and
    checks again every ``reports_check_interval_s``: a report missed while the service was down is
    written when it comes back."""

    name = "analytics-monthly-reports"

    def __init__(self, store: EventStore, settings: AnalyticsSettings, clock: Callable[[], datetime]) -> None:
        super().__init__(interval_s=settings.reports_check_interval_s, log=log)
        self.store = store
        self.settings = settings
        self.clock = clock
        self.directory = Path(settings.reports_dir or Path(settings.var_dir or var_dir()) / "analytics-reports")

    async def run_pass(self) -> None:
        month = export_service.previous_month(self.clock())
        for path in await export_service.write_monthly_reports(self.store, self.directory, month):
            log.info("monthly report written: %s", path)
