"""The analytics service process: the dashboards' REST API, the event store (ClickHouse: chDB
embedded, or a server), the ingest worker reading every topic of the catalogue into it, the
customer-identity consumer (erasure cuts the pseudonym link) and the outbox relay of its erasure
confirmations. Declared once (crm_shared.service wires them)."""

from __future__ import annotations

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import dashboards
from .background import Compactor, IngestWorker, MonthlyReports
from .config import AnalyticsSettings
from .db.store import EventStore
from .events.consumers import CONSUMERS


def ingest_worker(runtime: ServiceRuntime) -> IngestWorker | None:
    if not runtime.settings.ingest_enabled:
        return None
    return IngestWorker(runtime.db, runtime.clients[EventStore], runtime.settings)


def monthly_reports(runtime: ServiceRuntime) -> MonthlyReports | None:
    if not runtime.settings.monthly_reports_enabled:
        return None
    return MonthlyReports(runtime.clients[EventStore], runtime.settings, runtime.clock)


def compactor(runtime: ServiceRuntime) -> Compactor | None:
    if not runtime.settings.compaction_enabled:
        return None
    return Compactor(runtime.clients[EventStore], runtime.settings)


DEFINITION = ServiceDefinition(
    title="Qazaq CRM analytics service",
    description="Head-office analytics: every event of every service in ClickHouse (pseudonymous, no personal "
    "data), dashboards of customers, pipeline, orders and revenue, installed base and churn, tickets and SLAs, "
    "CSV exports and monthly reports per region.",
    routers=[dashboards.router],
    consumers=CONSUMERS,
    clients=[EventStore],
    background=[ingest_worker, monthly_reports, compactor],
)


def create_app(settings: AnalyticsSettings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or AnalyticsSettings(), runtime=runtime)
