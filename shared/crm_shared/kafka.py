"""Kafka plumbing every service shares: client factories, topic creation, trace propagation.

Traces cross Kafka like this: the request that wrote an outbox row stored its ``traceparent``
in the row; the relay opens a PRODUCER span "publish <topic>" as a child of that stored
context and puts the publish span's own ``traceparent`` in the record headers; the consumer
opens a CONSUMER span "process <topic>" as a child of the publish span and attaches it as the
current context while the handler runs (``async for msg in consumer`` would not do that for
us: opentelemetry-python-contrib #3465).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord, RecordMetadata
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
