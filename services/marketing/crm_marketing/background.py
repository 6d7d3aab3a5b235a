"""The marketing service's own workers (main.DEFINITION.background): the campaign sender (claim,
send through crm_shared.outbound, mark; the throttle; SMPP receipts), the loyalty consumer (built
with the programme's settings) and the daily points expiry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import Database
from crm_shared.outbound import DeliveryReceipt, InboundSms, Outbound
from crm_shared.periodic import PeriodicJob

from .config import MarketingSettings
from .services import campaign_service, loyalty_service, opt_out_service

log = logging.getLogger("crm.marketing.sender")
RECEIPT_ROUNDS = 100  # sender rounds a receipt waits for its row to be marked sent


class Pacer:
    """At most ``rate`` sends a second: each waits for its slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0

    async def __call__(self) -> None:
        now = time.monotonic()
        if self.next_slot > now:
            await asyncio.sleep(self.next_slot - now)
        self.next_slot = max(now, self.next_slot) + self.interval


class CampaignSender(PeriodicJob):
    name = "campaign-sender"

    def __init__(
        self,
        db: Database,
        settings: MarketingSettings,
        clock: Callable[[], datetime],
        sales: SalesCustomers | None = None,
    ) -> None:
        super().__init__(interval_s=settings.sender_idle_s, log=log)
        self.db = db
        self.settings = settings
        self.clock = clock
        self.sales = sales  # where opt-outs are reported (None: kept until a process with it runs)
        self.outbound = Outbound(settings, on_receipt=self._receipt, on_inbound=self._inbound)
        self.policy = campaign_service.SendPolicy(
            batch_size=settings.send_batch_size,
            quiet_from=settings.quiet_from,
            quiet_until=settings.quiet_until,
            claim_lease=timedelta(seconds=settings.claim_lease_s),
            opt_out_base_url=settings.opt_out_base_url,
            opt_out_secret=settings.internal_token_secret,
        )
        self.pacer = Pacer(settings.send_rate_per_s)
        self._receipts: list[tuple[DeliveryReceipt, int]] = []  # with the passes each has waited
        self._replies: list[InboundSms] = []

    async def stop(self) -> None:
        await super().stop()
        await self.outbound.close()

    def _receipt(self, receipt: DeliveryReceipt) -> None:
        self._receipts.append((receipt, 0))

    def _inbound(self, reply: InboundSms) -> None:
        self._replies.append(reply)
        self.wake()

    async def _apply_replies(self) -> None:
        """Customers' SMS replies: "STOP" opts out (a reply that fails stays for the next round)."""
        while self._replies:
            reply = self._replies[0]
            async with self.db.unit_of_work() as session:
                await opt_out_service.opt_out_by_reply(session, reply.sender, reply.text, self.clock())
            self._replies.pop(0)

    async def _apply_receipts(self) -> None:
        """Receipts whose row is not marked sent yet wait a few rounds (then are dropped: a
        receipt for a row that never gets marked, one interrupted mid-send, has nowhere to go)."""
        waiting, self._receipts = self._receipts, []
        if not waiting:
            return
        tries = {id(receipt): count for receipt, count in waiting}
        unmatched = await campaign_service.apply_receipts(self.db, [r for r, _ in waiting], self.clock())
        self._receipts = [(r, tries[id(r)] + 1) for r in unmatched if tries[id(r)] < RECEIPT_ROUNDS] + self._receipts

    async def run_pass(self) -> None:
        sent = await campaign_service.send_pass(
            self.db, self.outbound.send, self.clock, self.policy, self.pacer, after_batch=self._apply_receipts
        )
        if self.settings.sms_replies_enabled:
            await self.outbound.sms.listen()
        else:
            await self.outbound.sms.poll_receipts()
        await self._apply_receipts()
        await self._apply_replies()
        if self.sales is not None:
            await opt_out_service.forward_pending(self.db, self.sales, self.clock())
        if sent:
            log.info("campaign sender: %d messages sent", sent)


class PointsExpiry(PeriodicJob):
    name = "points-expiry"

    def __init__(self, db: Database, settings: MarketingSettings, clock: Callable[[], datetime]) -> None:
        super().__init__(interval_s=settings.expiry_interval_s, log=log)
        self.db, self.settings, self.clock = db, settings, clock

    async def run_pass(self) -> None:
        async with self.db.unit_of_work() as session:
            await loyalty_service.expire_points(session, self.clock(), self.settings.points_valid_days)


def loyalty_rules(settings: MarketingSettings) -> loyalty_service.LoyaltyRules:
    return loyalty_service.LoyaltyRules(
        points_per_tenge=settings.points_per_tenge,
        thresholds_tiyn={"bronze": 0, "silver": settings.silver_from_tiyn, "gold": settings.gold_from_tiyn},
        points_valid_days=settings.points_valid_days,
    )
