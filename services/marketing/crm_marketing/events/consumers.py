"""The marketing service's consumers (each idempotent through the shared inbox, every event
checked against its contract first, crm_shared.service.ConsumerSpec):

- customers: crm.sales.customer.v1 into the customer projection (consent included: a withdrawal
  suppresses pending deliveries at once), merges and erasures (customer_identity_service);
- products: crm.orders.installed_product.v1 into the product projection (segments by product line);
- tickets: crm.tickets.ticket.v1 into the open-tickets projection (segments by open tickets);
- conversions: crm.orders.order.v1 completed orders convert targeted customers' deliveries;
- billing: crm.orders.billing.v1 invoices and payments into the invoice projection (payment status);
- loyalty: crm.orders.billing.v1 payments accrue points once per payment, enrolling on the first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import CUSTOMER_TOPIC, ERASED, erasure_notice, merge_notice
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..services import campaign_service, customer_identity_service, loyalty_service, projection_service

PRODUCT_TOPIC = "crm.orders.installed_product.v1"
ORDER_TOPIC = "crm.orders.order.v1"
TICKET_TOPIC = "crm.tickets.ticket.v1"
BILLING_TOPIC = "crm.orders.billing.v1"
PAYMENT_RECEIVED = "crm.orders.billing.payment_received"
INVOICE_ISSUED = "crm.orders.billing.invoice_issued"
ORDER_COMPLETED = "crm.orders.order.completed"


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    if (merge := merge_notice(event)) is not None:
        await customer_identity_service.apply_merge(session, merge)
    elif (erasure := erasure_notice(event)) is not None:
        await customer_identity_service.apply_erasure(session, erasure)
        return
    if event.type != ERASED and event.type.startswith("crm.sales.customer."):
        await projection_service.apply_customer_state(session, event.data)


async def apply_product_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type.startswith("crm.orders.installed_product."):
        await projection_service.apply_product_state(session, event.data)


async def apply_ticket_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type.startswith("crm.tickets.ticket."):
        await projection_service.apply_ticket_state(session, event.data)


async def apply_order_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type == ORDER_COMPLETED:
        await campaign_service.apply_completed_order(session, event.data)


async def apply_billing_event(session: AsyncSession, event: CloudEvent) -> None:
    if event.type == INVOICE_ISSUED:
        await projection_service.apply_invoice_issued(session, event.data)
    elif event.type == PAYMENT_RECEIVED:
        await projection_service.apply_payment_received(session, event.data)


def payment_consumer(rules: loyalty_service.LoyaltyRules) -> ConsumerSpec:
    """The loyalty consumer with the programme's rules (the settings of the process)."""

    async def apply_payment_event(session: AsyncSession, event: CloudEvent) -> None:
        if event.type == PAYMENT_RECEIVED:
            await loyalty_service.apply_payment(session, event.data, rules)

    return ConsumerSpec("loyalty", [BILLING_TOPIC], apply_payment_event)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    # The name is the inbox key and the consumer group (<service>.<name>): keep it stable.
    ConsumerSpec("customers", [CUSTOMER_TOPIC], apply_customer_event),
    ConsumerSpec("products", [PRODUCT_TOPIC], apply_product_event),
    ConsumerSpec("conversions", [ORDER_TOPIC], apply_order_event),
    ConsumerSpec("tickets", [TICKET_TOPIC], apply_ticket_event),
    ConsumerSpec("billing", [BILLING_TOPIC], apply_billing_event),
)
