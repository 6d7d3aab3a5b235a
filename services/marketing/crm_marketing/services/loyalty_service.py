"""Use cases of the loyalty programme: enrol a customer (an agent, or the first payment), accrue
points once per payment event, tiers by 12-month spend, redeem without going below zero under
concurrent redemptions (the account row is locked), expire old points (oldest first).

The balance lives on the account and moves only under the account's row lock, beside a ledger
entry; an accrual's entry is unique per payment id, so a redelivered or re-sent payment adds
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role, can_see, sees_customer
from crm_shared.db import new_id
from crm_shared.domain import InvalidField, RecordNotFound
from crm_shared.timefmt import iso

from .. import access
from ..db.models import CustomerProfile, LoyaltyAccount, LoyaltyCardSerial, LoyaltyEntry
from ..db.upsert import insert_or_skip
from ..domain import loyalty as rules
from . import customer_identity_service


@dataclass(frozen=True)
class LoyaltyRules:
    points_per_tenge: float
    thresholds_tiyn: dict[str, int]
    points_valid_days: int


def account_state(account: LoyaltyAccount) -> dict[str, Any]:
    return {
        "customer_id": account.customer_id,
        "card_number": account.card_number,
        "tier": account.tier,
        "points": account.points,
        "branch_code": account.branch_code,
        "region_code": account.region_code,
        "enrolled_at": iso(account.enrolled_at),
        "updated_at": iso(account.updated_at),
    }


async def _new_account(
    session: AsyncSession, customer_id: str, region_code: str, branch_code: str, by: str, now: datetime
) -> LoyaltyAccount | None:
    """Inserts the account unless it exists (two first payments at once: one wins)."""
    card = LoyaltyCardSerial(customer_id=customer_id)
    session.add(card)
    await session.flush()
    serial = card.serial
    values = {
        "customer_id": customer_id,
        "card_number": rules.card_number(int(serial)),
        "tier": "bronze",
        "points": 0,
        "region_code": region_code,
        "branch_code": branch_code,
        "enrolled_at": now,
        "enrolled_by": by,
        "updated_at": now,
    }
    await session.execute(insert_or_skip(session, LoyaltyAccount).values(**values))
    return await session.get(LoyaltyAccount, customer_id, with_for_update=True, populate_existing=True)


async def enrol(
    session: AsyncSession, principal: Principal, customer_id: str, now: datetime
) -> tuple[LoyaltyAccount, bool]:
    """Enrols a customer the caller may see (from the projection); an enrolled one is returned as is."""
    access.require_loyalty_writer(principal)
    home = await customer_identity_service.home_of(session, customer_id)
    profile = await session.get(CustomerProfile, home.customer_id)
    if profile is None or not can_see(principal, profile.region_code, profile.branch_code):
        raise InvalidField("customer_id", f"customer {customer_id} is not known here (yet) or not yours")
    existing = await session.get(LoyaltyAccount, home.customer_id)
    if existing is not None:
        return existing, False
    account = await _new_account(
        session, home.customer_id, profile.region_code, profile.branch_code, principal.subject, now
    )
    return account, True


async def get_account(session: AsyncSession, principal: Principal, customer_id: str) -> LoyaltyAccount:
    if principal.role is not Role.CUSTOMER:  # a customer (the self-service portal) reads their own
        access.require_staff(principal)
    home = await customer_identity_service.home_of(session, customer_id)
    account = await session.get(LoyaltyAccount, home.customer_id)
    if account is None or not _visible(principal, account):
        raise RecordNotFound("loyalty account of customer", customer_id)
    return account


async def find_by_card(session: AsyncSession, principal: Principal, card_number: str) -> LoyaltyAccount:
    access.require_staff(principal)
    if not rules.valid_card_number(card_number):
        raise InvalidField("card_number", "16 digits with a valid check digit")
    account = await session.scalar(select(LoyaltyAccount).where(LoyaltyAccount.card_number == card_number))
    if account is None or not _visible(principal, account):
        raise RecordNotFound("loyalty card", card_number)
    return account


def _visible(principal: Principal, account: LoyaltyAccount) -> bool:
    return principal.sees_personal_data and sees_customer(
        principal, account.customer_id, account.region_code, account.branch_code
    )


async def redeem(
    session: AsyncSession, principal: Principal, customer_id: str, *, points: int, reward: str, now: datetime
) -> tuple[LoyaltyAccount, LoyaltyEntry]:
    """Takes ``points`` for ``reward``: 409 when the balance lacks them. The account row is locked
    first, so concurrent redemptions queue and each sees the balance the previous one left."""
    access.require_loyalty_writer(principal)
    if not reward.strip():
        raise InvalidField("reward", "must not be blank")
    home = await customer_identity_service.home_of(session, customer_id)
    account = await session.get(LoyaltyAccount, home.customer_id, with_for_update=True)
    if account is None or not _visible(principal, account):
        raise RecordNotFound("loyalty account of customer", customer_id)
    rules.check_redemption(account.points, points)
    account.points -= points
    account.updated_at = now
    entry = LoyaltyEntry(
        customer_id=account.customer_id,
        kind="redemption",
        points=-points,
        reward=reward.strip()[:200],
        occurred_at=now,
        created_by=principal.subject,
    )
    session.add(entry)
    await session.flush()
    return account, entry


async def apply_payment(session: AsyncSession, payment: dict[str, Any], policy: LoyaltyRules) -> int:
    """crm.orders.payment.received: enrols the customer on the first payment, accrues once per
    payment id, recomputes the tier from the last 12 months' payments. Returns the points added."""
    home = await customer_identity_service.home_of(session, payment["customer_id"])
    paid_at = datetime.fromisoformat(payment["paid_at"])
    account = await session.get(LoyaltyAccount, home.customer_id, with_for_update=True)
    if account is None:
        account = await _new_account(
            session, home.customer_id, payment["region_code"], payment["branch_code"], "billing", paid_at
        )
    points = rules.points_for(int(payment["amount_tiyn"]), policy.points_per_tenge)
    inserted = await session.execute(
        insert_or_skip(session, LoyaltyEntry)
        .values(
            id=new_id(),
            customer_id=account.customer_id,
            kind="accrual",
            points=points,
            amount_tiyn=int(payment["amount_tiyn"]),
            source_id=payment["payment_id"],
            occurred_at=paid_at,
            created_by="billing",
        )
        .returning(LoyaltyEntry.id)
    )
    if inserted.scalar() is None:
        return 0  # this payment was counted before
    account.points += points
    spend = await session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.amount_tiyn), 0)).where(
            LoyaltyEntry.customer_id == account.customer_id,
            LoyaltyEntry.kind == "accrual",
            LoyaltyEntry.occurred_at > paid_at - timedelta(days=365),
        )
    )
    account.tier = rules.tier_for(int(spend or 0), policy.thresholds_tiyn)
    account.updated_at = max(account.updated_at, paid_at)
    return points


async def expire_points(session: AsyncSession, now: datetime, valid_days: int) -> int:
    """Points earned before the validity cut-off and not yet spent or expired, oldest first:
    accrued before the cut-off minus everything taken so far (redemptions and expiries)."""
    cutoff = now - timedelta(days=valid_days)
    old_accruals = (
        select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points).label("old"))
        .where(LoyaltyEntry.kind == "accrual", LoyaltyEntry.occurred_at <= cutoff)
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    taken = (
        select(LoyaltyEntry.customer_id, func.sum(-LoyaltyEntry.points).label("taken"))
        .where(LoyaltyEntry.kind.in_(("redemption", "expiry")))
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    due = (
        await session.execute(
            select(old_accruals.c.customer_id, old_accruals.c.old - func.coalesce(taken.c.taken, 0))
            .outerjoin(taken, taken.c.customer_id == old_accruals.c.customer_id)
            .where(old_accruals.c.old - func.coalesce(taken.c.taken, 0) > 0)
        )
    ).all()
    expired = 0
    for customer_id, _ in due:
        account = await session.get(LoyaltyAccount, customer_id, with_for_update=True)
        if account is None:
            continue
        # re-read under the lock: a redemption may have committed since
        old = await session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.customer_id == customer_id,
                LoyaltyEntry.kind == "accrual",
                LoyaltyEntry.occurred_at <= cutoff,
            )
        )
        gone = await session.scalar(
            select(func.coalesce(func.sum(-LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.kind.in_(("redemption", "expiry"))
            )
        )
        amount = min(int(old) - int(gone), account.points)
        if amount <= 0:
            continue
        account.points -= amount
        account.updated_at = now
        session.add(
            LoyaltyEntry(customer_id=customer_id, kind="expiry", points=-amount, occurred_at=now, created_by="expiry")
        )
        expired += amount
    return expired
