"""The partners service process: REST API, gRPC server, outbox relay and Kafka consumer,
declared once (crm_shared.service wires them)."""

from __future__ import annotations

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import partners
from .config import PartnersSettings
from .events.consumers import CONSUMERS
from .grpc.server import register

DEFINITION = ServiceDefinition(
    title="Qazaq CRM partners service",
    description="Partners: registered in a branch, seen and changed as the visibility model allows.",
    routers=[partners.router],
    consumers=CONSUMERS,
    grpc_servicers=register,
)


def create_app(settings: PartnersSettings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or PartnersSettings(), runtime=runtime)
