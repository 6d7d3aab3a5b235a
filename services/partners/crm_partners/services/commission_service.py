"""Commissions: lines accrue from orders' events for customers a partner brought, are confirmed by
the customer's payments (crm.orders.billing.v1), earn a share of the first months' payments, and
are clawed back when the product is disconnected within the plan's clawback period. Every line
has a unique source key, and every event arrives through the inbox: accrual happens exactly once
per event. Statements are the lines of a month, their totals computed from those very lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.db import new_id
from crm_shared.domain import Conflict, InvalidField
from crm_shared.errors import field_problem, not_found
from crm_shared.pagination import decode_cursor, encode_cursor

from .. import access
from ..db.inserts import insert_many_if_absent
from ..db.models import CommissionLine, CustomerClaim, Dispute, Partner, PartnerMonth
from ..domain.commissions import (
    EarnedLine,
    LineKind,
    LineStatus,
    activated_units,
    order_lines,
    period_of,
    recurring_amount,
    totals,
    within_clawback,
)
from .customer_identity_service import IDENTITIES, home_of


async def _brought_by(session: AsyncSession, customer_id: str) -> tuple[CustomerClaim, Partner] | None:
    """The claim (locked) and partner of the partner that brought this customer, if any."""
    customer_id = (await home_of(session, customer_id)).customer_id
    # after a merge the survivor may hold two claims: the latest approval's partner earns, as in
    # every service's partner_customers (crm_shared.partner_customers.move_partner_customers)
    claim = await session.scalar(
        select(CustomerClaim)
        .where(CustomerClaim.customer_id == customer_id, CustomerClaim.brought_at.is_not(None))
        .order_by(CustomerClaim.brought_at.desc(), CustomerClaim.customer_key.desc())
        .limit(1)
        .with_for_update()
    )
    if claim is None:
        return None
    partner = await session.get(Partner, claim.partner_id)
    return (claim, partner) if partner is not None else None


def _line_row(
    partner_id: str,
    customer_id: str,
    order_id: str | None,
    line: EarnedLine,
    at: datetime,
    status: LineStatus = LineStatus.ACCRUED,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "partner_id": partner_id,
        "customer_id": customer_id,
        "order_id": order_id,
        "offering_id": line.offering_id,
        "kind": line.kind.value,
        "status": status.value,
        "amount_tiyn": line.amount_tiyn,
        "period": period_of(at),
        "source_key": line.source_key,
        "accrued_at": at,
        "confirmed_at": at if status is LineStatus.CONFIRMED else None,
    }


async def _insert_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Inserts the lines not there yet (by source key); how many were new."""
    return len(await insert_many_if_absent(session, CommissionLine, "source_key", "id", rows))


async def _add_lines(
    session: AsyncSession,
    partner_id: str,
    customer_id: str,
    order_id: str | None,
    earned: list[EarnedLine],
    at: datetime,
    status: LineStatus = LineStatus.ACCRUED,
) -> int:
    return await _insert_lines(session, [_line_row(partner_id, customer_id, order_id, e, at, status) for e in earned])


@dataclass(frozen=True)
class CompletedOrder:
    """A crm.orders.order.completed event's order, and when it completed."""

    order: dict[str, Any]
    at: datetime


async def accrue_completed_order(session: AsyncSession, order: dict[str, Any], at: datetime) -> int:
    """One-off lines for an order completed for a customer a partner brought."""
    return await accrue_completed_orders(session, [CompletedOrder(order, at)])


async def accrue_completed_orders(session: AsyncSession, completed: Sequence[CompletedOrder]) -> int:
    """One-off lines for a batch of completed orders, applied in the order they came as if one by
    one, with a fixed number of statements whatever the batch's size: the customers' homes, their
    claims (locked) and partners, the orders already accrued, the months' activation counters
    (locked) are each read in one go, and the lines inserted many per statement. Returns how many
    lines were new."""
    if not completed:
        return 0
    homes = await IDENTITIES.homes(session, {str(c.order["customer_id"]) for c in completed})
    claims = {
        claim.customer_id: claim
        for claim in await session.scalars(
            select(CustomerClaim)
            .where(CustomerClaim.customer_id.in_(set(homes.values())), CustomerClaim.brought_at.is_not(None))
            .order_by(CustomerClaim.brought_at, CustomerClaim.customer_key)  # the latest approval kept
            .with_for_update()
        )
    }
    if not claims:
        return 0
    partner_ids = {claim.partner_id for claim in claims.values()}
    partners = {p.id: p for p in await session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))}
    brought = [(c, claims.get(homes[str(c.order["customer_id"])])) for c in completed]
    brought = [(c, claim) for c, claim in brought if claim is not None and claim.partner_id in partners]
    tiered = [(c, claim) for c, claim in brought if partners[claim.partner_id].commission_plan.get("tiers")]
    counted = await _counted_orders(session, [c.order for c, _ in tiered])
    months = await _months(session, {(claim.partner_id, period_of(c.at)) for c, claim in tiered})

    rows: list[dict[str, Any]] = []
    for item, claim in brought:
        partner = partners[claim.partner_id]
        if claim.first_activation_at is None or item.at < claim.first_activation_at:
            claim.first_activation_at = item.at
        before = 0
        order_id = str(item.order["id"])
        if partner.commission_plan.get("tiers") and order_id not in counted:
            counted.add(order_id)  # once, however often the batch or a replay names the order
            month = months[(partner.id, period_of(item.at))]
            before = month.activations
            month.activations += activated_units(item.order)
        earned = order_lines(partner.commission_plan, item.order, before)
        rows.extend(_line_row(partner.id, claim.customer_id, order_id, line, item.at) for line in earned)
    return await _insert_lines(session, rows)


async def _counted_orders(session: AsyncSession, orders: list[dict[str, Any]]) -> set[str]:
    """Which of these orders accrued already (their first line is there): the month's activation
    counter counted them then and does not again."""
    first_keys = {}
    for order in orders:
        key = next((line.source_key for line in order_lines({"one_off_tiyn": 1}, order, 0)), None)
        if key is not None:
            first_keys[key] = str(order["id"])
    if not first_keys:
        return {str(order["id"]) for order in orders}
    accrued = set(
        await session.scalars(select(CommissionLine.source_key).where(CommissionLine.source_key.in_(first_keys)))
    )
    without_lines = {str(order["id"]) for order in orders} - set(first_keys.values())
    return without_lines | {first_keys[key] for key in accrued}


async def _months(session: AsyncSession, keys: set[tuple[str, str]]) -> dict[tuple[str, str], PartnerMonth]:
    """The activation counters of these partners' months (created at 0 when new), locked."""
    if not keys:
        return {}
    new = [{"partner_id": partner_id, "period": period, "activations": 0} for partner_id, period in sorted(keys)]
    await insert_many_if_absent(session, PartnerMonth, ("partner_id", "period"), "partner_id", new)
    rows = await session.scalars(
        select(PartnerMonth)
        .where(tuple_(PartnerMonth.partner_id, PartnerMonth.period).in_(sorted(keys)))
        .order_by(PartnerMonth.partner_id, PartnerMonth.period)
        .with_for_update()
    )
    return {(month.partner_id, month.period): month for month in rows}


async def confirm_by_payment(session: AsyncSession, payment: dict[str, Any], at: datetime) -> int:
    """A payment confirms the accrued lines of its order (or of the customer, when the payment
    names no order) and earns the recurring share while within the plan's first months."""
    brought = await _brought_by(session, str(payment["customer_id"]))
    if brought is None:
        return 0
    claim, partner = brought
    scope = (
        CommissionLine.order_id == payment["order_id"]
        if payment.get("order_id")
        else CommissionLine.customer_id == claim.customer_id
    )
    await session.execute(
        update(CommissionLine)
        .where(
            scope,
            CommissionLine.partner_id == partner.id,
            CommissionLine.status == LineStatus.ACCRUED.value,
            CommissionLine.kind == LineKind.ONE_OFF.value,
        )
        .values(status=LineStatus.CONFIRMED.value, confirmed_at=at)
    )
    amount = recurring_amount(partner.commission_plan, int(payment["amount_tiyn"]), claim.first_activation_at, at)
    if not amount:
        return 0
    line = EarnedLine(LineKind.RECURRING, amount, f"payment:{payment['payment_id']}")
    return await _add_lines(
        session, partner.id, claim.customer_id, payment.get("order_id"), [line], at, LineStatus.CONFIRMED
    )


async def claw_back(session: AsyncSession, product: dict[str, Any], at: datetime) -> int:
    """A product disconnected within the clawback period takes back the one-off lines its order
    earned for that offering (a negative line each, once)."""
    brought = await _brought_by(session, str(product["customer_id"]))
    if brought is None or not product.get("order_id"):
        return 0
    claim, partner = brought
    activated = datetime.fromisoformat(product["activated_at"]) if product.get("activated_at") else None
    terminated = datetime.fromisoformat(product["terminated_at"]) if product.get("terminated_at") else at
    if activated is None or not within_clawback(partner.commission_plan, activated, terminated):
        return 0
    lines = list(
        await session.scalars(
            select(CommissionLine).where(
                CommissionLine.order_id == product["order_id"],
                CommissionLine.offering_id == product["offering_id"],
                CommissionLine.kind == LineKind.ONE_OFF.value,
            )
        )
    )
    earned = [
        EarnedLine(LineKind.CLAWBACK, -line.amount_tiyn, f"clawback:{line.id}", line.offering_id) for line in lines
    ]
    return await _add_lines(session, partner.id, claim.customer_id, product["order_id"], earned, terminated)


# --- reading ------------------------------------------------------------------------------------


async def list_lines(
    session: AsyncSession, principal: Principal, partner_id: str, *, limit: int, cursor: str | None
) -> tuple[list[CommissionLine], str | None]:
    access.check_partner_visible(principal, partner_id)
    stmt = select(CommissionLine).where(CommissionLine.partner_id == partner_id)
    values = decode_cursor(cursor)
    if values is not None:
        try:
            accrued_at, last_id = values
            after = datetime.fromisoformat(accrued_at)
        except (TypeError, ValueError):
            raise field_problem("cursor", "malformed cursor; pass next_cursor unchanged", 400) from None
        stmt = stmt.where(tuple_(CommissionLine.accrued_at, CommissionLine.id) < tuple_(after, str(last_id)))
    order = (CommissionLine.accrued_at.desc(), CommissionLine.id.desc())
    rows = list(await session.scalars(stmt.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.accrued_at.isoformat(), last.id])


def check_period(period: str) -> str:
    try:
        year, month = period.split("-")
        if len(year) != 4 or len(month) != 2 or not 1 <= int(month) <= 12:
            raise ValueError(period)
    except ValueError:
        raise field_problem("period", "a month as yyyy-mm, e.g. 2026-12") from None
    return period


async def statement(session: AsyncSession, principal: Principal, partner_id: str, period: str) -> dict[str, Any]:
    """A month's statement: every line of that month and totals computed from exactly those lines."""
    access.check_partner_visible(principal, partner_id)
    check_period(period)
    if await session.get(Partner, partner_id) is None:
        raise not_found("partner", partner_id[:64])
    lines = list(
        await session.scalars(
            select(CommissionLine)
            .where(CommissionLine.partner_id == partner_id, CommissionLine.period == period)
            .order_by(CommissionLine.accrued_at, CommissionLine.id)
        )
    )
    summed = totals((line.kind, line.status, line.amount_tiyn) for line in lines)
    return {"partner_id": partner_id, "period": period, "currency": "KZT", "totals": summed, "lines": lines}


# --- disputes -----------------------------------------------------------------------------------


async def open_dispute(
    session: AsyncSession, principal: Principal, *, period: str, line_id: str | None, text: str, now: datetime
) -> Dispute:
    partner_id = access.require_partner_user(principal)
    check_period(period)
    if not text.strip():
        raise InvalidField("text", "say what is wrong")
    if line_id is not None:
        line = await session.get(CommissionLine, line_id)
        if line is None or line.partner_id != partner_id:
            raise not_found("commission line", line_id[:64], "line_id")
    dispute = Dispute(
        id=new_id(),
        partner_id=partner_id,
        period=period,
        line_id=line_id,
        text=text.strip(),
        status="open",
        opened_by=principal.subject,
        created_at=now,
    )
    session.add(dispute)
    await session.flush()
    return dispute


async def list_disputes(session: AsyncSession, principal: Principal, status: str | None) -> list[Dispute]:
    stmt = select(Dispute).where(access.partner_filter(principal, Dispute.partner_id))
    if status:
        stmt = stmt.where(Dispute.status == status)
    return list(await session.scalars(stmt.order_by(Dispute.created_at.desc(), Dispute.id).limit(500)))


async def resolve_dispute(
    session: AsyncSession, principal: Principal, dispute_id: str, resolution: str, now: datetime
) -> Dispute:
    access.require_manager(principal)
    dispute = await session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise not_found("dispute", dispute_id[:64])
    if dispute.status == "resolved":
        raise Conflict("the dispute is already resolved", field="resolution")
    if not resolution.strip():
        raise InvalidField("resolution", "say how it was resolved")
    dispute.status, dispute.resolution = "resolved", resolution.strip()
    dispute.resolved_by, dispute.resolved_at = principal.subject, now
    return dispute
