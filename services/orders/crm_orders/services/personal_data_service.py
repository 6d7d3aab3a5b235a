"""Everything the orders service holds about one customer, for the subject-access export that
sales assembles (crm.orders.v1.PersonalDataService): orders in every state with their items and
audit history, installed products (terminated ones too), invoices with their payments, the
balance status. The shapes are the REST API's (money in tiyn, times in UTC with Z)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.errors import field_problem
from crm_shared.models import AuditEntry
from crm_shared.timefmt import iso

from ..access import require_personal_data_exporter
from ..db.models import BillingAccount, InstalledProduct, Invoice, Order, Payment
from ..events.publishers import installed_product_state, order_state
from .billing_service import balance_of


def _history(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "changes": entry.changes,
    }


def _invoice(invoice: Invoice, payments: list[Payment]) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "order_id": invoice.order_id,
        "amount_tiyn": invoice.amount_tiyn,
        "paid_tiyn": invoice.paid_tiyn,
        "issued_on": iso(invoice.issued_on),
        "due_on": iso(invoice.due_on),
        "payments": [
            {"payment_id": p.id, "amount_tiyn": p.amount_tiyn, "paid_at": iso(p.paid_at)}
            for p in payments
            if p.invoice_id == invoice.id
        ],
    }


async def export_customer_data(
    session: AsyncSession, principal: Principal, customer_id: str, *, today: date
) -> tuple[dict[str, Any], dict[str, int]]:
    """(the document, how many records of each kind it holds). A customer unknown here is an
    empty document: nothing is held."""
    require_personal_data_exporter(principal, customer_id)
    if not customer_id:
        raise field_problem("customer_id", "required")
    orders = list(
        await session.scalars(
            select(Order).where(Order.customer_id == customer_id).order_by(Order.created_at, Order.id)
        )
    )
    history: dict[str, list[dict[str, Any]]] = {o.id: [] for o in orders}
    if orders:
        entries = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "order", AuditEntry.entity_id.in_(list(history)))
            .order_by(AuditEntry.id)
        )
        for entry in entries:
            history[entry.entity_id].append(_history(entry))
    products = list(
        await session.scalars(
            select(InstalledProduct)
            .where(InstalledProduct.customer_id == customer_id)
            .order_by(InstalledProduct.activated_at, InstalledProduct.id)
        )
    )
    account = await session.get(BillingAccount, customer_id)
    invoices = list(
        await session.scalars(
            select(Invoice).where(Invoice.customer_id == customer_id).order_by(Invoice.issued_on, Invoice.id)
        )
    )
    payments = (
        list(
            await session.scalars(
                select(Payment)
                .where(Payment.invoice_id.in_([i.id for i in invoices]))
                .order_by(Payment.paid_at, Payment.id)
            )
        )
        if invoices
        else []
    )
    balance = balance_of(customer_id, invoices, today)
    document = {
        "orders": [order_state(o) | {"history": history[o.id]} for o in orders],
        "installed_products": [installed_product_state(p) for p in products],
        "billing_account": (
            {
                "branch_code": account.branch_code,
                "region_code": account.region_code,
                "updated_at": iso(account.updated_at),
            }
            if account
            else None
        ),
        "invoices": [_invoice(i, payments) for i in invoices],
        "balance": {
            "status": balance.status.value,
            "invoiced_tiyn": balance.invoiced_tiyn,
            "paid_tiyn": balance.paid_tiyn,
            "outstanding_tiyn": balance.outstanding_tiyn,
            "overdue_tiyn": balance.overdue_tiyn,
        },
    }
    counts = {
        "orders": len(orders),
        "order_items": sum(len(o.items) for o in orders),
        "installed_products": len(products),
        "invoices": len(invoices),
        "payments": len(payments),
    }
    return document, counts
