"""Billing integration (/api/v1/orders/billing): the billing system reports invoices and
payments (API key with orders:billing); staff see each customer's balance status.

Reports are keyed by billing's own invoice and payment ids, so a re-sent report changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import can_see
from crm_shared.db import utcnow
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, not_found

from ..db.models import BillingAccount, Invoice, Order, Payment
from ..domain.balance import InvoiceFigures, balance_status
from ..order_service import iso
from .access import BILLING, require_reader, require_system_scope
from .deps import CurrentPrincipal, Session
from .orders import Strict

router = APIRouter(prefix="/api/v1/orders/billing", tags=["billing"])
Id = Annotated[str, Field(min_length=1, max_length=64)]
Tiyn = Annotated[StrictInt, Field(gt=0, le=10**13, description="KZT in tiyn, an integer")]


class InvoiceIn(Strict):
    invoice_id: Id
    customer_id: Id
    order_id: Id | None = None
    amount_tiyn: Tiyn
    currency: Annotated[str, Field(max_length=8)] = "KZT"
    issued_on: date
    due_on: date


class PaymentIn(Strict):
    payment_id: Id
    invoice_id: Id
    amount_tiyn: Tiyn
    paid_at: datetime


class BalanceOut(BaseModel):
    customer_id: str
    status: str
    invoiced_tiyn: int
    paid_tiyn: int
    outstanding_tiyn: int
    overdue_tiyn: int
    invoices: list[dict[str, Any]]


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


async def _account(session: AsyncSession, customer_id: str) -> BillingAccount:
    account = await session.get(BillingAccount, customer_id, with_for_update=True)
    if account is not None:
        return account
    order = await session.scalar(
        select(Order).where(Order.customer_id == customer_id).order_by(Order.created_at.desc()).limit(1)
    )
    if order is None:
        raise field_problem("customer_id", "no order of this customer is known here", 404)
    account = BillingAccount(
        customer_id=customer_id, branch_code=order.branch_code, region_code=order.region_code, updated_at=utcnow()
    )
    session.add(account)
    return account


@router.post("/invoices", status_code=201, responses=OPENAPI_PROBLEMS)
async def report_invoice(body: InvoiceIn, principal: CurrentPrincipal, session: Session, response: Response):
    require_system_scope(principal, BILLING, "an invoice")
    if body.currency != "KZT":
        raise field_problem("currency", "invoices are in KZT")
    if body.due_on < body.issued_on:
        raise field_problem("due_on", "is before issued_on")
    existing = await session.get(Invoice, body.invoice_id)
    if existing is not None:
        if existing.customer_id != body.customer_id or existing.amount_tiyn != body.amount_tiyn:
            raise conflict(f"invoice {body.invoice_id} was reported before with other figures")
        response.status_code = 200
        return _invoice_view(existing)
    if body.order_id:
        order = await session.get(Order, body.order_id)
        if order is None or order.customer_id != body.customer_id:
            raise field_problem("order_id", "is not an order of this customer", 404)
    account = await _account(session, body.customer_id)
    account.updated_at = utcnow()
    invoice = Invoice(
        id=body.invoice_id,
        customer_id=body.customer_id,
        order_id=body.order_id,
        amount_tiyn=body.amount_tiyn,
        paid_tiyn=0,
        issued_on=body.issued_on,
        due_on=body.due_on,
        created_at=utcnow(),
    )
    session.add(invoice)
    await session.flush()
    return _invoice_view(invoice)


@router.post("/payments", status_code=201, responses=OPENAPI_PROBLEMS)
async def report_payment(body: PaymentIn, principal: CurrentPrincipal, session: Session, response: Response):
    require_system_scope(principal, BILLING, "a payment")
    invoice = await session.get(Invoice, body.invoice_id, with_for_update=True)
    if invoice is None:
        raise field_problem("invoice_id", "unknown invoice", 404)
    existing = await session.get(Payment, body.payment_id)
    if existing is None:
        session.add(
            Payment(id=body.payment_id, invoice_id=invoice.id, amount_tiyn=body.amount_tiyn, paid_at=body.paid_at)
        )
        invoice.paid_tiyn += body.amount_tiyn
        await session.flush()
    else:
        if existing.invoice_id != body.invoice_id or existing.amount_tiyn != body.amount_tiyn:
            raise conflict(f"payment {body.payment_id} was reported before with other figures")
        response.status_code = 200
    return _invoice_view(invoice)


@router.get("/customers/{customer_id}/balance", response_model=BalanceOut, responses=OPENAPI_PROBLEMS)
async def customer_balance(customer_id: str, principal: CurrentPrincipal, session: Session):
    """paid, due, overdue (an unpaid invoice past its due date) or no_invoices."""
    require_reader(principal)
    account = await session.get(BillingAccount, customer_id)
    if account is not None and not can_see(principal, account.region_code, account.branch_code):
        raise not_found("customer", customer_id[:64])
    invoices = (
        list(
            await session.scalars(
                select(Invoice).where(Invoice.customer_id == customer_id).order_by(Invoice.issued_on, Invoice.id)
            )
        )
        if account
        else []
    )
    today = utcnow().date()
    figures = [InvoiceFigures(i.amount_tiyn, i.paid_tiyn, i.due_on) for i in invoices]
    invoiced = sum(i.amount_tiyn for i in invoices)
    paid = sum(min(i.paid_tiyn, i.amount_tiyn) for i in invoices)
    overdue = sum(i.amount_tiyn - i.paid_tiyn for i in invoices if i.paid_tiyn < i.amount_tiyn and i.due_on < today)
    return {
        "customer_id": customer_id,
        "status": balance_status(figures, today),
        "invoiced_tiyn": invoiced,
        "paid_tiyn": paid,
        "outstanding_tiyn": invoiced - paid,
        "overdue_tiyn": overdue,
        "invoices": [_invoice_view(i) for i in invoices],
    }
