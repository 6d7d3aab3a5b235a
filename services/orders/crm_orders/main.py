"""The orders service process: REST API (and the TM Forum facades), gRPC server
(crm.orders.v1.InventoryService), outbox relay, the won-opportunity consumer, and the gRPC
client of the sales service."""

from __future__ import annotations

from crm_shared.app import ServiceRuntime
from crm_shared.clients.sales import SalesCustomers
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import billing, catalog, inventory, orders, stats, tmf, tmf_inventory
from .config import OrdersSettings
from .events.consumers import CONSUMERS
from .grpc import server

DEFINITION = ServiceDefinition(
    title="Qazaq CRM orders service",
    description="Product catalogue, orders and fulfilment, installed products, billing integration; "
    "TM Forum TMF620/622/637 facades under /tmf-api.",
    routers=[
        orders.router,
        catalog.router,
        inventory.router,
        billing.router,
        stats.router,
        tmf.router,
        tmf.schemas,
        tmf.catalog_schemas,
        tmf_inventory.router,
        tmf_inventory.schemas,
    ],
    consumers=CONSUMERS,
    grpc_servicers=server.register,
    clients=[SalesCustomers],
)


def create_app(settings: OrdersSettings | None = None, runtime: ServiceRuntime | None = None):
    return create_service_app(DEFINITION, settings or OrdersSettings(), runtime=runtime)
