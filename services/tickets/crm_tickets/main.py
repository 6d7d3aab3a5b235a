"""The tickets service process: REST API (+ the TMF621 facade), gRPC server
(crm.tickets.v1.TicketService), outbox relay, the installed-products consumer, the client of the
sales service, and its own background jobs: the SLA scheduler and the demo stories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_shared.app import ServiceRuntime
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import utcnow
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import callcenter, incidents, tickets, tmf
from .background import SlaScheduler
from .config import TicketsSettings
from .events.consumers import CONSUMERS
from .grpc import server
from .seed import DemoStories


def demo_stories(runtime: ServiceRuntime) -> DemoStories | None:
    if not runtime.settings.demo_stories_enabled:
        return None
    return DemoStories(runtime.db, runtime.clients[SalesCustomers], runtime.clock)


def sla_scheduler(runtime: ServiceRuntime) -> SlaScheduler | None:
    settings = runtime.settings
    if not settings.sla_scheduler_enabled:
        return None
    return SlaScheduler(
        runtime.db, runtime.clock, interval_s=settings.sla_scan_interval_s, batch_size=settings.sla_batch_size
    )


DEFINITION = ServiceDefinition(
    title="Qazaq CRM tickets service",
    description="Trouble tickets with SLAs, queues and escalation, mass incidents, the call-centre flow, "
    "and a TM Forum TMF621 Trouble Ticket facade under /tmf-api/troubleTicket/v4.",
    routers=[tickets.router, incidents.router, callcenter.router, tmf.router, tmf.schemas],
    consumers=CONSUMERS,
    grpc_servicers=server.register,
    clients=[SalesCustomers],
    background=[demo_stories, sla_scheduler],
)


def create_app(
    settings: TicketsSettings | None = None,
    runtime: ServiceRuntime | None = None,
    clock: Callable[[], datetime] = utcnow,
):
    """``clock`` is the service's time (SLA due times, the scheduler, ``crm_shared.api.Now``):
    tests pass one they control."""
    return create_service_app(DEFINITION, settings or TicketsSettings(), runtime=runtime, clock=clock)
