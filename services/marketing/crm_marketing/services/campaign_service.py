"""Use cases of campaigns: create a draft, launch it (one delivery row per member, once), send
(claim, send, record), delivery receipts, responses and conversions, the figures.

Once-only delivery: launching inserts one row per (campaign, customer) under a unique key, so a
retried launch adds nobody twice. The sender claims rows in a transaction of their own (state
``sending``, a message reference kept for good, the claim time; consent and address re-checked
under the customer's row lock), commits, sends the messages and records their outcomes right behind
them in group commits (so only what was sent since the last commit began is in doubt when the
process dies). A row still ``sending`` after
its claim lease belonged to a process that died mid-send: it may or may not have reached the relay,
so it is claimed again and sent again **with the same reference** (the e-mail's Message-ID, the
SMS's user_message_reference and text), which the relay recognises as a retransmission: at least
once from here, once at a receiver that honours the reference (the dev sinks do; see README). A
withdrawal of consent or an opt-out suppresses every row not yet claimed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.db import Database, new_id
from crm_shared.domain import RecordNotFound
from crm_shared.errors import field_problem
from crm_shared.outbound import DeliveryFailed, DeliveryReceipt, OutboundMessage
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.reference import REGIONS
from crm_shared.timefmt import iso

from .. import access
from ..db.models import Campaign, CustomerProfile, Delivery
from ..db.upsert import insert_or_skip
from ..domain import campaigns as rules
from ..events import publishers
from . import customer_identity_service, opt_out_service, segment_service

log = logging.getLogger("crm.marketing.sender")
WHAT = "campaign"
CHUNK = 1000  # members inserted per statement at launch
STATS = ("targeted", "sent", "delivered", "failed", "suppressed", "responded", "converted", "opted_out")


async def create_campaign(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    segment_id: str,
    channel: str,
    message: dict[str, str],
    offer: dict[str, Any] | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
    now: datetime,
) -> Campaign:
    access.require_marketer(principal, "create campaigns")
    await segment_service.get_segment(session, principal, segment_id, field="segment_id")
    rules.check_window(starts_at, ends_at)
    campaign = Campaign(
        name=" ".join(name.split()) or "campaign",
        segment_id=segment_id,
        channel=channel,
        message=rules.clean_message(message, channel),
        offer=offer or None,
        starts_at=starts_at,
        ends_at=ends_at,
        status="draft",
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(
    session: AsyncSession, principal: Principal, campaign_id: str, *, lock: bool = False
) -> Campaign:
    access.require_staff(principal)
    campaign = await session.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None:
        raise RecordNotFound("campaign", campaign_id)
    return campaign


async def list_campaigns(session: AsyncSession, principal: Principal, *, limit: int) -> list[Campaign]:
    access.require_staff(principal)
    return list(await session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id).limit(limit)))


async def launch(session: AsyncSession, principal: Principal, campaign_id: str, now: datetime) -> Campaign:
    """draft -> running, with a delivery row for each member now; a retry of a launch (the
    campaign already running or done) changes nothing."""
    access.require_marketer(principal, "launch campaigns")
    campaign = await get_campaign(session, principal, campaign_id, lock=True)
    if campaign.status != "draft":
        return campaign
    segment = await segment_service.get_segment(session, principal, campaign.segment_id)
    criteria = segment_service.criteria_of(segment)
    columns = (CustomerProfile.id, CustomerProfile.region_code, CustomerProfile.branch_code)
    members = segment_service.members_query(criteria, now).with_only_columns(*columns)
    # those who would be members but opted out: counted as suppressed ("opted out"), never sent
    opted_out = (
        segment_service.members_query(criteria, now, consenting=False)
        .where(CustomerProfile.marketing_consent.is_(False), opt_out_service.opted_out_clause(CustomerProfile.id))
        .with_only_columns(*columns)
    )
    targeted = 0
    for query, state, reason in (
        (members, rules.PENDING, None),
        (opted_out, rules.SUPPRESSED, opt_out_service.OPTED_OUT),
    ):
        found = (await session.execute(query.order_by(CustomerProfile.id))).all()
        targeted += len(found)
        for start in range(0, len(found), CHUNK):
            rows = [
                {
                    "id": new_id(),
                    "campaign_id": campaign.id,
                    "customer_id": customer_id,
                    "region_code": region_code,
                    "branch_code": branch_code,
                    "state": state,
                    "reason": reason,
                    "created_at": now,
                }
                for customer_id, region_code, branch_code in found[start : start + CHUNK]
            ]
            await session.execute(insert_or_skip(session, Delivery).many(), rows)
    campaign.status = "running"
    campaign.launched_at = now
    campaign.updated_at = now
    await session.flush()
    await publishers.campaign_launched(session, campaign, targeted)
    return campaign


async def campaign_stats(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    counts = dict(
        (
            await session.execute(
                select(Delivery.state, func.count()).where(Delivery.campaign_id == campaign_id).group_by(Delivery.state)
            )
        ).all()
    )
    responded, converted, opted_out = (
        await session.execute(
            select(
                func.count(Delivery.responded_at), func.count(Delivery.converted_at), func.count(Delivery.opted_out_at)
            ).where(Delivery.campaign_id == campaign_id)
        )
    ).one()
    delivered = counts.get(rules.DELIVERED, 0)
    return {
        "targeted": sum(counts.values()),
        "sent": counts.get(rules.SENT, 0) + delivered,
        "delivered": delivered,
        "failed": counts.get(rules.FAILED, 0),
        "suppressed": counts.get(rules.SUPPRESSED, 0),
        "pending": counts.get(rules.PENDING, 0) + counts.get(rules.SENDING, 0),
        "responded": int(responded),
        "converted": int(converted),
        "opted_out": int(opted_out),
    }


async def list_deliveries(
    session: AsyncSession, principal: Principal, campaign_id: str, *, limit: int, cursor: str | None
) -> tuple[list[Delivery], str | None]:
    await get_campaign(session, principal, campaign_id)
    query = select(Delivery).where(Delivery.campaign_id == campaign_id, access.visible_customers(principal, Delivery))
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Delivery.customer_id > str(after[0]))
    rows = list(await session.scalars(query.order_by(Delivery.customer_id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor([rows[limit - 1].customer_id])


async def record_response(
    session: AsyncSession, principal: Principal, campaign_id: str, customer_id: str, now: datetime
) -> Delivery:
    """A response by link, reply or an agent's word: the first one counts."""
    campaign = await get_campaign(session, principal, campaign_id)
    home = await customer_identity_service.home_of(session, customer_id)
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.customer_id == home.customer_id)
        .with_for_update()
    )
    if delivery is None or not access.can_see_customer(principal, delivery):
        raise field_problem("customer_id", f"customer {customer_id} was not targeted by campaign {campaign_id}", 422)
    if delivery.responded_at is None:
        delivery.responded_at = now
        await publishers.campaign_response(session, campaign, delivery)
    return delivery


async def apply_completed_order(session: AsyncSession, order: dict[str, Any]) -> int:
    """An order completed by a targeted customer for a campaign's offering, inside the campaign's
    window, converts that customer's delivery (the first such order counts). Returns how many."""
    offerings = {item["offering_id"] for item in order.get("items") or [] if item.get("action") == "add"}
    offerings |= {item["offering_id"] for item in order.get("items") or []}
    if not offerings:
        return 0
    completed_at = datetime.fromisoformat(order.get("completed_at") or order["updated_at"])
    home = await customer_identity_service.home_of(session, order["customer_id"])
    rows = (
        await session.execute(
            select(Delivery, Campaign)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.customer_id == home.customer_id,
                Delivery.state.in_((rules.SENT, rules.DELIVERED)),
                Delivery.converted_at.is_(None),
                Campaign.launched_at <= completed_at,
                or_(Campaign.ends_at.is_(None), Campaign.ends_at >= completed_at),
            )
            .with_for_update(of=Delivery)
        )
    ).all()
    converted = 0
    for delivery, campaign in rows:
        offer = campaign.offer or {}
        if offer.get("offering_id") in offerings:
            delivery.converted_at = completed_at
            delivery.conversion_order_id = order["id"]
            await publishers.campaign_conversion(session, campaign, delivery)
            converted += 1
    return converted


async def apply_receipts(db: Database, receipts: list[DeliveryReceipt], now: datetime) -> list[DeliveryReceipt]:
    """SMSC receipts onto the rows sent with those message ids; returns the receipts whose row is
    not marked sent yet (a receipt can overtake the batch's marking: the caller retries them)."""
    if not receipts:
        return []
    unmatched = []
    async with db.unit_of_work() as session:
        for receipt in receipts:
            result = await session.execute(
                update(Delivery)
                .where(Delivery.provider_message_id == receipt.provider_message_id, Delivery.state == rules.SENT)
                .values(
                    state=rules.DELIVERED if receipt.delivered else rules.FAILED,
                    delivered_at=now if receipt.delivered else None,
                    reason=None if receipt.delivered else f"receipt: {receipt.text[:150]}",
                )
            )
            if not result.rowcount:
                unmatched.append(receipt)
    return unmatched


# --- the sender ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendPolicy:
    batch_size: int
    quiet_from: time
    quiet_until: time
    claim_lease: timedelta
    opt_out_base_url: str
    opt_out_secret: str


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    message: OutboundMessage


async def recover_interrupted(db: Database, now: datetime, lease: timedelta) -> int:
    """Rows claimed longer ago than the lease: their process died mid-send, perhaps after the relay
    took the message. They go back to pending with their message reference, so the next claim
    re-checks consent and sends the same message again (a retransmission to the relay)."""
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(Delivery)
            .where(Delivery.state == rules.SENDING, Delivery.claimed_at < now - lease)
            .values(state=rules.PENDING, reason=rules.INTERRUPTED)
        )
        return result.rowcount or 0


def _quiet_regions(now: datetime, policy: SendPolicy) -> list[str]:
    return [
        region.code
        for region in REGIONS
        if rules.in_quiet_hours(now, region.code, policy.quiet_from, policy.quiet_until)
    ]


async def claim_batch(db: Database, campaign_id: str, now: datetime, policy: SendPolicy) -> list[Claimed]:
    """Claims up to a batch of pending rows of a running campaign (skipping rows another sender
    holds, and SMS to regions in their night hours); consent and address re-checked under the
    customer's row lock, so a withdrawal committed first wins."""
    async with db.unit_of_work() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != "running":
            return []
        query = select(Delivery).where(Delivery.campaign_id == campaign_id, Delivery.state == rules.PENDING)
        if campaign.channel == "sms":
            quiet = _quiet_regions(now, policy)
            if quiet:
                query = query.where(Delivery.region_code.not_in(quiet))
        deliveries = list(
            await session.scalars(
                query.order_by(Delivery.id).limit(policy.batch_size).with_for_update(skip_locked=True)
            )
        )
        if not deliveries:
            return []
        profiles = {
            profile.id: profile
            for profile in await session.scalars(
                select(CustomerProfile)
                .where(CustomerProfile.id.in_([d.customer_id for d in deliveries]))
                .order_by(CustomerProfile.id)
                .with_for_update()
            )
        }
        opted_out = set(
            await session.scalars(
                select(CustomerProfile.id).where(
                    CustomerProfile.id.in_(list(profiles)), opt_out_service.opted_out_clause(CustomerProfile.id)
                )
            )
        )
        claimed: list[Claimed] = []
        for delivery in deliveries:
            profile = profiles.get(delivery.customer_id)
            address = None
            if profile is not None:
                address = profile.phone if campaign.channel == "sms" else profile.email
            reason = rules.suppression_reason(
                profile.marketing_consent if profile else None, address, profile.status if profile else None
            )
            if delivery.customer_id in opted_out:
                reason = opt_out_service.OPTED_OUT
            if reason is not None:
                delivery.state, delivery.reason = rules.SUPPRESSED, reason
                continue
            language, text = rules.text_for(campaign.message, profile.language)
            delivery.state = rules.SENDING
            delivery.reason = None
            delivery.message_id = delivery.message_id or uuid.uuid4().hex  # kept across a resend
            delivery.claimed_at = now
            delivery.address = address
            delivery.language = language
            claimed.append(Claimed(delivery.id, _message(campaign, delivery, text, policy)))
        return claimed


def _message(campaign: Campaign, delivery: Delivery, text: str, policy: SendPolicy) -> OutboundMessage:
    if campaign.channel == "sms":
        return OutboundMessage("sms", delivery.address or "", text + STOP_HINT, message_id=delivery.message_id or "")
    link = f"{policy.opt_out_base_url}/{opt_out_service.opt_out_token(policy.opt_out_secret, delivery.id)}"
    body = f"{text}\n\n--\n{OPT_OUT_TEXT} {link}"
    return OutboundMessage(
        "email", delivery.address or "", body, subject=campaign.name, message_id=delivery.message_id or ""
    )


STOP_HINT = " STOP: 1414"
OPT_OUT_TEXT = "Unsubscribe / Жазылымнан бас тарту / Отписаться:"


async def mark_results(db: Database, results: list[tuple[str, str | None, str | None]], now: datetime) -> None:
    """(delivery id, provider message id, error) of sends, in one transaction: a crash before it
    leaves them ``sending``, resent with the same reference after the lease."""
    if not results:
        return
    rows = [
        {
            "id": delivery_id,
            "state": rules.SENT if error is None else rules.FAILED,
            "provider_message_id": provider_id,
            "sent_at": now if error is None else None,
            "reason": error[:200] if error else None,
        }
        for delivery_id, provider_id, error in results
    ]
    async with db.unit_of_work() as session:  # one executemany by primary key, only rows still sending
        await session.execute(
            update(Delivery).where(Delivery.state == rules.SENDING),
            rows,
            execution_options={"synchronize_session": None},
        )


async def running_campaigns(db: Database, now: datetime) -> list[str]:
    """Running campaigns inside their window; those past their end close (rows never claimed are
    suppressed), and those with nothing left to send complete."""
    async with db.unit_of_work() as session:
        campaigns = list(
            await session.scalars(
                select(Campaign).where(Campaign.status == "running").with_for_update(skip_locked=True)
            )
        )
        ready = []
        for campaign in campaigns:
            if campaign.ends_at is not None and campaign.ends_at <= now:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.campaign_id == campaign.id, Delivery.state == rules.PENDING)
                    .values(state=rules.SUPPRESSED, reason="the campaign ended before it reached them")
                )
            left = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.campaign_id == campaign.id, Delivery.state.in_((rules.PENDING, rules.SENDING)))
            )
            if not left:
                campaign.status, campaign.completed_at, campaign.updated_at = "completed", now, now
                await publishers.campaign_completed(session, campaign, await campaign_stats(session, campaign.id))
            elif campaign.starts_at is None or campaign.starts_at <= now:
                ready.append(campaign.id)
        return ready


async def send_pass(
    db: Database,
    send: Callable[[OutboundMessage], Awaitable[str]],
    clock: Callable[[], datetime],
    policy: SendPolicy,
    pace: Callable[[], Awaitable[None]],
    after_batch: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """One pass over the running campaigns: claim a batch, then send each message (``pace`` before
    it keeps the throttle) while its outcome is recorded behind it (Recorder). Returns how many went
    out."""
    sent = 0
    await recover_interrupted(db, clock(), policy.claim_lease)
    for campaign_id in await running_campaigns(db, clock()):
        while claimed := await claim_batch(db, campaign_id, clock(), policy):
            recorder = Recorder(db, clock)
            try:
                for item in claimed:
                    await pace()
                    try:
                        recorder.add((item.delivery_id, await send(item.message), None))
                        sent += 1
                    except DeliveryFailed as exc:
                        recorder.add((item.delivery_id, None, str(exc)))
            finally:
                await recorder.flush()
            if after_batch is not None:
                await after_batch()
    return sent


class Recorder:
    """Records send outcomes as they come, in group commits: one commit at a time runs behind the
    sends and takes every outcome that arrived meanwhile. A crash leaves unrecorded only what was
    sent since the last commit began (those rows stay ``sending`` and are resent with their
    reference), while the sends never wait for the database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db, self.clock = db, clock
        self.waiting: list[tuple[str, str | None, str | None]] = []
        self.task: asyncio.Task | None = None

    def add(self, outcome: tuple[str, str | None, str | None]) -> None:
        self.waiting.append(outcome)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._commit_waiting())

    async def _commit_waiting(self) -> None:
        while self.waiting:
            outcomes, self.waiting = self.waiting, []
            await mark_results(self.db, outcomes, self.clock())

    async def flush(self) -> None:
        if self.task is not None:
            await self.task
        await self._commit_waiting()


def delivery_state(delivery: Delivery) -> dict[str, Any]:
    return {
        "customer_id": delivery.customer_id,
        "state": delivery.state,
        "reason": delivery.reason,
        "language": delivery.language,
        "message_id": delivery.message_id,
        "provider_message_id": delivery.provider_message_id,
        "branch_code": delivery.branch_code,
        "region_code": delivery.region_code,
        "sent_at": iso(delivery.sent_at) if delivery.sent_at else None,
        "delivered_at": iso(delivery.delivered_at) if delivery.delivered_at else None,
        "responded_at": iso(delivery.responded_at) if delivery.responded_at else None,
        "converted_at": iso(delivery.converted_at) if delivery.converted_at else None,
        "conversion_order_id": delivery.conversion_order_id,
        "opted_out_at": iso(delivery.opted_out_at) if delivery.opted_out_at else None,
    }
