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

import inspect
import os
import threading
from collections.abc import Sequence

import httpx
import orjson
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
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


class _AsgiHeaders(Getter):
    """Reads the W3C trace context straight from an ASGI scope's raw header list."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_ASGI_HEADERS = _AsgiHeaders()
UNTRACED_PATH_ENDINGS = ("healthz", "readyz", "metrics")


class TracingMiddleware:
    """One SERVER span per HTTP request, child of the caller's ``traceparent``, sampled as the
    provider's sampler says (module doc). It replaces OpenTelemetry's ASGI middleware, which
    builds the request's attributes, a span name and send/receive wrappers before the sampler
    decides, for every request: here an unsampled request only extracts the caller's context and
    makes it current with the (non-recording) span, so that outgoing calls and stored events still
    carry the trace id onward, and a sampled one gets the attributes and status."""

    def __init__(self, app) -> None:
        self.app = app
        self.tracer = trace.get_tracer("crm_shared.http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(UNTRACED_PATH_ENDINGS):
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(scope["headers"], getter=_ASGI_HEADERS)
        method = scope["method"]
        span = self.tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            if span.is_recording():
                await self._traced(span, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            context.detach(token)
            span.end()

    async def _traced(self, span: trace.Span, scope, receive, send) -> None:
        span.set_attributes(
            {
                "http.request.method": scope["method"],
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            }
        )

        async def send_and_note_status(message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.StatusCode.ERROR)
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
            raise
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.set_attribute("http.route", route)
                span.update_name(f"{scope['method']} {route}")


def _native_fastapi_telemetry_off() -> dict:
    """FastAPI's own per-request telemetry (recent FastAPI: a server span, operation spans, metrics
    and logs, on whenever a tracer provider exists), switched off: ``TracingMiddleware`` makes the
    request's one span. Empty for a FastAPI without it."""
    from fastapi import FastAPI

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


NATIVE_FASTAPI_TELEMETRY_OFF = _native_fastapi_telemetry_off()


def instrument_fastapi(app) -> None:
    """Outermost of the app's own middlewares: the span covers them and the handler."""
    app.add_middleware(TracingMiddleware)


def instrument_engine(engine) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentor declares support up to SQLAlchemy 2.0; its engine hooks work on 2.1 unchanged.
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


class TracedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that carries the current trace to the server (``traceparent``) and, only
    when that trace is sampled, records a CLIENT span around the request (the server's parent).
    OpenTelemetry's httpx instrumentation builds the span's attributes and a span for every
    request before the sampler decides; an unsampled request here costs the header alone."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.tracer = trace.get_tracer("crm_shared.http.client")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not trace.get_current_span().is_recording():
            propagate.inject(request.headers)
            return await self.inner.handle_async_request(request)
        method = request.method
        attributes = {"http.request.method": method, "url.full": str(request.url), "server.address": request.url.host}
        with self.tracer.start_as_current_span(method, kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
            propagate.inject(request.headers)
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.StatusCode.ERROR)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
