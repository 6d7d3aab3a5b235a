"""The service application factory: every service's FastAPI app is built here, so that
errors, metrics, tracing, health, request ids and body limits are the same everywhere.

Background workers (outbox relay, Kafka consumers, the gRPC server) implement ``Worker``
and are started and stopped with the app's lifespan.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from .db import Database, utcnow
from .errors import PROBLEM_JSON, Problem, install_problem_handlers
from .inputs import NulCharacterGuard
from .logging import configure_logging
from .metrics import install_metrics
from .query import refuse_unknown_query_parameters
from .settings import ServiceSettings
from .telemetry import (
    NATIVE_FASTAPI_TELEMETRY_OFF,
    instrument_engine,
    instrument_fastapi,
    setup_tracing,
    shutdown_tracing,
)

log = logging.getLogger("crm.app")
REQUEST_ID_HEADER = "x-request-id"


class Worker(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool: ...


class ServiceRuntime:
    """What a running service holds: its settings, its database, its clock (tests pass one they
    control), its clients of other services (keyed by class) and its background workers."""

    def __init__(
        self,
        settings: ServiceSettings,
        db: Database | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db or Database(settings.resolved_database_url)
        self.clock = clock
        self.clients: dict[type, Worker] = {}
        self.workers: list[Worker] = []


WorkersFactory = Callable[[ServiceRuntime], Iterable[Worker]]


UPLOAD_CONTENT_TYPES = (b"multipart/form-data", b"text/csv")


class BodyLimitMiddleware:
    """Refuses request bodies above ``max_bytes`` (a file upload: ``max_upload_bytes``) with a 413
    problem, before the app reads them."""

    def __init__(self, app, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max(max_bytes, max_upload_bytes or max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        upload = headers.get(b"content-type", b"").lower().startswith(UPLOAD_CONTENT_TYPES)
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._too_large(scope, send, limit)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, send, limit)

    async def _too_large(self, scope, send, limit: int):
        problem = Problem(413, "Payload too large", f"request body exceeds {limit} bytes")
        response = JSONResponse(problem.body(scope.get("path")), status_code=413, media_type=PROBLEM_JSON)
        await response(scope, None, send)


class _BodyTooLarge(Exception):
    pass


class RequestIdMiddleware:
    """Takes the caller's ``x-request-id`` (or makes one), keeps it in ``request.state.request_id``
    and echoes it on the response. Plain ASGI: no extra task per request.

    A request id goes into logs, traces and the headers of other requests, so it must be plain:
    1 to 200 visible ASCII characters; anything else is a 400 naming the header."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = b""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER_BYTES:
                raw = value
                break
        malformed = bool(raw) and not REQUEST_ID_PATTERN.fullmatch(raw)
        request_id = raw.decode("ascii") if raw and not malformed else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode("ascii")

        async def send_with_request_id(message):
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != _REQUEST_ID_HEADER_BYTES
                ]
                headers.append((_REQUEST_ID_HEADER_BYTES, encoded))
                message = {**message, "headers": headers}
            await send(message)

        if malformed:
            problem = Problem(
                400,
                "Bad request",
                f"{REQUEST_ID_HEADER}: must be 1 to {MAX_REQUEST_ID_LENGTH} visible ASCII characters (e.g. a UUID)",
                errors=[{"field": REQUEST_ID_HEADER, "message": "not 1-200 visible ASCII characters"}],
            )
            response = JSONResponse(problem.body(scope.get("path")), status_code=400, media_type=PROBLEM_JSON)
            return await response(scope, receive, send_with_request_id)
        await self.app(scope, receive, send_with_request_id)


_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
MAX_REQUEST_ID_LENGTH = 200
REQUEST_ID_PATTERN = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_REQUEST_ID_LENGTH)


def install_request_ids(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Iterable[APIRouter],
    workers: WorkersFactory | None = None,
    runtime: ServiceRuntime | None = None,
    on_startup: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    description: str = "",
) -> FastAPI:
    runtime = runtime or ServiceRuntime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        setup_tracing(
            settings.service_name,
            trace_file=settings.trace_file,
            otlp_endpoint=settings.otlp_endpoint,
            sample_ratio=settings.trace_sample_ratio,
        )
        if settings.trace_database_queries:
            instrument_engine(runtime.db.engine)
        if on_startup:
            await on_startup(runtime)
        runtime.workers = list(workers(runtime)) if workers else []
        started: list[Worker] = []
        try:
            for worker in runtime.workers:
                await worker.start()
                started.append(worker)
                log.info("started %s", worker.name)
            yield
        finally:
            for worker in reversed(started):
                try:
                    await worker.stop()
                except Exception:
                    log.exception("stopping %s failed", worker.name)
            await runtime.db.dispose()
            shutdown_tracing()

    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        **NATIVE_FASTAPI_TELEMETRY_OFF,
    )
    # every route added from here on refuses query parameters it does not know (crm_shared.query)
    app.router.dependencies.append(Depends(refuse_unknown_query_parameters))
    app.state.runtime = runtime
    app.state.settings = settings
    install_problem_handlers(app)
    # innermost of the middlewares: its refusals are counted and carry request ids
    app.add_middleware(NulCharacterGuard)
    install_metrics(app, settings.service_name, before_scrape=lambda: _outbox_gauges(runtime))
    install_request_ids(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        checks: dict[str, str] = {}
        try:
            await runtime.db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"down: {exc.__class__.__name__}"
        for worker in runtime.workers:
            checks[worker.name] = "ok" if worker.ready else "starting"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    for router in routers:
        app.include_router(router)
    instrument_fastapi(app)
    return app


async def _outbox_gauges(runtime: ServiceRuntime) -> None:
    """The outbox backlog and oldest-unsent age, from the database at scrape time: true even while
    the relay is stuck on a frozen broker (it used to be the relay that set them)."""
    from .outbox import refresh_backlog_metrics

    await refresh_backlog_metrics(runtime.db, runtime.settings.service_name)


def runtime_of(request: Request) -> ServiceRuntime:
    return request.app.state.runtime
