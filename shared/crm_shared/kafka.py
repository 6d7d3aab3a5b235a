"""Kafka plumbing every service shares: client factories, topic creation, trace propagation.

Traces cross Kafka like this: the request that wrote an outbox row stored its ``traceparent``
in the row; for a row whose trace is sampled the relay opens a PRODUCER span "publish <topic>" as
a child of that stored context and puts the publish span's own ``traceparent`` in the record
headers (any other row's stored context goes on the record as it is: see
``start_publish_span_if_sampled``); the consumer
opens a CONSUMER span "process <topic>" as a child of the publish span and attaches it as the
current context while the handler runs (``async for msg in consumer`` would not do that for
us: opentelemetry-python-contrib #3465).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .settings import ServiceSettings

log = logging.getLogger("crm.kafka")

TRACER_NAME = "crm_shared.kafka"
TRACE_HEADERS = ("traceparent", "tracestate")


def client_id(settings: ServiceSettings) -> str:
    return settings.kafka_client_id or settings.service_name


def make_producer(settings: ServiceSettings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas. Never idempotent or transactional:
    the embedded broker (Tansu) supports neither; duplicates are handled by consumers."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": client_id(settings),
        "acks": "all",
        "enable_idempotence": False,
        "linger_ms": 5,
        # One record batch per partition is in flight at a time: 16 KiB (the default) held about
        # ten outbox events, so a backlog went out ten events per broker round trip.
        "max_batch_size": 512 * 1024,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: ServiceSettings,
    topics: Iterable[str] = (),
    *,
    group_id: str | None,
    **overrides: Any,
) -> AIOKafkaConsumer:
    """A consumer that commits offsets explicitly (after the database commit) and, in a new
    group, starts at the earliest retained record."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": client_id(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        "max_poll_interval_ms": 300_000,
        # a topic created after we subscribed is noticed within this time on a real Kafka
        "metadata_max_age_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def ensure_topics(bootstrap: str, topics: Sequence[tuple[str, int]], *, replication_factor: int = 1) -> list[str]:
    """Create the topics (name, partitions) that do not exist yet; returns the names created.
    Existing topics are left as they are (their partition count is not changed)."""
    if not topics:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="crm-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, partitions, replication_factor) for name, partitions in topics if name not in existing]
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for name, error_code, *rest in response.topic_errors:
            if error_code == 0:
                created.append(name)
            elif error_code != TopicAlreadyExistsError.errno:
                message = rest[0] if rest else None
                raise RuntimeError(f"creating topic {name} failed: error {error_code} {message or ''}".strip())
        return created
    finally:
        await admin.close()


class EndOffsets:
    """The end offset (the offset the next record will get) of every partition of some topics, as
    the broker says now, without a consumer group, and without creating a topic by asking (the
    metadata request is for all topics: one naming a missing topic makes brokers that auto-create,
    such as Tansu, create it). A topic the broker does not have comes back with no partitions.

    The end is the high watermark of a fetch, not the answer to ListOffsets(latest): Tansu answers
    that with one past the base offset of the partition's last record batch (seen: 1 after a batch
    of 12 records), which is below the end whenever the producer batched. The fetch starts at that
    answer, so it reads at most the last batch (on Kafka, where the answer is exact, nothing)."""

    def __init__(self, settings: ServiceSettings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None

    async def fetch(self, topics: Iterable[str]) -> dict[str, dict[int, int]]:
        topics = set(topics)
        if self._consumer is None:
            consumer = make_consumer(
                self.settings,
                group_id=None,
                client_id=f"{client_id(self.settings)}-end-offsets",
                request_timeout_ms=int(self.timeout_s * 1000),
                fetch_max_wait_ms=50,
                auto_offset_reset="latest",
            )
            await consumer.start()
            self._consumer = consumer
        consumer = self._consumer
        # The consumer subscribes to nothing, so its client's metadata refresh asks for all topics
        # (aiokafka sends a null topic list then); AIOKafkaConsumer.topics() would do the same but
        # keeps the answer from the client that the fetches below use.
        await consumer._client.force_metadata_update()
        partitions = {topic: consumer.partitions_for_topic(topic) or set() for topic in topics}
        wanted = [TopicPartition(topic, p) for topic, parts in partitions.items() for p in sorted(parts)]
        result: dict[str, dict[int, int]] = {topic: {} for topic in topics}
        if not wanted:
            return result
        consumer.assign(wanted)  # a fresh assignment: no high watermark known yet
        await consumer.seek_to_end(*wanted)
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        waiting = set(wanted)
        while waiting:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no fetch answer for {sorted(map(str, waiting))} in {self.timeout_s}s")
            await consumer.getmany(*waiting, timeout_ms=100)
            for tp in list(waiting):
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    result[tp.topic][tp.partition] = highwater
                    waiting.discard(tp)
        consumer.unsubscribe()
        return result

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception as exc:
                log.debug("closing the end-offsets client failed: %r", exc)


# A ProxyTracer until a provider is installed, then it delegates to that provider's tracer:
# looking the tracer up once per record cost more than the span itself.
_TRACER = trace.get_tracer(TRACER_NAME)
# The headers carry W3C trace context only (TRACE_HEADERS), so the publish side uses that
# propagator directly rather than the global composite one (which also runs baggage).
_W3C = TraceContextTextMapPropagator()


def _tracer() -> trace.Tracer:
    return _TRACER


def _decoded_headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        if key in TRACE_HEADERS and value is not None:
            out[key] = value.decode("ascii", errors="replace")
    return out


def start_publish_span(
    topic: str, *, message_id: str, key: str, parent_headers: Mapping[str, str]
) -> tuple[Span, dict[str, str]]:
    """Start the PRODUCER span of one record, as a child of the context stored with the outbox
    row; returns the span and the W3C headers (of this span) to put on the record.
    The caller ends the span once the broker acknowledged (see ``finish_publish_span``)."""
    parent = _W3C.extract(parent_headers) if parent_headers else None
    span = _TRACER.start_span(
        f"publish {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": message_id,
            "messaging.kafka.message.key": key,
        },
    )
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(span, parent))
    return span, carrier


def _sampled(traceparent: str) -> bool:
    """The W3C ``sampled`` flag (bit 0 of the last field, ``00-<trace>-<span>-<flags>``)."""
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return True  # malformed: let the propagator and the sampler decide, as before


def start_publish_span_if_sampled(
    topic: str, *, message_id: str, key: str, parent_headers: Mapping[str, str] | None
) -> tuple[Span | None, Mapping[str, str]]:
    """``start_publish_span`` for a row written under a sampled trace. A row written under a trace
    that was not sampled gets no span: the parent-based sampler (``telemetry.setup_tracing``)
    would record nothing of it, and starting one cost more than the send; its stored context goes
    on the record as it is, so the consumer's span stays in that (unsampled) trace. A row written
    outside any trace gets none either: the consumer's span starts the trace (and is sampled as a
    new one). Returns (span or None, the trace headers for the record)."""
    traceparent = parent_headers.get("traceparent") if parent_headers else None
    if traceparent is None or not _sampled(traceparent):
        return None, parent_headers or {}
    return start_publish_span(topic, message_id=message_id, key=key, parent_headers=parent_headers)


def finish_publish_span(span: Span, result: RecordMetadata | BaseException) -> None:
    if isinstance(result, BaseException):
        span.record_exception(result)
        span.set_status(Status(StatusCode.ERROR, f"{result.__class__.__name__}: {result}"))
    else:
        span.set_attributes(
            {"messaging.destination.partition.id": str(result.partition), "messaging.kafka.offset": result.offset}
        )
    span.end()


@contextmanager
def process_span(record: ConsumerRecord, *, message_id: str, consumer_group: str | None = None) -> Iterator[Span]:
    """The CONSUMER span of one record, child of the producer's span found in the record
    headers, attached as the current context for the body of the ``with`` block, so that the
    handler's database spans and log lines belong to the same trace."""
    parent = propagate.extract(_decoded_headers(record.headers))
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": record.topic,
        "messaging.message.id": message_id,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
    }
    if consumer_group:
        attributes["messaging.consumer.group.name"] = consumer_group
    if record.key is not None:
        attributes["messaging.kafka.message.key"] = record.key.decode("utf-8", errors="replace")
    span = _TRACER.start_span(f"process {record.topic}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes)
    token = context.attach(trace.set_span_in_context(span, parent))
    try:
        yield span
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{exc.__class__.__name__}: {exc}"))
        raise
    finally:
        context.detach(token)
        span.end()
