"""Prometheus metrics: request latency, outbox backlog and age, consumer lag."""
from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route", "status"],
    registry=REGISTRY, buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Unsent outbox events", ["service"], registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge("crm_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent event",
                          ["service"], registry=REGISTRY)
OUTBOX_PUBLISHED = Counter("crm_outbox_published_total", "Events published by the relay", ["service"],
                           registry=REGISTRY)
OUTBOX_FAILURES = Counter("crm_outbox_publish_failures_total", "Failed publish attempts", ["service"],
                          registry=REGISTRY)
CONSUMER_LAG = Gauge("crm_consumer_lag", "Messages behind the partition end", ["service", "consumer", "topic",
                     "partition"], registry=REGISTRY)
CONSUMED = Counter("crm_consumer_events_total", "Events handled by consumers", ["service", "consumer", "outcome"],
                   registry=REGISTRY)


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def _observe(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        HTTP_LATENCY.labels(service, request.method, getattr(route, "path", "unmatched"),
                            str(response.status_code)).observe(time.perf_counter() - start)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
