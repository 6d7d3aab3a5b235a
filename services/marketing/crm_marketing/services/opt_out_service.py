"""Opt-outs: a customer's own "no more marketing", by an SMS reply ("STOP") or by the signed link
in every campaign e-mail. Marketing records it at once (the delivery shows ``opted_out_at``, the
customer's pending deliveries are suppressed, later campaigns count them suppressed "opted out"),
and forwards it to sales, which owns consent (crm.sales.v1.CustomerService.WithdrawMarketingConsent);
sales' consent event then takes the customer out of every segment. Forwarding retries until sales
has answered, so an opt-out taken while sales is down is not lost.

The link's token is the authorisation: the delivery id with an HMAC-SHA256 of it under the
service's secret (no login; unguessable; it names one delivery and nothing else)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import Database
from crm_shared.errors import Problem

from ..db.models import Campaign, CustomerProfile, Delivery, OptOut
from ..domain.campaigns import DELIVERED, SENT
from ..events import publishers
from .projection_service import suppress_pending

log = logging.getLogger("crm.marketing.opt-outs")
OPTED_OUT = "opted out"
SMS_STOP, EMAIL_LINK = "sms_stop", "email_link"
# Replies that mean "stop" in the languages of the country (compared without case and spaces).
STOP_WORDS = frozenset({"STOP", "СТОП", "ТОҚТАТ", "ТОКТАТ", "OTPISKA", "ОТПИСКА", "UNSUBSCRIBE"})
# marketing's identity towards sales when it reports opt-outs (sales checks the scope)
OPT_OUT_REPORTER = Principal("marketing:opt-outs", "marketing opt-outs", Role.SYSTEM, scopes=("sales:consent",))
TOKEN_PURPOSE = b"crm.marketing.opt-out:"
FORWARD_BATCH = 50


def opt_out_token(secret: str, delivery_id: str) -> str:
    return f"{delivery_id}.{_mac(secret, delivery_id)}"


def delivery_of_token(secret: str, token: str) -> str | None:
    """The delivery a token names, or None when it was not made with this secret."""
    delivery_id, _, mac = token.partition(".")
    if not delivery_id or not mac or len(token) > 200:
        return None
    return delivery_id if hmac.compare_digest(mac, _mac(secret, delivery_id)) else None


def _mac(secret: str, delivery_id: str) -> str:
    digest = hmac.new(secret.encode(), TOKEN_PURPOSE + delivery_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def is_stop(text: str) -> bool:
    return "".join(text.split()).upper().strip(".!") in STOP_WORDS


async def _record(
    session: AsyncSession, customer_id: str, channel: str, delivery: Delivery | None, now: datetime
) -> None:
    if delivery is not None and delivery.opted_out_at is None:
        delivery.opted_out_at = now
        campaign = await session.get(Campaign, delivery.campaign_id)
        if campaign is not None:
            await publishers.campaign_opt_out(session, campaign, delivery)
    session.add(
        OptOut(
            customer_id=customer_id, channel=channel, delivery_id=delivery.id if delivery else None, requested_at=now
        )
    )
    await suppress_pending(session, customer_id, OPTED_OUT)


async def opt_out_by_link(session: AsyncSession, secret: str, token: str, now: datetime) -> Delivery | None:
    """The link of a campaign e-mail: the delivery it names (None for a token not ours). A second
    click changes nothing."""
    delivery_id = delivery_of_token(secret, token)
    delivery = await session.get(Delivery, delivery_id, with_for_update=True) if delivery_id else None
    if delivery is None:
        return None
    if delivery.opted_out_at is None:
        await _record(session, delivery.customer_id, EMAIL_LINK, delivery, now)
    return delivery


async def opt_out_by_reply(session: AsyncSession, sender: str, text: str, now: datetime) -> int:
    """An SMS from a customer's phone: "STOP" opts out every customer with that phone (the latest
    SMS delivery to it records the opt-out). Other texts are not opt-outs. Returns how many."""
    if not is_stop(text):
        return 0
    customers = list(
        await session.scalars(
            select(CustomerProfile.id).where(CustomerProfile.phone == sender).order_by(CustomerProfile.id)
        )
    )
    for customer_id in customers:
        latest = await session.scalar(
            select(Delivery)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.customer_id == customer_id,
                Campaign.channel == "sms",
                Delivery.state.in_((SENT, DELIVERED)),
            )
            .order_by(Delivery.sent_at.desc())
            .limit(1)
            .with_for_update(of=Delivery)
        )
        await _record(session, customer_id, SMS_STOP, latest, now)
    return len(customers)


def opted_out_clause(customer_id_column):
    """A customer who opted out and has not given consent again since sales recorded it."""
    return exists().where(
        OptOut.customer_id == customer_id_column,
        or_(
            OptOut.forwarded_at.is_(None),
            exists().where(
                and_(CustomerProfile.id == customer_id_column, CustomerProfile.marketing_consent.is_(False))
            ),
        ),
    )


async def forward_pending(db: Database, sales: SalesCustomers, now: datetime) -> int:
    """Opt-outs not yet recorded by sales, reported to it (oldest first); one still failing is
    tried again at the next round. Returns how many sales has recorded."""
    async with db.unit_of_work() as session:
        pending = list(
            await session.scalars(
                select(OptOut)
                .where(OptOut.forwarded_at.is_(None))
                .order_by(OptOut.requested_at, OptOut.id)
                .limit(FORWARD_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        forwarded = 0
        for opt_out in pending:
            opt_out.attempts += 1
            try:
                await sales.withdraw_marketing_consent(OPT_OUT_REPORTER, opt_out.customer_id, opt_out.channel)
            except Problem as problem:
                opt_out.last_error = f"{problem.status} {problem.detail}"[:200]
                if problem.status == 404:  # erased or unknown in sales: nothing left to withdraw
                    opt_out.forwarded_at = now
                elif problem.status >= 500:
                    break  # sales is away: the rest waits for the next round
                continue
            opt_out.forwarded_at, opt_out.last_error = now, None
            forwarded += 1
        return forwarded
