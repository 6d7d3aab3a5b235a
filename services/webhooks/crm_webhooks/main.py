"""The webhooks service process: the subscriptions API and the TM Forum hubs, the fan-out
consumer of every catalogue topic and the dispatcher delivering to subscribers, declared once
(crm_shared.service wires them)."""

from __future__ import annotations

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import hub, webhooks
from .background import dispatcher
from .config import WebhooksSettings
from .events.consumers import CONSUMERS

DEFINITION = ServiceDefinition(
    title="Qazaq CRM webhooks service",
    description=(
        "Event subscriptions of external systems: webhooks of the CRM's own event types and TM Forum "
        "hubs, delivered as signed CloudEvents with retries, per-record order, parking and redrive."
    ),
    routers=[webhooks.router, hub.router],
    consumers=CONSUMERS,
    background=[dispatcher],
)


def create_app(settings: WebhooksSettings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or WebhooksSettings(), runtime=runtime)
