"""Transactional outbox, publish side: the relay sends committed outbox rows to Kafka.

One relay is active per service database (``RelayLeadership``). On PostgreSQL it holds a
session-level advisory lock on a dedicated connection (other instances wait as standbys), which
also LISTENs for the NOTIFY that ``outbox.add_event`` issues inside the writer's transaction, with
a polling fallback. On SQLite it holds an exclusive ``flock`` on a file beside the database: the
kernel releases it when the process dies (even by SIGKILL), and it is not a database lock, so no
writer ever waits for it. Either way a second relay (another worker process, a restarted service
whose predecessor is not gone yet) waits as a standby.

A pass reads the oldest unsent rows (by ``seq``, the commit order) in a short read that takes no
write lock, sends them all with NO transaction open, waits for the broker's acknowledgements,
and then, in a short write transaction of its own, marks as sent the acknowledged prefix only:
everything from the first failure on stays unsent and is sent again, in order, after a back-off.
A frozen broker therefore never holds up the service's writers: the outbox simply grows (and the
service's ``/metrics`` says so: the backlog figures are read from the database when scraped, see
``outbox.refresh_backlog_metrics``). A relay killed between the broker's ack and the marking
publishes those events a second time; consumers dedupe by event id (``consumer.py``), so delivery
is at least once, effects once.

While the relay has a backlog it runs these passes pipelined (``publish_pending``): the next
batch is read while this one is sent, and this one is marked sent while the next is on its way,
still marking only a prefix in ``seq`` order. A publish span is made only for an event written
under a sampled trace (``kafka.start_publish_span_if_sampled``); the CloudEvent headers are built
straight from the row (``envelope.kafka_headers``).

An event the broker refuses for good (a non-retriable error such as a payload over the size
limit, ``PARK_AFTER_ATTEMPTS`` times) is parked: ``parked_at`` is set, it is logged, counted in
``crm_outbox_parked_events``, and the relay goes on with the events after it instead of holding
back every later event of the service. Nothing is dropped: ``crm outbox replay`` sends parked
events again once the cause is fixed. Retriable errors (the broker away) are retried forever.

Broker resets. The embedded broker (Tansu) keeps everything in memory: after a restart every
topic is empty (or gone), and the consumer groups' offsets with it. The relay notices and marks the
lost events unsent again (what ``crm outbox replay`` does, over the whole retention window of the
lost topics), once per reset, so the suite heals without anyone running a command; consumers skip
what they applied already. How it notices (``BrokerLogWatch``, ``OutboxRelay._heal``):

- When it becomes active (it may have been down while the broker restarted, e.g. the whole suite
  was restarted): per topic it has published to, the sum of the broker's end offsets is compared
  with the number of events the outbox holds as sent. Offsets in a partition never go down and
  every sent row was appended at least once, so on a broker that kept its log the sum is never
  smaller; smaller means records were lost.
- While it runs: it remembers, per partition, the end of the log it has seen (its own acks and the
  broker's end offsets). An acknowledgement at an offset below that end, or an end offset below it
  at the periodic check (``outbox_broker_check_interval_s``, for a relay with nothing to send), means
  the log started again; it then runs the comparison above for every topic and republishes.

Republished events are sent again in ``seq`` order, after which the remembered ends are those of
the new log, so a reset is healed once. What a reset cannot undo: events of a pass that was in
flight when the broker died may reach the new log before the republished older ones (the producer
retries them on its own); consumers see each event once, but such an event can overtake an older
event of the same record that a lagging consumer had not read yet.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from opentelemetry.trace import Span
from sqlalchemy import Row, Text, cast, delete, func, or_, select, text, update

from .db import Database, utcnow
from .envelope import kafka_headers
from .kafka import EndOffsets, finish_publish_span, make_producer, start_publish_span_if_sampled
from .metrics import (
    OUTBOX_BROKER_RESETS,
    OUTBOX_FAILURES,
    OUTBOX_PARKED,
    OUTBOX_PUBLISHED,
    OUTBOX_REPUBLISHED,
)
from .models import OutboxEvent
from .outbox import NOTIFY_CHANNEL, UNSENT, outbox_backlog, parked_events, refresh_backlog_metrics
from .settings import ServiceSettings

__all__ = [
    "PARK_AFTER_ATTEMPTS",
    "BrokerLogWatch",
    "OutboxPublishError",
    "OutboxRelay",
    "RelayLeadership",
    "outbox_backlog",
    "parked_events",
    "publish_batch",
    "publish_pending",
    "purge_sent",
    "refresh_backlog_metrics",
    "replay",
    "republish",
    "sent_counts",
]

log = logging.getLogger("crm.relay")

# Refusals of one event by a non-retriable error before it is parked (once could be a broker's
# passing misconfiguration; three in a row, with the back-off between them, is the event).
PARK_AFTER_ATTEMPTS = 3
# Advisory locks are per database, and each service has its own database: one constant key.
RELAY_LOCK_KEY = zlib.crc32(b"crm_shared.relay.OutboxRelay")
MAX_ERROR_LENGTH = 2000
# How often an active relay on PostgreSQL asks the server whether its session still holds the lock.
LEADERSHIP_CONFIRM_INTERVAL_S = 1.0
# A broker that does not answer the end-offset question within this is asked again later.
BROKER_CHECK_TIMEOUT_S = 15.0


class OutboxPublishError(Exception):
    """A pass stopped at an event the broker did not accept; ``published`` were sent before it."""

    def __init__(self, event_id: str, published: int, cause: BaseException) -> None:
        super().__init__(
            f"publishing event {event_id} failed after {published} sent: {cause.__class__.__name__}: {cause}"
        )
        self.event_id = event_id
        self.published = published
        self.cause = cause


class _PausedForTest(Exception):
    """The test hook held the pass until the relay was stopped; nothing of it is marked."""


# What a pass reads of each row: plain rows, no ORM objects. The payload comes back as the JSON
# text it was stored as and is sent as those bytes (no decode and re-encode per event).
_UNSENT_COLUMNS = (
    OutboxEvent.seq,
    OutboxEvent.event_id,
    OutboxEvent.topic,
    OutboxEvent.key,
    OutboxEvent.type,
    OutboxEvent.source,
    OutboxEvent.subject,
    OutboxEvent.dataschema,
    OutboxEvent.region,
    OutboxEvent.branch,
    cast(OutboxEvent.data, Text).label("data"),
    OutboxEvent.trace_headers,
    OutboxEvent.created_at,
    OutboxEvent.attempts,
)
_UNSENT = UNSENT

Acknowledged = Callable[[Sequence[tuple[Row, RecordMetadata]]], None]
BeforeMarking = Callable[[int], Awaitable[None]]


def refused_for_good(error: BaseException) -> bool:
    """aiokafka marks the errors worth retrying; anything else it raised will not go away."""
    return getattr(error, "retriable", None) is False


async def publish_batch(
    db: Database,
    producer: AIOKafkaProducer,
    service: str,
    batch_size: int,
    *,
    acknowledged: Acknowledged | None = None,
    before_marking: BeforeMarking | None = None,
) -> int:
    """One pass: publish up to ``batch_size`` unsent events in commit order and mark the
    acknowledged ones sent. Returns how many were published; raises ``OutboxPublishError``
    (after recording the attempt) when the broker refused or did not answer.

    No database transaction is open while the broker is talked to: the rows are read in a short
    read that takes no write lock, and marked in a short write transaction once the broker answered.
    ``acknowledged`` sees each acknowledged row with the broker's record metadata (partition,
    offset); ``before_marking`` runs between the acknowledgements and the marking (test hook).

    Run it from one process at a time per database (``RelayLeadership``), or order suffers."""
    published, _more = await publish_pending(
        db, producer, service, batch_size, acknowledged=acknowledged, before_marking=before_marking, max_batches=1
    )
    return published


async def publish_pending(
    db: Database,
    producer: AIOKafkaProducer,
    service: str,
    batch_size: int,
    *,
    acknowledged: Acknowledged | None = None,
    before_marking: BeforeMarking | None = None,
    max_batches: int = 50,
    keep_going: Callable[[], bool] = lambda: True,
) -> tuple[int, bool]:
    """``publish_batch`` pass after pass (at most ``max_batches``, while ``keep_going()``), with the
    database work of one batch overlapping the broker's work on another: the next batch is read
    while the broker acknowledges this one, and this one is marked sent while the next is on its
    way. Returns (events published, whether a full batch may still be waiting).

    What stays as in single passes: events are sent in ``seq`` order, only the acknowledged prefix
    is marked sent (a batch is marked only once every batch before it was), and a failure stops
    the run with everything from the failed event on unsent, to be sent again in order (events of
    the next batch, already on their way, come again later: consumers skip what they applied).
    The next batch is the unsent rows after this one's last ``seq``; a row that commits later
    with a lower ``seq`` is read by the next call, which starts from the oldest unsent row."""
    published = 0
    batches = 0
    next_read: asyncio.Task | None = None
    marking: asyncio.Task | None = None  # the previous batch's, running while this one is sent
    try:
        events = await _read_unsent(db, batch_size)
        while events:
            batches += 1
            full = len(events) == batch_size
            if full and batches < max_batches and keep_going():
                next_read = asyncio.create_task(_read_unsent(db, batch_size, after_seq=events[-1].seq))
            acked, failure = await _acknowledgements(*await _send_all(producer, events))
            if marking is not None:
                published += await marking
                marking = None
            if failure is not None:  # raises, or parked: the caller's next pass goes on after it
                published += await _record_outcome(db, service, acked, failure, acknowledged, before_marking)
                return published, True
            marking = asyncio.create_task(_record_outcome(db, service, acked, None, acknowledged, before_marking))
            if next_read is None:
                published += await marking
                marking = None
                return published, full
            events, next_read = await next_read, None
        if marking is not None:
            published += await marking
            marking = None
        return published, False
    finally:
        for task in (next_read, marking):
            if task is not None and not task.done():
                task.cancel()  # a batch left unmarked is sent again: consumers skip it
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)


async def _read_unsent(db: Database, batch_size: int, after_seq: int | None = None) -> Sequence[Row]:
    stmt = select(*_UNSENT_COLUMNS).where(*_UNSENT)
    if after_seq is not None:
        stmt = stmt.where(OutboxEvent.seq > after_seq)
    async with db.snapshot() as conn:
        return (await conn.execute(stmt.order_by(OutboxEvent.seq).limit(batch_size))).all()


async def _record_outcome(
    db: Database,
    service: str,
    acked: Sequence[tuple[Row, RecordMetadata]],
    failure: tuple[Row, BaseException] | None,
    acknowledged: Acknowledged | None,
    before_marking: BeforeMarking | None,
) -> int:
    """Marks the acknowledged prefix sent and records the failed event's attempt (parking it
    when refused for good); returns how many were published, or raises ``OutboxPublishError``."""
    if acked and acknowledged is not None:
        acknowledged(acked)
    if before_marking is not None:
        await before_marking(len(acked))
    parked = False
    if acked or failure is not None:
        async with db.engine.begin() as conn:
            if acked:
                # One statement for the whole acknowledged prefix.
                await conn.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_([event.seq for event, _ in acked]))
                    .values(sent_at=utcnow(), attempts=func.coalesce(OutboxEvent.attempts, 0) + 1)
                )
            if failure is not None:
                failed_event, error = failure
                parked = refused_for_good(error) and (failed_event.attempts or 0) + 1 >= PARK_AFTER_ATTEMPTS
                await conn.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq == failed_event.seq)
                    .values(
                        attempts=func.coalesce(OutboxEvent.attempts, 0) + 1,
                        last_error=f"{error.__class__.__name__}: {error}"[:MAX_ERROR_LENGTH],
                        parked_at=utcnow() if parked else None,
                    )
                )
    if acked:
        OUTBOX_PUBLISHED.labels(service).inc(len(acked))
    if failure is not None:
        OUTBOX_FAILURES.labels(service).inc()
        if parked:
            OUTBOX_PARKED.labels(service).inc()
            log.error(
                "outbox of %s: event %s (%s, key %s) parked after %d refusals: %s; later events go on, "
                "`crm outbox replay` sends it again",
                service,
                failure[0].event_id,
                failure[0].type,
                failure[0].key,
                (failure[0].attempts or 0) + 1,
                failure[1],
            )
            return len(acked)
        raise OutboxPublishError(failure[0].event_id, len(acked), failure[1])
    return len(acked)


_InFlight = list[tuple[Row, "Span | None", asyncio.Future]]


async def _send_all(
    producer: AIOKafkaProducer, events: Sequence[Row]
) -> tuple[_InFlight, tuple[Row, BaseException] | None]:
    """Hand every event to the producer in ``seq`` order (the producer batches them per partition
    and sends them); stops at the first one it refuses. Returns the events on their way, each with
    its publish span (or None, see ``start_publish_span_if_sampled``) and its acknowledgement, and
    the refused event with its error, if any."""
    in_flight: _InFlight = []
    send = producer.send
    for event in events:
        span, trace_headers = start_publish_span_if_sampled(
            event.topic, message_id=event.event_id, key=event.key, parent_headers=event.trace_headers
        )
        try:
            ack = await send(
                event.topic,
                value=event.data.encode(),
                key=event.key.encode(),
                headers=kafka_headers(
                    id=event.event_id,
                    source=event.source,
                    type=event.type,
                    subject=event.subject,
                    time=event.created_at,
                    dataschema=event.dataschema,
                    region=event.region,
                    branch=event.branch,
                    trace_headers=trace_headers,
                ),
            )
        except Exception as exc:
            if span is not None:
                finish_publish_span(span, exc)
            return in_flight, (event, exc)
        in_flight.append((event, span, ack))
    return in_flight, None


async def _acknowledgements(
    in_flight: _InFlight, send_failure: tuple[Row, BaseException] | None
) -> tuple[list[tuple[Row, RecordMetadata]], tuple[Row, BaseException] | None]:
    """Waits for every acknowledgement. Returns the acknowledged prefix (in seq order, with the
    broker's metadata of each) and the first event that failed with its error, if any."""
    results = await asyncio.gather(*(ack for _, _, ack in in_flight), return_exceptions=True)
    acked: list[tuple[Row, RecordMetadata]] = []
    failure: tuple[Row, BaseException] | None = None
    for (event, span, _), result in zip(in_flight, results):
        if span is not None:
            finish_publish_span(span, result)
        if failure is None and isinstance(result, BaseException):
            failure = (event, result)
        elif failure is None:
            acked.append((event, result))
    return acked, failure or send_failure


async def replay(db: Database, since: datetime, topic: str | None = None) -> int:
    """Mark the events created at or after ``since`` (optionally of one topic) unsent, so the
    relay publishes them again, in their original order, and unpark the parked ones among them.
    Consumers skip the ones they already applied. Only events still within the retention window
    can be replayed. Returns the count."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (UTC)")
    stmt = (
        update(OutboxEvent)
        .where(
            OutboxEvent.created_at >= since, or_(OutboxEvent.sent_at.is_not(None), OutboxEvent.parked_at.is_not(None))
        )
        .values(sent_at=None, parked_at=None, attempts=0)
        .execution_options(synchronize_session=False)
    )
    if topic:
        stmt = stmt.where(OutboxEvent.topic == topic)
    async with db.unit_of_work() as session:
        result = await session.execute(stmt)
        if db.is_postgres and result.rowcount:
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
    return result.rowcount


async def republish(db: Database, topics: Iterable[str]) -> int:
    """Mark every published event of ``topics`` still in the outbox (the retention window) unsent,
    for a broker that lost them; parked events stay parked. Returns the count."""
    topics = sorted(set(topics))
    if not topics:
        return 0
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.sent_at.is_not(None), OutboxEvent.topic.in_(topics))
        .values(sent_at=None)
        .execution_options(synchronize_session=False)
    )
    async with db.unit_of_work() as session:
        result = await session.execute(stmt)
        if db.is_postgres and result.rowcount:
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
    return result.rowcount


async def sent_counts(db: Database) -> dict[str, int]:
    """Per topic, how many events the outbox holds as published."""
    stmt = select(OutboxEvent.topic, func.count()).where(OutboxEvent.sent_at.is_not(None)).group_by(OutboxEvent.topic)
    async with db.snapshot() as conn:
        return {topic: count for topic, count in (await conn.execute(stmt)).all()}


async def purge_sent(db: Database, older_than: datetime) -> int:
    """Delete events published before ``older_than`` (unsent events are never deleted; a replayed
    event counts from its latest publication). Returns the count."""
    if older_than.tzinfo is None:
        raise ValueError("older_than must be timezone-aware (UTC)")
    stmt = (
        delete(OutboxEvent)
        .where(OutboxEvent.sent_at.is_not(None), OutboxEvent.sent_at < older_than)
        .execution_options(synchronize_session=False)
    )
    async with db.unit_of_work() as session:
        result = await session.execute(stmt)
    return result.rowcount


def postgres_dsn(db: Database) -> str:
    """The plain libpq URL (for asyncpg) of a SQLAlchemy ``postgresql+asyncpg://`` database."""
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_lock_path(db: Database) -> Path | None:
    """The file whose flock is the right to publish an SQLite database's outbox (None for an
    in-memory database, which only its own process can see anyway)."""
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".relay-lock")


class RelayLeadership:
    """The right to publish one database's outbox.

    PostgreSQL: a session-level advisory lock held on a dedicated connection, which also LISTENs
    for the writers' NOTIFY. Losing the connection loses the lock, and ``held`` says so; an active
    relay also asks the server at most once a second whether its session still holds it.
    SQLite: an exclusive, non-blocking ``flock`` on ``<database>.relay-lock``. It is held by the
    open file, released by the kernel when the process dies, and it is not a database lock, so
    the service's writers never wait for it."""

    def __init__(self, db: Database, on_notify: asyncio.Event | None = None) -> None:
        self.db = db
        self.on_notify = on_notify
        self._conn: asyncpg.Connection | None = None
        self._held = False
        self._confirmed_at = 0.0
        self._lock_file: int | None = None

    @property
    def held(self) -> bool:
        if self.db.is_sqlite:
            return self._lock_file is not None or sqlite_lock_path(self.db) is None
        if not self.db.is_postgres:
            return True
        return self._held and self._conn is not None and not self._conn.is_closed()

    @property
    def listening(self) -> bool:
        return self.db.is_postgres and self.held and self.on_notify is not None

    async def try_acquire(self) -> bool:
        if self.db.is_sqlite:
            return self._try_flock()
        if not self.db.is_postgres:
            return True
        if self.held:
            return await self._confirm()
        if self._conn is not None and self._conn.is_closed():
            self._conn, self._held = None, False
        if self._conn is None:
            self._conn = await asyncpg.connect(postgres_dsn(self.db))
        self._held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY))
        self._confirmed_at = time.monotonic()
        if self._held and self.on_notify is not None:
            try:
                await self._conn.add_listener(NOTIFY_CHANNEL, self._notified)
            except BaseException:
                await self.release()
                raise
        return self._held

    async def _confirm(self) -> bool:
        """Still ours? (A session the server ended while this side did not notice would let a
        second relay in.) Asked at most every LEADERSHIP_CONFIRM_INTERVAL_S."""
        if time.monotonic() - self._confirmed_at < LEADERSHIP_CONFIRM_INTERVAL_S:
            return True
        try:
            still = await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = 0 AND objid = $1 AND objsubid = 1)",
                RELAY_LOCK_KEY,
                timeout=5,
            )
        except (TimeoutError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            still = False
        if not still:
            log.warning("the outbox relay lost its advisory lock; standing by")
            await self.release()
            return False
        self._confirmed_at = time.monotonic()
        return True

    def _try_flock(self) -> bool:
        if self.held:
            return True
        path = sqlite_lock_path(self.db)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._lock_file = fd
        return True

    def _notified(self, *_args) -> None:
        if self.on_notify is not None:
            self.on_notify.set()

    async def release(self) -> None:
        if self._lock_file is not None:
            fd, self._lock_file = self._lock_file, None
            os.close(fd)  # closing the only descriptor of the open file releases the flock
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()


class BrokerLogWatch:
    """Per (topic, partition), the end of the log the relay has seen: one past its highest
    acknowledged offset, or the broker's end offset when it asked. Offsets never go down on a
    broker that kept its log, so seeing less than this means the log started again."""

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.restarted: set[str] = set()  # topics whose log was seen to start again

    def acknowledged(self, acked: Sequence[tuple[Row, RecordMetadata]]) -> None:
        for _event, metadata in acked:
            key = (metadata.topic, metadata.partition)
            seen = self.ends.get(key, 0)
            if metadata.offset < seen:
                self.restarted.add(metadata.topic)
                self.ends[key] = metadata.offset + 1
            else:
                self.ends[key] = metadata.offset + 1

    def topics(self) -> set[str]:
        return {topic for topic, _ in self.ends}

    def compare(self, ends: dict[str, dict[int, int]]) -> set[str]:
        """Records the broker's end offsets; returns the topics where any is below what was seen
        (a topic or partition the broker no longer has counts as 0)."""
        for (topic, partition), seen in list(self.ends.items()):
            if topic not in ends:
                continue
            now = ends[topic].get(partition, 0)
            if now < seen:
                self.restarted.add(topic)
            self.ends[(topic, partition)] = now if now < seen else max(seen, now)
        return set(self.restarted)

    def reset(self, ends: dict[str, dict[int, int]]) -> None:
        """After healing: the new logs' ends are what later checks compare with."""
        for topic, partitions in ends.items():
            for key in [key for key in self.ends if key[0] == topic]:
                del self.ends[key]
            for partition, end in partitions.items():
                self.ends[(topic, partition)] = end
            self.restarted.discard(topic)


class OutboxRelay:
    """The background worker that keeps a service's outbox flowing to Kafka (see module doc).

    ``producer``: an already started producer owned by the caller; without it the relay makes
    (``kafka.make_producer``) and owns one, and keeps retrying while the broker is unreachable.
    ``settings.outbox_retention_days`` of 0 or less keeps published events forever."""

    name = "outbox-relay"

    def __init__(
        self,
        db: Database,
        settings: ServiceSettings,
        *,
        producer: AIOKafkaProducer | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        standby_retry_s: float = 2.0,
        listen_fallback_poll_s: float = 2.0,
        retention_check_interval_s: float = 3600.0,
        metrics_interval_s: float = 1.0,
        broker_check_interval_s: float | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.service = settings.service_name
        self.batch_size = settings.outbox_batch_size
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.standby_retry_s = standby_retry_s
        self.listen_fallback_poll_s = listen_fallback_poll_s
        self.retention_check_interval_s = retention_check_interval_s
        self.metrics_interval_s = metrics_interval_s
        self.broker_check_interval_s = (
            settings.outbox_broker_check_interval_s if broker_check_interval_s is None else broker_check_interval_s
        )
        self._producer = producer
        self._owns_producer = producer is None
        self._producer_started = producer is not None
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.leadership = RelayLeadership(db, on_notify=self._wakeup)
        self.watch = BrokerLogWatch()
        self._end_offsets: EndOffsets | None = None
        self._task: asyncio.Task | None = None
        self._role = "stopped"
        self._consecutive_failures = 0
        self._next_purge_at = 0.0
        self._next_metrics_at = 0.0
        self._next_broker_check_at = 0.0
        self._heal_pending = False
        self.resets_healed = 0
        self._pause_file = Path(settings.relay_test_pause_file) if settings.relay_test_pause_file else None
        self._pause_after: int | None = None
        self._acked_since_armed = 0

    @property
    def ready(self) -> bool:
        """Running and connected to the broker (an active relay or a healthy standby)."""
        return self._producer_started and self._task is not None and not self._task.done()

    @property
    def active(self) -> bool:
        return self.ready and self.leadership.held

    @property
    def consecutive_failures(self) -> int:
        """Failed passes since the last good one (broker or database unreachable, event refused)."""
        return self._consecutive_failures

    @property
    def role(self) -> str:
        """ "starting" (no broker yet), "standby" (another relay holds the lock), "active" or "stopped"."""
        return self._role

    async def start(self) -> None:
        self._stopping.clear()
        self._role = "starting"
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            _done, pending = await asyncio.wait({self._task}, timeout=15)
            if pending:  # a publish that does not finish: abandon it (nothing of it is marked)
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.leadership.release()
        await self._close_end_offsets()
        self._role = "stopped"
        if self._owns_producer and self._producer is not None:
            await self._producer.stop()
            self._producer, self._producer_started = None, False

    def wake(self) -> None:
        """Publish now rather than at the next poll (for writers in this process on SQLite)."""
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._ensure_producer()
                if not await self.leadership.try_acquire():
                    self._role = "standby"
                    await self._sleep(self.standby_retry_s)
                    continue
                if self._role != "active":
                    log.info("outbox relay of %s is now the active one", self.service)
                    self._role = "active"
                    # It may have been away while the broker lost what it had published.
                    self._heal_pending = True
                    self._next_purge_at = 0.0
                self._wakeup.clear()
                await self._purge_if_due()  # first: nothing is republished only to be purged
                if self._heal_pending:
                    await self._heal("the relay became active")
                    self._heal_pending = False
                _published, more_waiting = await publish_pending(
                    self.db,
                    self._producer,
                    self.service,
                    self.batch_size,
                    acknowledged=self.watch.acknowledged,
                    before_marking=self._test_pause if self._pause_file else None,
                    keep_going=lambda: not self.watch.restarted and not self._stopping.is_set(),
                )
                self._consecutive_failures = 0
                if self.watch.restarted:
                    await self._heal("the broker acknowledged offsets below those it had acknowledged before")
                    continue
                await self._housekeeping()
                if not more_waiting:
                    await self._wait_for_work()
            except _PausedForTest:
                return
            except Exception as exc:
                if self._role == "active" and not self.leadership.held:
                    self._role = "standby"
                self._consecutive_failures += 1
                delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (self._consecutive_failures - 1))
                log.warning(
                    "outbox relay pass failed (%s consecutive), retrying in %.1fs: %s",
                    self._consecutive_failures,
                    delay,
                    exc,
                )
                await self._refresh_metrics_safely(force=True)
                await self._sleep(delay)

    async def _ensure_producer(self) -> None:
        if self._producer_started:
            return
        producer = make_producer(self.settings)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer, self._producer_started = producer, True

    # -- broker resets ------------------------------------------------------------------------
    async def _broker_end_offsets(self, topics: Iterable[str]) -> dict[str, dict[int, int]]:
        if self._end_offsets is None:
            self._end_offsets = EndOffsets(self.settings)
        try:
            return await asyncio.wait_for(self._end_offsets.fetch(topics), BROKER_CHECK_TIMEOUT_S)
        except BaseException:
            await self._close_end_offsets()  # a fresh client next time
            raise

    async def _close_end_offsets(self) -> None:
        probe, self._end_offsets = self._end_offsets, None
        if probe is not None:
            await probe.close()

    async def _heal(self, reason: str) -> int:
        """Compares what the broker holds with what the outbox holds as sent, per topic, and marks
        the events of every topic that lost some unsent again (module doc: "Broker resets").
        Returns how many events will be published again."""
        restarted = set(self.watch.restarted)
        counts = await sent_counts(self.db)
        topics = set(counts) | restarted
        ends = await self._broker_end_offsets(topics) if topics else {}
        lost = {topic: counts.get(topic, 0) for topic in topics if topic in restarted}
        for topic in topics:
            held = sum(ends.get(topic, {}).values())
            if held < counts.get(topic, 0):
                lost[topic] = counts[topic]
        republished = 0
        if lost:
            republished = await republish(self.db, lost)
            self.resets_healed += 1
            OUTBOX_BROKER_RESETS.labels(self.service).inc()
            OUTBOX_REPUBLISHED.labels(self.service).inc(republished)
            log.warning(
                "outbox of %s: the broker lost published events (%s; %s); marked %d events unsent to "
                "publish them again in order, consumers skip those they applied",
                self.service,
                reason,
                ", ".join(
                    f"{topic} holds {sum(ends.get(topic, {}).values())} records of {count} sent"
                    for topic, count in sorted(lost.items())
                ),
                republished,
            )
            # The topics may have come back with other partition counts: publish by the new ones.
            await asyncio.wait_for(self._producer.client.force_metadata_update(), BROKER_CHECK_TIMEOUT_S)
        self.watch.reset(ends)
        self._next_broker_check_at = asyncio.get_running_loop().time() + self.broker_check_interval_s
        return republished

    async def _check_broker_if_due(self) -> None:
        """For a relay with nothing to send: has the broker lost the end of the logs it wrote?"""
        now = asyncio.get_running_loop().time()
        if self.broker_check_interval_s <= 0 or now < self._next_broker_check_at:
            return
        self._next_broker_check_at = now + self.broker_check_interval_s
        topics = self.watch.topics()
        if not topics:
            return
        try:
            ends = await self._broker_end_offsets(topics)
        except Exception as exc:  # the next pass meets the broker's trouble, if it lasts
            log.info("outbox relay of %s could not check the broker's end offsets: %r", self.service, exc)
            return
        if self.watch.compare(ends):
            await self._heal("the broker's end offsets went below those it had reached")

    # -- test hook ------------------------------------------------------------------------------
    async def _test_pause(self, acked: int) -> None:
        """``relay_test_pause_file`` (settings): armed when the file appears (it holds N), it stops
        the relay after N acknowledged events, before they are marked sent, and waits there."""
        path = self._pause_file
        if self._pause_after is None:
            try:
                content = path.read_text().strip()
            except FileNotFoundError:
                return
            self._pause_after, self._acked_since_armed = int(content or "1"), 0
        self._acked_since_armed += acked
        if self._acked_since_armed < self._pause_after:
            return
        path.with_name(path.name + ".paused").write_text(f"{os.getpid()} {self._acked_since_armed}\n")
        path.unlink(missing_ok=True)
        log.warning(
            "outbox relay of %s paused by its test hook after %d acknowledged events, before marking them sent",
            self.service,
            self._acked_since_armed,
        )
        self._pause_after = None
        await self._stopping.wait()
        raise _PausedForTest()

    # -- housekeeping ---------------------------------------------------------------------------
    async def _purge_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.settings.outbox_retention_days > 0 and now >= self._next_purge_at:
            self._next_purge_at = now + self.retention_check_interval_s
            cutoff = utcnow() - timedelta(days=self.settings.outbox_retention_days)
            purged = await purge_sent(self.db, cutoff)
            if purged:
                log.info("purged %s outbox events published before %s", purged, cutoff.isoformat())

    async def _housekeeping(self) -> None:
        await self._purge_if_due()
        await self._check_broker_if_due()
        await self._refresh_metrics_safely()

    async def _refresh_metrics_safely(self, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        if not force and now < self._next_metrics_at:
            return
        self._next_metrics_at = now + self.metrics_interval_s
        try:
            await refresh_backlog_metrics(self.db, self.service)
        except Exception as exc:  # metrics never stop the relay
            log.debug("outbox backlog metrics unavailable: %s", exc)

    async def _wait_for_work(self) -> None:
        timeout = self.listen_fallback_poll_s if self.leadership.listening else self.settings.outbox_poll_interval_s
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
