"""Kafka consumers of the tickets service (each idempotent through the shared inbox; every event
is checked against its contract first, crm_shared.service.ConsumerSpec, and one that breaks it is
logged and skipped).

installed-products keeps the projection of the orders service's installed products
(crm.orders.installed_product.v1: created / changed / terminated, the product's full state in
every event, schemas in contracts/crm_contracts/events/schemas/) so that a ticket's product is
checked against its customer, and the call centre sees it, without calling orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..db.models import InstalledProduct

INSTALLED_PRODUCT_TOPIC = "crm.orders.installed_product.v1"
INSTALLED_PRODUCT_TYPES = (
    "crm.orders.installed_product.created",
    "crm.orders.installed_product.changed",
    "crm.orders.installed_product.terminated",
)


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def apply_installed_product_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type not in INSTALLED_PRODUCT_TYPES:
        return
    data = event.data
    product = await session.get(InstalledProduct, data["id"], with_for_update=True)
    if product is not None and product.source_version >= data["version"]:
        return  # a redelivered or late, older state must not overwrite a newer one
    if product is None:
        product = InstalledProduct(id=data["id"])
        session.add(product)
    product.customer_id = data["customer_id"]
    product.offering_id = data["offering_id"]
    product.offering_name = data["offering_name"]
    product.product_line = data["product_line"]
    product.status = data["status"]
    product.service_address = data["service_address"] or None
    product.branch_code = data["branch_code"]
    product.region_code = data["region_code"]
    product.source_version = data["version"]
    product.terminated = data["status"] == "terminated"
    product.activated_at = _timestamp(data["activated_at"])
    product.terminated_at = _timestamp(data["terminated_at"])
    product.event_time = _timestamp(data["updated_at"])


CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("installed-products", [INSTALLED_PRODUCT_TOPIC], apply_installed_product_event),
)
