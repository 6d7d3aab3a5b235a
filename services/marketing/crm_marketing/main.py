"""The marketing service process: REST API, gRPC server (crm.marketing.v1.LoyaltyService), outbox
relay, the consumers (customers, products, conversions, loyalty), the campaign sender and the
points expiry, declared once (crm_shared.service wires them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.clients.sales import SalesCustomers
from crm_shared.consumer import EventConsumer
from crm_shared.db import utcnow
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import campaigns, loyalty, opt_out, segments
from .background import CampaignSender, PointsExpiry, loyalty_rules
from .config import MarketingSettings
from .events.consumers import CONSUMERS, payment_consumer
from .grpc.server import register


def campaign_sender(runtime: ServiceRuntime) -> CampaignSender | None:
    if not runtime.settings.sender_enabled:
        return None
    return CampaignSender(runtime.db, runtime.settings, runtime.clock, runtime.clients.get(SalesCustomers))


def points_expiry(runtime: ServiceRuntime) -> PointsExpiry | None:
    if not runtime.settings.sender_enabled:
        return None
    return PointsExpiry(runtime.db, runtime.settings, runtime.clock)


def loyalty_consumer(runtime: ServiceRuntime) -> EventConsumer | None:
    """Points per payment (crm.orders.billing.v1), with the programme's rules from the settings."""
    settings = runtime.settings
    if not settings.consumers_enabled:
        return None
    spec = payment_consumer(loyalty_rules(settings))
    return EventConsumer(spec.name, runtime.db, settings, spec.topics, spec.contract_checked())


DEFINITION = ServiceDefinition(
    title="Qazaq CRM marketing service",
    description="Segments from the customers' projections (consent enforced), campaigns over SMS (SMPP) and "
    "e-mail (SMTP) delivered once, responses and conversions, and the loyalty programme.",
    routers=[segments.router, campaigns.router, loyalty.router, opt_out.router],
    consumers=CONSUMERS,
    clients=[SalesCustomers],
    grpc_servicers=register,
    background=[loyalty_consumer, campaign_sender, points_expiry],
)


def create_app(
    settings: MarketingSettings | None = None,
    runtime: ServiceRuntime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    return create_service_app(DEFINITION, settings or MarketingSettings(), runtime=runtime, clock=clock)
