"""OpenTelemetry setup: one tracer provider per process, spans exported to a JSON-lines
file (the dev default, so a test can follow one trace across processes) and/or to an
OTLP/HTTP collector (production).

Sampling is parent-based: a request that arrives with a sampled trace (a ``traceparent`` whose
sampled flag is set: another service's span, a gRPC call, a Kafka record) is always recorded, one
whose caller's trace is not sampled never is, and a new trace (a root: a browser's request, a
scheduler's pass) is recorded with probability ``sample_ratio`` (``trace_sample_ratio`` in the
settings). A sampled request's trace is therefore complete across gateway → service → gRPC →
Kafka → consumer, and the others cost no span export, attributes or ids beyond the context."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import orjson
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, SamplingResult, TraceIdRatioBased

_configured = False


class _AdjustableSampler(Sampler):
    """``ParentBased(TraceIdRatioBased(ratio))`` whose ratio can be changed after the provider
    (and the tracers it handed out, which keep their sampler) exist: ``set_sample_ratio``."""

    def __init__(self, ratio: float) -> None:
        self.set_ratio(ratio)

    def set_ratio(self, ratio: float) -> None:
        self._delegate = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(self, *args, **kwargs) -> SamplingResult:
        return self._delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return self._delegate.get_description()


_SAMPLER = _AdjustableSampler(1.0)


def set_sample_ratio(ratio: float) -> None:
    """The share of new traces recorded from now on in this process (tests that follow one
    trace set 1.0 whatever a service's settings installed)."""
    _SAMPLER.set_ratio(ratio)


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to a file (several processes may share it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            lines.append(
                orjson.dumps(
                    {
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "name": span.name,
                        "kind": span.kind.name,
                        "service": span.resource.attributes.get("service.name"),
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {
                            k: v if isinstance(v, (str, int, float, bool)) else str(v)
                            for k, v in (span.attributes or {}).items()
                        },
                        "links": [format(link.context.span_id, "016x") for link in span.links],
                    }
                )
            )
        with self._lock, open(self.path, "ab") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def setup_tracing(
    service_name: str, *, trace_file: str = "", otlp_endpoint: str = "", sample_ratio: float = 1.0
) -> TracerProvider:
    """Install the global tracer provider once per process; ``sample_ratio`` of new traces are
    recorded, and every trace whose caller's was (module doc)."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        return provider
    _SAMPLER.set_ratio(sample_ratio)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=_SAMPLER)
    if trace_file:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(trace_file), schedule_delay_millis=500))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def instrument_fastapi(app) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # One SERVER span per request; the ASGI "http send"/"http receive" spans under it (two or
    # three per request) cost more than the request's own span and say little.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])


def instrument_engine(engine) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentor declares support up to SQLAlchemy 2.0; its engine hooks work on 2.1 unchanged.
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


def instrument_httpx_client(client) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
