"""The projections marketing keeps of other services' records, from their events only: customers
(crm.sales.customer.v1, consent included), installed products (crm.orders.installed_product.v1),
trouble tickets (crm.tickets.ticket.v1, open or not) and invoices with what was paid against them
(crm.orders.billing.v1; each event applied once through the consumer's inbox).
A customer who withdraws marketing consent leaves every segment at once (membership is computed
from this row) and every campaign's still-pending deliveries are suppressed in the same
transaction; a send already claimed re-checks the row under its lock (campaign_service)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import CustomerInvoice, CustomerProduct, CustomerProfile, CustomerTicket, Delivery
from ..domain.campaigns import PENDING, SUPPRESSED
from . import customer_identity_service


async def apply_customer_state(session: AsyncSession, data: dict[str, Any]) -> None:
    """The customer's state after a change (created, updated, merged, phone_added, ...)."""
    home = await customer_identity_service.home_of(session, data["id"])
    profile = await session.get(CustomerProfile, data["id"], with_for_update=True)
    if profile is not None and profile.source_version >= data["version"]:
        return  # a redelivered or late, older state
    if profile is None:
        profile = CustomerProfile(id=data["id"])
        session.add(profile)
    profile.kind = data["kind"]
    profile.display_name = data["display_name"]
    profile.language = data["language"]
    profile.region_code = data["region_code"]
    profile.branch_code = data["branch_code"]
    profile.owner_id = data.get("owner_id")
    profile.status = "merged" if home.moved else data["status"]
    profile.marketing_consent = bool(data["marketing_consent"]) and not home.erased
    profile.phone = None if home.erased else data.get("primary_phone")
    profile.email = None if home.erased else data.get("email")
    profile.registered_at = datetime.fromisoformat(data["created_at"])
    profile.source_version = data["version"]
    if not profile.marketing_consent or profile.status != "active":
        await suppress_pending(session, profile.id, "no marketing consent")


async def suppress_pending(session: AsyncSession, customer_id: str, reason: str) -> None:
    """Rows a sender is claiming right now are skipped, not waited for (the sender locks rows, then
    the customer; waiting here, with the customer locked, would deadlock): that sender reads the
    customer after this transaction commits and suppresses them itself."""
    free = (
        select(Delivery.id)
        .where(Delivery.customer_id == customer_id, Delivery.state == PENDING)
        .with_for_update(skip_locked=True)
    )
    await session.execute(update(Delivery).where(Delivery.id.in_(free)).values(state=SUPPRESSED, reason=reason))


async def apply_product_state(session: AsyncSession, data: dict[str, Any]) -> None:
    product = await session.get(CustomerProduct, data["id"], with_for_update=True)
    if product is not None and product.source_version >= data["version"]:
        return
    home = await customer_identity_service.home_of(session, data["customer_id"])
    if product is None:
        product = CustomerProduct(id=data["id"])
        session.add(product)
    product.customer_id = home.customer_id
    product.offering_id = data["offering_id"]
    product.product_line = data["product_line"]
    product.status = data["status"]
    product.source_version = data["version"]


OPEN_TICKET_STATUSES = frozenset({"new", "acknowledged", "in_progress", "pending"})


async def apply_ticket_state(session: AsyncSession, data: dict[str, Any]) -> None:
    ticket = await session.get(CustomerTicket, data["id"], with_for_update=True)
    if ticket is not None and ticket.source_version >= data["version"]:
        return
    home = await customer_identity_service.home_of(session, data["customer_id"])
    if ticket is None:
        ticket = CustomerTicket(id=data["id"])
        session.add(ticket)
    ticket.customer_id = home.customer_id
    ticket.open = data["status"] in OPEN_TICKET_STATUSES
    ticket.source_version = data["version"]


async def _invoice(session: AsyncSession, invoice_id: str, customer_id: str) -> CustomerInvoice:
    invoice = await session.get(CustomerInvoice, invoice_id, with_for_update=True)
    if invoice is None:  # a payment may name an invoice not seen yet; the invoice fills in the rest
        invoice = CustomerInvoice(id=invoice_id, customer_id=customer_id, amount_tiyn=0, paid_tiyn=0)
        session.add(invoice)
    return invoice


async def apply_invoice_issued(session: AsyncSession, data: dict[str, Any]) -> None:
    home = await customer_identity_service.home_of(session, data["customer_id"])
    invoice = await _invoice(session, data["invoice_id"], home.customer_id)
    invoice.customer_id = home.customer_id
    invoice.amount_tiyn = int(data["amount_tiyn"])
    invoice.due_on = date.fromisoformat(data["due_on"])


async def apply_payment_received(session: AsyncSession, data: dict[str, Any]) -> None:
    home = await customer_identity_service.home_of(session, data["customer_id"])
    invoice = await _invoice(session, data["invoice_id"], home.customer_id)
    invoice.paid_tiyn += int(data["amount_tiyn"])
