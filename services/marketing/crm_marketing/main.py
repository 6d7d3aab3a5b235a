"""The marketing service process: REST API, gRPC server, outbox relay and Kafka consumer,
declared once (crm_shared.service wires them)."""

from __future__ import annotations

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import segments
from .config import MarketingSettings
from .events.consumers import CONSUMERS
from .grpc.server import register

DEFINITION = ServiceDefinition(
    title="Qazaq CRM marketing service",
    description="Segments: registered in a branch, seen and changed as the visibility model allows.",
    routers=[segments.router],
    consumers=CONSUMERS,
    grpc_servicers=register,
)


def create_app(settings: MarketingSettings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or MarketingSettings(), runtime=runtime)
