"""Billing integration: the billing system reports invoices and payments (an API key with
orders:billing); staff see each customer's balance status.

Reports are keyed by billing's own invoice and payment ids, so a re-sent report changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, sees_customer
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import utcnow
from crm_shared.errors import conflict, field_problem, not_found

from ..access import BILLING, require_reader, require_system_scope
from ..db.models import BillingAccount, Invoice, Order, Payment
from ..domain.balance import BalanceStatus, InvoiceFigures, balance_status
from ..domain.catalog import CURRENCY
from ..events.publishers import publish_invoice_issued, publish_payment_received
from .customer_identity_service import home_of


@dataclass(frozen=True)
class InvoiceReport:
    invoice_id: str
    customer_id: str
    order_id: str | None
    amount_tiyn: int
    currency: str
    issued_on: date
    due_on: date


@dataclass(frozen=True)
class PaymentReport:
    payment_id: str
    invoice_id: str
    amount_tiyn: int
    paid_at: datetime


@dataclass(frozen=True)
class Balance:
    customer_id: str
    status: BalanceStatus
    invoiced_tiyn: int
    paid_tiyn: int
    outstanding_tiyn: int
    overdue_tiyn: int
    invoices: list[Invoice]


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


async def report_invoice(session: AsyncSession, principal: Principal, report: InvoiceReport) -> tuple[Invoice, bool]:
    """(the invoice, whether this report created it); the same report again changes nothing."""
    require_system_scope(principal, BILLING, "an invoice")
    if report.currency != CURRENCY:
        raise field_problem("currency", "invoices are in KZT")
    if report.due_on < report.issued_on:
        raise field_problem("due_on", "is before issued_on")
    # Billing may still know a customer that sales merged away: the invoice is the survivor's
    # (and an erased customer's invoices are kept: they hold no name).
    customer_id = (await home_of(session, report.customer_id)).customer_id
    existing = await session.get(Invoice, report.invoice_id)
    if existing is not None:
        if existing.customer_id != customer_id or existing.amount_tiyn != report.amount_tiyn:
            raise conflict(f"invoice {report.invoice_id} was reported before with other figures")
        return existing, False
    if report.order_id:
        order = await session.get(Order, report.order_id)
        if order is None or order.customer_id != customer_id:
            raise field_problem("order_id", "is not an order of this customer", 404)
    account = await _account(session, customer_id)
    account.updated_at = utcnow()
    invoice = Invoice(
        id=report.invoice_id,
        customer_id=customer_id,
        order_id=report.order_id,
        amount_tiyn=report.amount_tiyn,
        paid_tiyn=0,
        issued_on=report.issued_on,
        due_on=report.due_on,
        created_at=utcnow(),
    )
    session.add(invoice)
    await session.flush()
    await publish_invoice_issued(session, invoice, account)
    return invoice, True


async def report_payment(session: AsyncSession, principal: Principal, report: PaymentReport) -> tuple[Invoice, bool]:
    """(the invoice paid, whether this report was new); a payment is counted once."""
    require_system_scope(principal, BILLING, "a payment")
    invoice = await session.get(Invoice, report.invoice_id, with_for_update=True)
    if invoice is None:
        raise field_problem("invoice_id", "unknown invoice", 404)
    existing = await session.get(Payment, report.payment_id)
    if existing is not None:
        if existing.invoice_id != report.invoice_id or existing.amount_tiyn != report.amount_tiyn:
            raise conflict(f"payment {report.payment_id} was reported before with other figures")
        return invoice, False
    payment = Payment(
        id=report.payment_id, invoice_id=invoice.id, amount_tiyn=report.amount_tiyn, paid_at=report.paid_at
    )
    session.add(payment)
    invoice.paid_tiyn += report.amount_tiyn
    await session.flush()
    account = await session.get(BillingAccount, invoice.customer_id)
    await publish_payment_received(session, payment, invoice, account)
    return invoice, True


async def customer_balance(
    session: AsyncSession, principal: Principal, customer_id: str, customers: SalesCustomers
) -> Balance:
    """paid, due, overdue (an unpaid invoice past its due date) or no_invoices. A customer with no
    billing account yet is asked of sales, so that an id the caller may not see (or any string) is
    a 404 here too, not an empty balance."""
    require_reader(principal)
    account = await session.get(BillingAccount, customer_id)
    if account is not None and not sees_customer(principal, customer_id, account.region_code, account.branch_code):
        raise not_found("customer", customer_id[:64])
    if account is None:
        await customers.get(principal, customer_id, field=None)
    invoices = (
        list(
            await session.scalars(
                select(Invoice).where(Invoice.customer_id == customer_id).order_by(Invoice.issued_on, Invoice.id)
            )
        )
        if account
        else []
    )
    return balance_of(customer_id, invoices, utcnow().date())


def balance_of(customer_id: str, invoices: list[Invoice], today: date) -> Balance:
    """The balance status and figures of a customer's invoices, as of ``today``."""
    figures = [InvoiceFigures(i.amount_tiyn, i.paid_tiyn, i.due_on) for i in invoices]
    invoiced = sum(i.amount_tiyn for i in invoices)
    paid = sum(min(i.paid_tiyn, i.amount_tiyn) for i in invoices)
    overdue = sum(i.amount_tiyn - i.paid_tiyn for i in invoices if i.paid_tiyn < i.amount_tiyn and i.due_on < today)
    return Balance(
        customer_id=customer_id,
        status=balance_status(figures, today),
        invoiced_tiyn=invoiced,
        paid_tiyn=paid,
        outstanding_tiyn=invoiced - paid,
        overdue_tiyn=overdue,
        invoices=invoices,
    )
