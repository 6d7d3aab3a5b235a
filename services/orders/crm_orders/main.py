"""The orders service process: REST API (and the TM Forum facade), gRPC server, outbox relay,
Kafka consumers, and the gRPC client of the sales service."""

from __future__ import annotations

from crm_shared.app import ServiceRuntime, create_service_app

from .api import billing, catalog, inventory, orders, stats, tmf
from .config import OrdersSettings
from .customers import SalesCustomers
from .events.consumers import CONSUMERS
from .grpc.server import register_servicers


def workers(sales_customers: SalesCustomers):
    def make(runtime: ServiceRuntime):
        # Imported only when switched on: a process (or a test) without a broker never loads Kafka code.
        settings = runtime.settings
        yield sales_customers
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

    return make


def create_app(settings: OrdersSettings | None = None, runtime: ServiceRuntime | None = None):
    settings = settings or OrdersSettings()
    sales_customers = SalesCustomers(settings)
    app = create_service_app(
        settings,
        title="Qazaq CRM orders service",
        description="Product catalogue, orders and fulfilment, installed products, billing integration; "
        "TM Forum TMF620/622 facades under /tmf-api.",
        routers=[orders.router, catalog.router, inventory.router, billing.router, stats.router, tmf.router],
        workers=workers(sales_customers),
        runtime=runtime,
    )
    app.state.sales_customers = sales_customers
    return app
