"""The partners service process: REST API (partners, deals, commissions, statements, disputes),
gRPC server (crm.partners.v1.PartnerService), outbox relay, the consumers of orders' and billing's
events and of sales' customer merges and erasures, and its clients of sales (gRPC reads, REST
creates)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import utcnow
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import commissions, deals, partners
from .clients.sales_records import SalesRecords
from .config import PartnersSettings
from .events.consumers import CONSUMERS
from .grpc.server import register

DEFINITION = ServiceDefinition(
    title="Qazaq CRM partners service",
    description="Dealers, agents and installers; deal registration without channel conflict; commissions from "
    "completed and paid orders, monthly statements and disputes.",
    routers=[partners.router, deals.router, commissions.router],
    consumers=CONSUMERS,
    grpc_servicers=register,
    clients=[SalesCustomers, SalesRecords],
)


def create_app(
    settings: PartnersSettings | None = None,
    runtime: ServiceRuntime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    return create_service_app(DEFINITION, settings or PartnersSettings(), runtime=runtime, clock=clock)
