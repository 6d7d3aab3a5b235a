"""The partners service's consumers (each idempotent through the shared inbox, every event checked
against its contract first): commissions from orders (completed orders, disconnected products) and
billing (payments), and sales' merges and erasures of customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import CUSTOMER_TOPIC, erasure_notice, merge_notice
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..services import commission_service, customer_identity_service

ORDER_TOPIC = "crm.orders.order.v1"
INSTALLED_PRODUCT_TOPIC = "crm.orders.installed_product.v1"
BILLING_TOPIC = "crm.orders.billing.v1"
ORDER_COMPLETED = "crm.orders.order.completed"
PRODUCT_TERMINATED = "crm.orders.installed_product.terminated"
PAYMENT_RECEIVED = "crm.orders.billing.payment_received"


def _time(value: str | None, fallback: datetime) -> datetime:
    return datetime.fromisoformat(value) if value else fallback


async def apply_orders_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type == ORDER_COMPLETED:
        await commission_service.accrue_completed_order(
            session, event.data, _time(event.data.get("completed_at"), event.time)
        )
    elif event.type == PRODUCT_TERMINATED:
        await commission_service.claw_back(session, event.data, _time(event.data.get("terminated_at"), event.time))


async def apply_orders_events(session: AsyncSession, events: list[CloudEvent]) -> None:
    """A batch of orders' events with the effect of ``apply_orders_event`` on each in turn: each run
    of completed orders accrues in one set-based step."""
    completed: list[commission_service.CompletedOrder] = []
    for event in events:
        if event.type == ORDER_COMPLETED:
            at = _time(event.data.get("completed_at"), event.time)
            completed.append(commission_service.CompletedOrder(event.data, at))
            continue
        await commission_service.accrue_completed_orders(session, completed)
        completed = []
        await apply_orders_event(session, event)
    await commission_service.accrue_completed_orders(session, completed)


async def apply_billing_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type == PAYMENT_RECEIVED:
        await commission_service.confirm_by_payment(session, event.data, _time(event.data.get("paid_at"), event.time))


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    if (merge := merge_notice(event)) is not None:
        await customer_identity_service.apply_merge(session, merge)
    elif (erasure := erasure_notice(event)) is not None:
        await customer_identity_service.apply_erasure(session, erasure)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    # The names are the inbox keys and consumer groups (partners.<name>): keep them stable.
    ConsumerSpec("commissions-orders", [ORDER_TOPIC, INSTALLED_PRODUCT_TOPIC], apply_orders_event, apply_orders_events),
    ConsumerSpec("commissions-billing", [BILLING_TOPIC], apply_billing_event),
    ConsumerSpec("customer-identity", [CUSTOMER_TOPIC], apply_customer_event),
)
