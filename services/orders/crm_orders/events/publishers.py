"""The events of the orders service: each payload is the record's full state after the change
(the same body the REST API answers with), written to the outbox in the caller's transaction.

crm.orders.order.v1: created, state_changed, completed.
crm.orders.installed_product.v1: created, changed, terminated.
crm.orders.billing.v1: invoice_issued, payment_received (what billing reported, once per new report).
crm.orders.erasure.v1: confirmed (ids and counts only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter
from crm_shared.timefmt import iso

from ..db.models import BillingAccount, InstalledProduct, Invoice, Order, OrderItem, Payment
from ..domain.catalog import CURRENCY
from ..domain.lifecycle import requestable_from

EVENTS = EventWriter("orders")


def item_state(item: OrderItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "position": item.position,
        "action": item.action,
        "state": item.state,
        "state_reason": item.state_reason,
        "offering_id": item.offering_id,
        "offering_version": item.offering_version,
        "offering_name": item.offering_name,
        "product_line": item.product_line,
        "quantity": item.quantity,
        "one_off_price_tiyn": item.one_off_price_tiyn,
        "recurring_price_tiyn": item.recurring_price_tiyn,
        "characteristics": dict(item.characteristics or {}),
        "service_address": item.service_address,
        "installed_product_id": item.installed_product_id,
        "result_product_ids": list(item.result_product_ids or []),
        "replaced_offering_id": item.replaced_offering_id,
        "replaced_offering_version": item.replaced_offering_version,
        "replaced_offering_name": item.replaced_offering_name,
    }


def order_state(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "customer_name": order.customer_name,
        "state": order.state,
        "state_reason": order.state_reason,
        "source": order.source,
        "opportunity_id": order.opportunity_id,
        "currency": order.currency,
        "one_off_total_tiyn": order.one_off_total_tiyn,
        "recurring_total_tiyn": order.recurring_total_tiyn,
        "items": [item_state(i) for i in order.items],
        "allowed_transitions": list(requestable_from(order.state)),
        "owner_id": order.owner_id,
        "owner_name": order.owner_name,
        "branch_code": order.branch_code,
        "region_code": order.region_code,
        "version": order.version,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "completed_at": iso(order.completed_at),
    }


def installed_product_state(product: InstalledProduct) -> dict[str, Any]:
    return {
        "id": product.id,
        "customer_id": product.customer_id,
        "offering_id": product.offering_id,
        "offering_name": product.offering_name,
        "product_line": product.product_line,
        "status": product.status,
        "characteristics": dict(product.characteristics or {}),
        "recurring_price_tiyn": product.recurring_price_tiyn,
        "service_address": product.service_address,
        "branch_code": product.branch_code,
        "region_code": product.region_code,
        "order_id": product.order_id,
        "version": product.version,
        "activated_at": iso(product.activated_at),
        "terminated_at": iso(product.terminated_at),
        "updated_at": iso(product.updated_at),
    }


async def publish_order(session: AsyncSession, action: str, order: Order) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="order",
        action=action,
        subject=order.id,
        data=order_state(order),
        region=order.region_code,
        branch=order.branch_code,
    )


async def publish_installed_product(session: AsyncSession, action: str, product: InstalledProduct) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="installed_product",
        action=action,
        subject=product.id,
        data=installed_product_state(product),
        region=product.region_code,
        branch=product.branch_code,
    )


def invoice_issued_state(invoice: Invoice, account: BillingAccount) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "customer_id": invoice.customer_id,
        "order_id": invoice.order_id,
        "amount_tiyn": invoice.amount_tiyn,
        "currency": CURRENCY,
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "branch_code": account.branch_code,
        "region_code": account.region_code,
    }


def payment_received_state(payment: Payment, invoice: Invoice, account: BillingAccount) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "invoice_id": invoice.id,
        "customer_id": invoice.customer_id,
        "order_id": invoice.order_id,
        "amount_tiyn": payment.amount_tiyn,
        "currency": CURRENCY,
        "paid_at": iso(payment.paid_at),
        "branch_code": account.branch_code,
        "region_code": account.region_code,
    }


async def publish_invoice_issued(session: AsyncSession, invoice: Invoice, account: BillingAccount) -> None:
    await EVENTS.add(
        session,
        aggregate="billing",
        action="invoice_issued",
        subject=invoice.customer_id,
        data=invoice_issued_state(invoice, account),
        region=account.region_code,
        branch=account.branch_code,
    )


async def publish_payment_received(
    session: AsyncSession, payment: Payment, invoice: Invoice, account: BillingAccount
) -> None:
    await EVENTS.add(
        session,
        aggregate="billing",
        action="payment_received",
        subject=invoice.customer_id,
        data=payment_received_state(payment, invoice, account),
        region=account.region_code,
        branch=account.branch_code,
    )


async def publish_erasure_confirmed(session: AsyncSession, notice: ErasureNotice, records: dict[str, int]) -> None:
    """crm.orders.erasure.confirmed: orders anonymised its copies of an erased customer (sales
    collects it into the erasure request)."""
    await EVENTS.add(
        session,
        aggregate="erasure",
        action="confirmed",
        subject=notice.erasure_id,
        data=erasure_confirmation("orders", notice, records),
    )
