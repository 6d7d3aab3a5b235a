"""Kafka consumers of the tickets service (each idempotent through the shared inbox).

installed-products keeps the projection of the orders service's installed products
(crm.orders.installed_product.v1, full state in every event) so that a ticket's product is
checked against its customer without calling orders. It is switched on once that topic is in
the event catalogue (contracts/crm_contracts/events/topics/)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.envelope import CloudEvent

from ..db.models import InstalledProduct

INSTALLED_PRODUCT_TOPIC = "crm.orders.installed_product.v1"
INSTALLED_PRODUCT_TYPES = ("crm.orders.installed_product.created", "crm.orders.installed_product.changed",
                           "crm.orders.installed_product.terminated")


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: list[str]
    handler: Callable[[AsyncSession, CloudEvent], Awaitable[None]]


def _enum_name(value, prefix: str) -> str:
    """"PRODUCT_LINE_INTERNET" or "internet" -> "internet"."""
    text = str(value or "unspecified")
    return text.removeprefix(prefix).lower()


async def apply_installed_product_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type not in INSTALLED_PRODUCT_TYPES:
        return
    data = event.data
    product_id = str(data.get("id") or event.subject)
    product = await session.get(InstalledProduct, product_id, with_for_update=True)
    if product is not None and product.event_time > event.time:
        return  # a late, older state must not overwrite a newer one
    if product is None:
        product = InstalledProduct(id=product_id)
        session.add(product)
    status = _enum_name(data.get("status"), "INSTALLED_PRODUCT_STATUS_")
    product.customer_id = str(data["customer_id"])
    product.offering_name = str(data.get("offering_name") or "")
    product.product_line = _enum_name(data.get("product_line"), "PRODUCT_LINE_")
    product.status = status
    product.service_address = data.get("service_address") or None
    product.branch_code = data.get("branch_code")
    product.region_code = data.get("region_code")
    product.terminated = event.type.endswith(".terminated") or status == "terminated"
    product.event_time = event.time if isinstance(event.time, datetime) else datetime.fromisoformat(str(event.time))


def _topic_catalogued(topic: str) -> bool:
    from crm_contracts import events

    return any(t["name"] == topic for t in events.topics())


def consumers() -> list[ConsumerSpec]:
    specs = []
    if _topic_catalogued(INSTALLED_PRODUCT_TOPIC):
        specs.append(ConsumerSpec("installed-products", [INSTALLED_PRODUCT_TOPIC], apply_installed_product_event))
    return specs
