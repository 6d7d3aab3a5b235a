"""Kafka consumers of the tickets service (each idempotent through the shared inbox; every event
is checked against its contract first, crm_shared.service.ConsumerSpec, and one that breaks it is
logged and skipped).

installed-products keeps the projection of the orders service's installed products
(crm.orders.installed_product.v1: created / changed / terminated, the product's full state in
every event, schemas in contracts/crm_contracts/events/schemas/) so that a ticket's product is
checked against its customer, and the call centre sees it, without calling orders.

customer-identity follows sales' merges and erasures (crm.sales.customer.v1: merged, erased): a
duplicate's tickets, interactions and products move to the survivor; an erased customer's copies
are anonymised and the erasure confirmed on crm.tickets.erasure.v1."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import CUSTOMER_TOPIC, erasure_notice, merge_notice
from crm_shared.envelope import CloudEvent
from crm_shared.partner_customers_consumer import partner_customers_consumer
from crm_shared.service import ConsumerSpec

from ..db.models import InstalledProduct, PartnerCustomer
from ..services import customer_identity_service, interaction_service

INSTALLED_PRODUCT_TOPIC = "crm.orders.installed_product.v1"
SALES_ACTIVITY_TOPIC = "crm.sales.activity.v1"
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
    # a product of a customer merged away belongs to the survivor; an erased one keeps no address
    home = await customer_identity_service.home_of(session, data["customer_id"])
    if product is None:
        product = InstalledProduct(id=data["id"])
        session.add(product)
    product.customer_id = home.customer_id
    product.offering_id = data["offering_id"]
    product.offering_name = data["offering_name"]
    product.product_line = data["product_line"]
    product.status = data["status"]
    product.service_address = None if home.erased else data["service_address"] or None
    product.branch_code = data["branch_code"]
    product.region_code = data["region_code"]
    product.source_version = data["version"]
    product.terminated = data["status"] == "terminated"
    product.activated_at = _timestamp(data["activated_at"])
    product.terminated_at = _timestamp(data["terminated_at"])
    product.event_time = _timestamp(data["updated_at"])


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    """A merge moves the duplicate's tickets, interactions and products to the survivor; an
    erasure anonymises the person's copies here and confirms. Other customer events change nothing."""
    if (merge := merge_notice(event)) is not None:
        await customer_identity_service.apply_merge(session, merge, operation_id=event.id)
    elif (erasure := erasure_notice(event)) is not None:
        await customer_identity_service.apply_erasure(session, erasure, operation_id=event.id)


async def apply_sales_activity_event(session: AsyncSession, event: CloudEvent) -> None:
    """A call logged in sales before tickets owned contacts, handed over: it becomes an interaction.
    Sales' other activities (planned work, notes) stay sales'."""
    if event.type == "crm.sales.activity.handed_over":
        await interaction_service.take_over_sales_call(session, event.data)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    partner_customers_consumer(PartnerCustomer, customer_identity_service.IDENTITIES.home_id, "partner-customers"),
    ConsumerSpec("installed-products", [INSTALLED_PRODUCT_TOPIC], apply_installed_product_event),
    ConsumerSpec("customer-identity", [CUSTOMER_TOPIC], apply_customer_event),
    ConsumerSpec("sales-calls", [SALES_ACTIVITY_TOPIC], apply_sales_activity_event),
)
