"""Prometheus metrics: request latency, outbox backlog and age, consumer lag."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("crm.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)
BEFORE_SCRAPE_TIMEOUT_S = 2.0

HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Unsent outbox events", ["service"], registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent event", ["service"], registry=REGISTRY
)
OUTBOX_PUBLISHED = Counter(
    "crm_outbox_published_total", "Events published by the relay", ["service"], registry=REGISTRY
)
OUTBOX_FAILURES = Counter(
    "crm_outbox_publish_failures_total", "Failed publish attempts", ["service"], registry=REGISTRY
)
OUTBOX_PARKED = Counter(
    "crm_outbox_parked_total", "Events parked after the broker refused them for good", ["service"], registry=REGISTRY
)
OUTBOX_PARKED_NOW = Gauge(
    "crm_outbox_parked_events", "Parked events waiting for `crm outbox replay`", ["service"], registry=REGISTRY
)
OUTBOX_BROKER_RESETS = Counter(
    "crm_outbox_broker_resets_total",
    "Times the relay found the broker had lost events it had acknowledged (e.g. a memory-only broker restarted)",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_REPUBLISHED = Counter(
    "crm_outbox_republished_total",
    "Events marked unsent again by the relay after a broker reset",
    ["service"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag",
    "Messages behind the partition end",
    ["service", "consumer", "topic", "partition"],
    registry=REGISTRY,
)
CONSUMED = Counter(
    "crm_consumer_events_total", "Events handled by consumers", ["service", "consumer", "outcome"], registry=REGISTRY
)


class RequestMetricsMiddleware:
    """Observes every HTTP request's latency by method, route template and status. Plain ASGI:
    no extra task per request (what ``@app.middleware("http")`` costs)."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_observing_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observing_status)
        finally:
            route = scope.get("route")
            HTTP_LATENCY.labels(
                self.service, scope["method"], getattr(route, "path", "unmatched"), str(status)
            ).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI, service: str, before_scrape: Callable[[], Awaitable[object]] | None = None) -> None:
    """``before_scrape``: refreshes gauges whose truth is elsewhere (the outbox backlog, read from
    the database) each time /metrics is read; it is given BEFORE_SCRAPE_TIMEOUT_S, and a failure or
    a timeout leaves the previous values (and is logged), never fails the scrape."""
    app.add_middleware(RequestMetricsMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        if before_scrape is not None:
            try:
                await asyncio.wait_for(before_scrape(), BEFORE_SCRAPE_TIMEOUT_S)
            except Exception as exc:
                log.warning("metrics of %s: refreshing before the scrape failed: %r", service, exc)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
