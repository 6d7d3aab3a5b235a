"""Billing integration (/api/v1/orders/billing): the billing system reports invoices and
payments (API key with orders:billing); staff see each customer's balance status.

Reports are keyed by billing's own invoice and payment ids, so a re-sent report changes nothing
(200 with the invoice as it is, instead of 201)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from crm_shared.api import CurrentPrincipal, ReadSession, SalesCustomersClient, Session
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.timefmt import iso

from ..db.models import Invoice
from ..services import billing_service
from .schemas import BalanceOut, InvoiceIn, PaymentIn

router = APIRouter(prefix="/api/v1/orders/billing", tags=["billing"])


def _invoice_view(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "customer_id": invoice.customer_id,
        "order_id": invoice.order_id,
        "amount_tiyn": invoice.amount_tiyn,
        "paid_tiyn": invoice.paid_tiyn,
        "issued_on": iso(invoice.issued_on),
        "due_on": iso(invoice.due_on),
    }


@router.post("/invoices", status_code=201, responses=OPENAPI_PROBLEMS)
async def report_invoice(body: InvoiceIn, principal: CurrentPrincipal, session: Session, response: Response):
    invoice, created = await billing_service.report_invoice(session, principal, body.report())
    if not created:
        response.status_code = 200
    return _invoice_view(invoice)


@router.post("/payments", status_code=201, responses=OPENAPI_PROBLEMS)
async def report_payment(body: PaymentIn, principal: CurrentPrincipal, session: Session, response: Response):
    invoice, created = await billing_service.report_payment(session, principal, body.report())
    if not created:
        response.status_code = 200
    return _invoice_view(invoice)


@router.get("/customers/{customer_id}/balance", response_model=BalanceOut, responses=OPENAPI_PROBLEMS)
async def customer_balance(
    customer_id: str, principal: CurrentPrincipal, session: ReadSession, customers: SalesCustomersClient
):
    """paid, due, overdue (an unpaid invoice past its due date) or no_invoices; 404 for a customer
    the caller may not see."""
    balance = await billing_service.customer_balance(session, principal, customer_id, customers)
    return {
        "customer_id": balance.customer_id,
        "status": balance.status,
        "invoiced_tiyn": balance.invoiced_tiyn,
        "paid_tiyn": balance.paid_tiyn,
        "outstanding_tiyn": balance.outstanding_tiyn,
        "overdue_tiyn": balance.overdue_tiyn,
        "invoices": [_invoice_view(i) for i in balance.invoices],
    }
