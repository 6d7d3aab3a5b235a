"""The idempotent Kafka consumer every service uses for the events it reacts to.

For each record: decode the CloudEvent (a malformed record is logged, counted and skipped, so
it never blocks its partition), open the CONSUMER span (``kafka.process_span``), then in ONE
database transaction insert the inbox row (consumer, event id) and run the handler. When the
inbox row already exists the event was applied before (a relay re-send, a replay, a redelivery
after a rebalance): nothing is done. The Kafka offset is committed only after the database
commit, so a crash in between redelivers the record and the inbox makes that harmless.

A handler error rolls its transaction back and the record is retried after a back-off: the
partition is rewound to it and paused until the retry is due, while the consumer keeps polling
(so it stays in its group; aiokafka #848) and other partitions keep flowing.

A consumer given a ``batch_handler`` as well applies the records one poll brought from a
partition together: ONE transaction inserts their inbox rows in one statement and passes the events
not applied before to ``batch_handler(session, events)`` (in their order), so that a set-based
handler costs a few statements per batch instead of per event. If the batch fails, its records are
applied one by one with ``handler`` as above (one bad event is retried alone, the others go on).

Broker resets (the embedded broker keeps nothing across a restart, offsets included):
- a partition whose fetch position is past the end of the broker's log (the log it was read from
  is gone; Tansu answers such a fetch with no records and no OffsetOutOfRange, so the consumer
  would wait there until the new log grew that long, skipping everything before) is rewound to
  the earliest offset; the inbox skips what was applied already;
- offsets are committed only for records of the current assignment: a batch fetched before a
  rebalance (the group rejoins on a broker that lost it) is not committed afterwards, when its
  offsets would point into a new log and make the group skip the records before them there;
- and only by the group member that read them (``_commit``): aiokafka sends a commit with the
  membership its client has when the request goes out, retrying until the broker answers, and
  while it rejoins that membership is none (generation -1, no member id). A broker that restarted
  empty accepts such a commit for the group it does not know yet (Kafka does the same for a group
  without members), so a commit held up by the restart stored an offset of the OLD log in the new
  group, which then started the new log there: the republished events before it were never read;
- a topic that comes back with another partition count gets a new member in the group: a broker that
  restarted empty creates a topic a client asks about before ``crm topics create`` does with 4
  partitions, not the catalogue's 3 (the whole-catalogue consumers ask about every topic as soon
  as it is back). The client notices the new count in its metadata and rejoins, but Tansu (0.6)
  answers a member that rejoins an unchanged membership with the generation and assignment it had,
  ignoring the leader's new one: partition 3 would be read by nobody. So the consumer restarts its
  Kafka client when a count changes (``_partition_counts_changed``); a new member makes Tansu start
  a new generation with the new assignment. On Kafka this costs one extra rebalance.

Each of the last two left sales' branch-stats a dozen customer events short for good after a broker
kill (the e2e fault test), the more often the busier the broker was while every group rejoined.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database, utcnow
from .envelope import CloudEvent
from .kafka import make_consumer, process_span
from .metrics import CONSUMED, CONSUMER_LAG
from .models import InboxRecord
from .settings import ServiceSettings

log = logging.getLogger("crm.consumer")

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[CloudEvent]], Awaitable[None]]

APPLIED, DUPLICATE, MALFORMED, FAILED = "applied", "duplicate", "malformed", "error"


def _inbox_insert(dialect: str, consumer: str, event: CloudEvent):
    """INSERT the inbox row unless it exists; RETURNING tells which happened."""
    return _inbox_insert_statement(dialect).values(
        consumer=consumer, event_id=event.id, event_type=event.type, processed_at=utcnow()
    )


def _inbox_insert_statement(dialect: str):
    """INSERT inbox rows unless they exist; RETURNING names the events they were new for."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the platform runs on PostgreSQL and SQLite only
        raise RuntimeError(f"the inbox does not support the {dialect} dialect")
    table = InboxRecord.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(table.c.event_id)


async def apply_once(db: Database, consumer: str, event: CloudEvent, handler: Handler) -> str:
    """Run ``handler`` for ``event`` unless ``consumer`` already applied it; the inbox row and
    the handler's effect commit together. Returns APPLIED or DUPLICATE; handler errors propagate
    (and nothing is committed)."""
    async with db.unit_of_work() as session:
        inserted = await session.scalar(_inbox_insert(db.engine.dialect.name, consumer, event))
        if inserted is None:
            return DUPLICATE
        await handler(session, event)
    return APPLIED


async def apply_batch_once(
    db: Database, consumer: str, events: Sequence[CloudEvent], handler: BatchHandler
) -> list[CloudEvent]:
    """Run ``handler`` once for those of ``events`` that ``consumer`` has not applied yet (in their
    order; an event twice in ``events`` counts once), in ONE transaction with all their inbox rows.
    Returns the events applied; handler errors propagate (and nothing is committed)."""
    unique = list({event.id: event for event in events}.values())
    now = utcnow()
    rows = [{"consumer": consumer, "event_id": e.id, "event_type": e.type, "processed_at": now} for e in unique]
    async with db.unit_of_work() as session:
        # one compiled statement, the rows as its parameter sets (sent many per round trip)
        new = set((await session.execute(_inbox_insert_statement(db.engine.dialect.name), rows)).scalars())
        applied = [event for event in unique if event.id in new]
        if applied:
            await handler(session, applied)
    return applied


class _AssignmentTracker(ConsumerRebalanceListener):
    def __init__(self, worker: EventConsumer) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked) -> None:
        self.worker._assignments += 1
        self.worker._forget_partitions(revoked)

    async def on_partitions_assigned(self, assigned) -> None:
        self.worker._assignments += 1
        self.worker._forget_partitions(assigned)
        self.worker._joined = True
        log.info("consumer %s assigned %s", self.worker.name, sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class EventConsumer:
    """A Worker that feeds the events of ``topics`` to ``handler(session, event)``, once each.

    ``name`` identifies the consumer in the inbox (keep it stable: renaming it re-applies every
    retained event); the Kafka group id defaults to ``<service>.<name>``."""

    def __init__(
        self,
        name: str,
        db: Database,
        settings: ServiceSettings,
        topics: Sequence[str],
        handler: Handler,
        *,
        batch_handler: BatchHandler | None = None,
        group_id: str | None = None,
        max_records: int = 100,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        if not topics:
            raise ValueError(f"consumer {name} has no topics")
        self.name = name
        self.db = db
        self.settings = settings
        self.topics = list(topics)
        self.handler = handler
        self.batch_handler = batch_handler
        self.group_id = group_id or f"{settings.service_name}.{name}"
        self.max_records = max_records
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.consumer_options = consumer_options or {}
        self._consumer: AIOKafkaConsumer | None = None
        self._joined = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._polling = False
        self._retry_at: dict[TopicPartition, float] = {}
        self._failures: dict[TopicPartition, int] = {}
        self._assignments = 0  # counts rebalances (revocations and assignments)
        self._partition_counts: dict[str, int] = {}  # of the topics, as the current client last saw them

    @property
    def ready(self) -> bool:
        """Running and a member of its group (partitions assigned)."""
        return self._joined and self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            if self._polling:  # nothing in hand: no need to wait for the poll to time out
                self._task.cancel()
            _done, pending = await asyncio.wait({self._task}, timeout=10)
            if pending:  # a handler that does not finish: abandon it (its transaction rolls back)
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close_consumer()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                consumer = await self._ensure_consumer()
                self._resume_due_partitions()
                self._polling = True
                try:
                    batch = await consumer.getmany(timeout_ms=self._poll_timeout_ms(), max_records=self.max_records)
                finally:
                    self._polling = False
                assignment, membership = self._assignments, _membership(consumer)
                for tp, records in batch.items():
                    if self._stopping.is_set():
                        break
                    await self._process_partition(tp, records, assignment, membership)
                await self._rewind_partitions_past_the_end()
                if self._partition_counts_changed(consumer):
                    await self._close_consumer()  # the next pass joins the group as a new member
                failures = 0
            except Exception as exc:
                failures += 1
                delay = self._backoff(failures)
                log.warning("consumer %s: restarting its Kafka client in %.1fs: %s", self.name, delay, exc)
                await self._close_consumer()
                await self._sleep(delay)

    async def _ensure_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is not None:
            return self._consumer
        consumer = make_consumer(self.settings, group_id=self.group_id, **self.consumer_options)
        consumer.subscribe(self.topics, listener=_AssignmentTracker(self))
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return consumer

    async def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._joined = False
        self._partition_counts.clear()
        self._retry_at.clear()
        self._failures.clear()
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception as exc:
                log.warning("consumer %s: stopping the Kafka client failed: %s", self.name, exc)

    async def _process_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], assignment: int, membership: _Membership | None
    ) -> None:
        if self.batch_handler is not None and len(records) > 1 and await self._handle_batch(records):
            self._failures.pop(tp, None)
            if self._assignments == assignment:
                await self._commit(tp, records[-1].offset + 1, membership)
                self._record_lag(tp, records[-1].offset + 1)
            return
        next_offset: int | None = None
        for record in records:
            if self._stopping.is_set() or self._assignments != assignment or tp not in self._consumer.assignment():
                break
            if not await self._handle(record):
                self._schedule_retry(tp, record.offset)
                break
            self._failures.pop(tp, None)
            next_offset = record.offset + 1
        if next_offset is not None and self._assignments == assignment:
            await self._commit(tp, next_offset, membership)
            self._record_lag(tp, next_offset)

    async def _rewind_partitions_past_the_end(self) -> None:
        """A position past the broker's end of the log (module doc: "Broker resets") goes back to
        the earliest offset."""
        consumer = self._consumer
        for tp in consumer.assignment():
            if tp in self._retry_at:
                continue
            highwater, position = consumer.highwater(tp), _valid_position(consumer, tp)
            if highwater is None or position is None or position <= highwater:
                continue
            log.warning(
                "consumer %s: %s[%s] is at offset %s but the broker's log ends at %s (the broker lost it, "
                "e.g. it restarted); reading it again from the earliest offset",
                self.name,
                tp.topic,
                tp.partition,
                position,
                highwater,
            )
            await consumer.seek_to_beginning(tp)

    def _partition_counts_changed(self, consumer: AIOKafkaConsumer) -> bool:
        """True when a topic's partition count in the client's metadata changed since the last pass
        (module doc: "Broker resets"): the group must then be joined again by a new member, since
        Tansu keeps giving a member that rejoins the assignment it had."""
        changed = []
        for topic in self.topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:  # not in the metadata now (a broker that restarted has not got it yet)
                continue
            seen = self._partition_counts.get(topic)
            if seen is not None and seen != len(partitions):
                changed.append(f"{topic} {seen} -> {len(partitions)}")
            self._partition_counts[topic] = len(partitions)
        if changed:
            log.warning(
                "consumer %s: partitions changed (%s); joining its group again as a new member",
                self.name,
                ", ".join(changed),
            )
        return bool(changed)

    async def _handle_batch(self, records: list[ConsumerRecord]) -> bool:
        """True when the batch was applied; False to apply its records one by one instead (also
        when one is malformed: that path logs, counts and skips it)."""
        events: list[CloudEvent] = []
        for record in records:
            try:
                events.append(CloudEvent.from_kafka(list(record.headers or ()), record.value))
            except Exception:
                return False
        try:
            applied = await apply_batch_once(self.db, self.name, events, self.batch_handler)
        except Exception as exc:
            log.warning(
                "consumer %s: a batch of %d events failed (%s); applying them one by one", self.name, len(events), exc
            )
            return False
        CONSUMED.labels(self.settings.service_name, self.name, APPLIED).inc(len(applied))
        CONSUMED.labels(self.settings.service_name, self.name, DUPLICATE).inc(len(events) - len(applied))
        return True

    async def _handle(self, record: ConsumerRecord) -> bool:
        """True when the record is done with (applied, duplicate or malformed), False to retry it."""
        try:
            event = CloudEvent.from_kafka(list(record.headers or ()), record.value)
        except Exception as exc:
            CONSUMED.labels(self.settings.service_name, self.name, MALFORMED).inc()
            log.error(
                "consumer %s: skipping malformed record %s[%s]@%s: %s",
                self.name,
                record.topic,
                record.partition,
                record.offset,
                exc,
                extra={"topic": record.topic},
            )
            return True
        try:
            with process_span(record, message_id=event.id, consumer_group=self.group_id):
                outcome = await apply_once(self.db, self.name, event, self.handler)
        except Exception:
            CONSUMED.labels(self.settings.service_name, self.name, FAILED).inc()
            log.exception(
                "consumer %s: handling %s %s failed; it will be retried",
                self.name,
                event.type,
                event.id,
                extra={"event_id": event.id, "topic": record.topic},
            )
            return False
        CONSUMED.labels(self.settings.service_name, self.name, outcome).inc()
        return True

    def _schedule_retry(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self._consumer.assignment():
            return  # revoked meanwhile: the new owner starts from the committed offset
        failures = self._failures[tp] = self._failures.get(tp, 0) + 1
        self._consumer.seek(tp, offset)
        self._consumer.pause(tp)
        self._retry_at[tp] = asyncio.get_running_loop().time() + self._backoff(failures)
        self._record_lag(tp, offset)

    def _resume_due_partitions(self) -> None:
        now = asyncio.get_running_loop().time()
        for tp, due in list(self._retry_at.items()):
            if due <= now:
                del self._retry_at[tp]
                if tp in self._consumer.assignment():
                    self._consumer.resume(tp)

    def _poll_timeout_ms(self) -> int:
        if not self._retry_at:
            return 1000
        until_next_retry = min(self._retry_at.values()) - asyncio.get_running_loop().time()
        return max(0, min(1000, int(until_next_retry * 1000)))

    def _backoff(self, failures: int) -> float:
        return min(self.retry_max_s, self.retry_initial_s * 2 ** (failures - 1))

    async def _commit(self, tp: TopicPartition, next_offset: int, membership: _Membership | None) -> None:
        """Commits ``next_offset`` as ``membership`` (the group member that read the records) or not
        at all (module doc: "Broker resets"). Not committing is safe: whoever reads the partition next
        starts from an earlier offset and the inbox skips what was applied. aiokafka's
        ``AIOKafkaConsumer.commit`` cannot do this: it puts whatever membership the client has when the
        request goes out (after its own retries) into the request."""
        consumer = self._consumer
        coordinator = consumer._coordinator
        offsets = {tp: OffsetAndMetadata(next_offset, "")}
        failures = 0
        while not self._stopping.is_set():
            try:
                await coordinator.ensure_coordinator_known()
                async with coordinator._commit_lock:
                    if membership is None or _membership(consumer) != membership:
                        log.info(
                            "consumer %s: offset %s of %s[%s] not committed: the group membership that read "
                            "it is gone (a rebalance, or the broker restarted)",
                            self.name,
                            next_offset,
                            tp.topic,
                            tp.partition,
                        )
                        return
                    # builds its request from the membership checked above before it first yields
                    await coordinator._do_commit_offsets(consumer._subscription.subscription.assignment, offsets)
                return
            except KafkaError as exc:
                if not exc.retriable:
                    # After a rebalance the new owner re-reads these records; the inbox skips them.
                    log.info(
                        "consumer %s: offset commit for %s[%s] not accepted: %r", self.name, tp.topic, tp.partition, exc
                    )
                    return
                failures += 1
                await self._sleep(min(1.0, self.retry_initial_s * failures))

    def _record_lag(self, tp: TopicPartition, next_offset: int) -> None:
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.settings.service_name, self.name, tp.topic, str(tp.partition)).set(
                max(highwater - next_offset, 0)
            )

    def _forget_partitions(self, partitions) -> None:
        for tp in partitions:
            self._retry_at.pop(tp, None)
            self._failures.pop(tp, None)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass


_Membership = tuple[int, str]


def _membership(consumer: AIOKafkaConsumer) -> _Membership | None:
    """The group generation and member id the client has now, None while it has none (it lost its
    membership and has not joined again). aiokafka keeps them on its group coordinator."""
    coordinator = consumer._coordinator
    if coordinator is None or not getattr(coordinator, "member_id", ""):
        return None
    return coordinator.generation, coordinator.member_id


def _valid_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The partition's fetch position when it has one, without waiting (``AIOKafkaConsumer.position``
    waits for a position being reset). aiokafka keeps it in its subscription state."""
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except AttributeError:  # no assignment right now (or another aiokafka layout)
        return None
    if state is None or not state.has_valid_position:
        return None
    return state.position
