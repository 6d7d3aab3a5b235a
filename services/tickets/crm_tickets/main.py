"""The tickets service process: REST API (+ the TMF621 facade), gRPC server
(crm.tickets.v1.TicketService), outbox relay, Kafka consumers, the SLA scheduler and the client
of the sales service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_shared.app import ServiceRuntime, create_service_app
from crm_shared.db import utcnow

from .api import callcenter, incidents, tickets, tmf
from .config import TicketsSettings
from .customers import CustomerDirectory
from .events.consumers import consumers
from .grpc.server import register_servicers
from .sla_scheduler import SlaScheduler


def workers(customers: CustomerDirectory, clock: Callable[[], datetime]):
    def make(runtime: ServiceRuntime):
        # Imported only when switched on: a process (or a test) without a broker never loads Kafka code.
        settings = runtime.settings
        yield customers
        if settings.grpc_enabled:
            from crm_shared.grpc import GrpcServerWorker

            yield GrpcServerWorker(settings, lambda server: register_servicers(server, runtime))
        if settings.relay_enabled:
            from crm_shared.relay import OutboxRelay

            yield OutboxRelay(runtime.db, settings)
        if settings.consumers_enabled:
            from crm_shared.consumer import EventConsumer

            for spec in consumers():
                yield EventConsumer(spec.name, runtime.db, settings, spec.topics, spec.handler)
        if settings.demo_stories_enabled:
            from .seed import DemoStories

            yield DemoStories(runtime.db, customers, clock)
        if settings.sla_scheduler_enabled:
            yield SlaScheduler(
                runtime.db, clock, interval_s=settings.sla_scan_interval_s, batch_size=settings.sla_batch_size
            )

    return make


def create_app(
    settings: TicketsSettings | None = None,
    runtime: ServiceRuntime | None = None,
    clock: Callable[[], datetime] = utcnow,
):
    """``clock`` is the service's time (SLA due times, the scheduler): tests pass one they control."""
    settings = settings or TicketsSettings()
    customers = CustomerDirectory(settings)
    app = create_service_app(
        settings,
        title="Qazaq CRM tickets service",
        description="Trouble tickets with SLAs, queues and escalation, mass incidents, the call-centre flow, "
        "and a TM Forum TMF621 Trouble Ticket facade under /tmf-api/troubleTicket/v4.",
        routers=[tickets.router, incidents.router, callcenter.router, tmf.router],
        workers=workers(customers, clock),
        runtime=runtime,
    )
    app.state.clock = clock
    app.state.customers = customers
    return app
