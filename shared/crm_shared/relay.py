"""Transactional outbox, publish side: the relay sends committed outbox rows to Kafka.

One relay is active per service database. On PostgreSQL it holds a session-level advisory
lock on a dedicated connection (other instances wait as standbys) and is woken by the
NOTIFY that ``outbox.add_event`` issues inside the writer's transaction, with a polling
fallback; on SQLite (one process, embedded runs) it polls.

A pass takes the oldest unsent rows (by ``seq``, the commit order), sends them all, waits for
the broker's acknowledgements and marks as sent the acknowledged prefix only: everything from
the first failure on stays unsent and is sent again, in order, after a back-off. A relay killed
between the broker's ack and the database commit publishes those events a second time;
consumers dedupe by event id (``consumer.py``), so delivery is at least once, effects once.

An event the broker refuses for good (a non-retriable error such as a payload over the size
limit, ``PARK_AFTER_ATTEMPTS`` times) is parked: ``parked_at`` is set, it is logged, counted in
``crm_outbox_parked_events``, and the relay goes on with the events after it instead of holding
back every later event of the service. Nothing is dropped: ``crm outbox replay`` sends parked
events again once the cause is fixed. Retriable errors (the broker away) are retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import Row, Text, cast, delete, func, or_, select, text, update

from .db import Database, utcnow
from .kafka import finish_publish_span, make_producer, start_publish_span
from .metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_FAILURES,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PARKED,
    OUTBOX_PARKED_NOW,
    OUTBOX_PUBLISHED,
)
from .models import OutboxEvent
from .outbox import NOTIFY_CHANNEL, as_cloud_event
from .settings import ServiceSettings

log = logging.getLogger("crm.relay")

# Refusals of one event by a non-retriable error before it is parked (once could be a broker's
# passing misconfiguration; three in a row, with the back-off between them, is the event).
PARK_AFTER_ATTEMPTS = 3
# Advisory locks are per database, and each service has its own database: one constant key.
RELAY_LOCK_KEY = zlib.crc32(b"crm_shared.relay.OutboxRelay")
MAX_ERROR_LENGTH = 2000


class OutboxPublishError(Exception):
    """A pass stopped at an event the broker did not accept; ``published`` were sent before it."""

    def __init__(self, event_id: str, published: int, cause: BaseException) -> None:
        super().__init__(
            f"publishing event {event_id} failed after {published} sent: {cause.__class__.__name__}: {cause}"
        )
        self.event_id = event_id
        self.published = published
        self.cause = cause


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
_UNSENT = (OutboxEvent.sent_at.is_(None), OutboxEvent.parked_at.is_(None))


def refused_for_good(error: BaseException) -> bool:
    """aiokafka marks the errors worth retrying; anything else it raised will not go away."""
    return getattr(error, "retriable", None) is False


async def publish_batch(db: Database, producer: AIOKafkaProducer, service: str, batch_size: int) -> int:
    """One pass: publish up to ``batch_size`` unsent events in commit order and mark the
    acknowledged ones sent. Returns how many were published; raises ``OutboxPublishError``
    (after recording the attempt) when the broker refused or did not answer.

    Run it from one process at a time per database (``RelayLeadership``), or order suffers."""
    stmt = select(*_UNSENT_COLUMNS).where(*_UNSENT).order_by(OutboxEvent.seq).limit(batch_size)
    if db.is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.engine.begin() as conn:
        events = (await conn.execute(stmt)).all()
        if not events:
            return 0
        acked, failure = await _send_in_order(producer, events)
        if acked:
            # One statement for the whole acknowledged prefix.
            await conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_([event.seq for event in acked]))
                .values(sent_at=utcnow(), attempts=func.coalesce(OutboxEvent.attempts, 0) + 1)
            )
        parked = False
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


async def _send_in_order(
    producer: AIOKafkaProducer, events: Sequence[Row]
) -> tuple[list[Row], tuple[Row, BaseException] | None]:
    """Send every event, then wait for all acks. Returns the acknowledged prefix (in seq order)
    and the first event that failed with its error, if any."""
    in_flight: list[tuple[Row, object, asyncio.Future]] = []
    send_failure: tuple[Row, BaseException] | None = None
    for event in events:
        span, headers = start_publish_span(
            event.topic, message_id=event.event_id, key=event.key, parent_headers=event.trace_headers or {}
        )
        try:
            ack = await producer.send(
                event.topic,
                value=event.data.encode(),
                key=event.key.encode(),
                headers=as_cloud_event(event, trace_headers=headers).kafka_headers(),
            )
        except Exception as exc:
            finish_publish_span(span, exc)
            send_failure = (event, exc)
            break
        in_flight.append((event, span, ack))
    results = await asyncio.gather(*(ack for _, _, ack in in_flight), return_exceptions=True)
    acked: list[Row] = []
    failure: tuple[Row, BaseException] | None = None
    for (event, span, _), result in zip(in_flight, results):
        finish_publish_span(span, result)
        if failure is None and isinstance(result, BaseException):
            failure = (event, result)
        elif failure is None:
            acked.append(event)
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


async def outbox_backlog(db: Database) -> tuple[int, datetime | None]:
    """How many events are waiting to be sent, and when the oldest of them was written."""
    stmt = select(func.count(), func.min(OutboxEvent.created_at)).where(*_UNSENT)
    async with db.read_only() as session:
        count, oldest = (await session.execute(stmt)).one()
    return count, oldest


async def parked_events(db: Database) -> int:
    stmt = select(func.count()).where(OutboxEvent.sent_at.is_(None), OutboxEvent.parked_at.is_not(None))
    async with db.read_only() as session:
        return await session.scalar(stmt)


async def refresh_backlog_metrics(db: Database, service: str) -> int:
    count, oldest = await outbox_backlog(db)
    OUTBOX_PARKED_NOW.labels(service).set(await parked_events(db))
    OUTBOX_BACKLOG.labels(service).set(count)
    OUTBOX_OLDEST_AGE.labels(service).set((utcnow() - oldest).total_seconds() if oldest else 0.0)
    return count


def postgres_dsn(db: Database) -> str:
    """The plain libpq URL (for asyncpg) of a SQLAlchemy ``postgresql+asyncpg://`` database."""
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class RelayLeadership:
    """The right to publish one database's outbox: a session-level advisory lock held on a
    dedicated connection (PostgreSQL), which also LISTENs for the writers' NOTIFY. Losing the
    connection loses the lock, and ``held`` says so. On SQLite it is always held (one process)."""

    def __init__(self, db: Database, on_notify: asyncio.Event | None = None) -> None:
        self.db = db
        self.on_notify = on_notify
        self._conn: asyncpg.Connection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        if not self.db.is_postgres:
            return True
        return self._held and self._conn is not None and not self._conn.is_closed()

    @property
    def listening(self) -> bool:
        return self.db.is_postgres and self.held and self.on_notify is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._conn is not None and self._conn.is_closed():
            self._conn, self._held = None, False
        if self._conn is None:
            self._conn = await asyncpg.connect(postgres_dsn(self.db))
        self._held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY))
        if self._held and self.on_notify is not None:
            try:
                await self._conn.add_listener(NOTIFY_CHANNEL, self._notified)
            except BaseException:
                await self.release()
                raise
        return self._held

    def _notified(self, *_args) -> None:
        if self.on_notify is not None:
            self.on_notify.set()

    async def release(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()


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
        self._producer = producer
        self._owns_producer = producer is None
        self._producer_started = producer is not None
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.leadership = RelayLeadership(db, on_notify=self._wakeup)
        self._task: asyncio.Task | None = None
        self._role = "stopped"
        self._consecutive_failures = 0
        self._next_purge_at = 0.0
        self._next_metrics_at = 0.0

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
            if pending:  # a publish that does not finish: abandon it (its transaction rolls back)
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.leadership.release()
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
                self._wakeup.clear()
                published = await publish_batch(self.db, self._producer, self.service, self.batch_size)
                self._consecutive_failures = 0
                await self._housekeeping()
                if published < self.batch_size:
                    await self._wait_for_work()
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

    async def _housekeeping(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.settings.outbox_retention_days > 0 and now >= self._next_purge_at:
            self._next_purge_at = now + self.retention_check_interval_s
            cutoff = utcnow() - timedelta(days=self.settings.outbox_retention_days)
            purged = await purge_sent(self.db, cutoff)
            if purged:
                log.info("purged %s outbox events published before %s", purged, cutoff.isoformat())
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
