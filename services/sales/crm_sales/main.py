"""The sales service process: REST API, gRPC server, outbox relay and Kafka consumers."""

from __future__ import annotations

from crm_shared.app import ServiceRuntime, create_service_app

from .api import activities, customers, leads, opportunities, reassignments, stats
from .config import SalesSettings
from .events.consumers import CONSUMERS
from .grpc.server import register_servicers


def workers(runtime: ServiceRuntime):
    # Imported only when switched on: a process (or a test) without a broker never loads Kafka code.
    settings = runtime.settings
    if settings.relay_enabled:
        from crm_shared.relay import OutboxRelay

        yield OutboxRelay(runtime.db, settings)
    if settings.consumers_enabled:
        from crm_shared.consumer import EventConsumer

        for spec in CONSUMERS:
            yield EventConsumer(spec.name, runtime.db, settings, spec.topics, spec.handler)
    if settings.grpc_enabled:
        from crm_shared.grpc import GrpcServerWorker

        yield GrpcServerWorker(settings, lambda server: register_servicers(server, runtime))


def create_app(settings: SalesSettings | None = None, runtime: ServiceRuntime | None = None):
    settings = settings or SalesSettings()
    return create_service_app(
        settings,
        title="Qazaq CRM sales service",
        description="Customers, contacts, leads, opportunities, activities, audit history.",
        routers=[
            customers.router,
            leads.router,
            opportunities.router,
            activities.router,
            reassignments.router,
            stats.router,
        ],
        workers=workers,
        runtime=runtime,
    )
