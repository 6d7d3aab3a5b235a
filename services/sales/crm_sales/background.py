"""The sales service's own background jobs (main.DEFINITION.background): the call hand-over, which
on every start hands the call activities logged before tickets owned contacts over to tickets
(services/call_handover_service.py) and then ends; the task reminders, which every interval send
the e-mail reminders of due and overdue tasks (services/reminder_service.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from crm_shared.db import Database
from crm_shared.outbound import DeliveryFailed, OutboundMessage
from crm_shared.periodic import PeriodicJob

from .services.call_handover_service import hand_over_calls
from .services.reminder_service import claim_reminders, record_outcome

log = logging.getLogger("crm.sales.background")


class CallHandover(PeriodicJob):
    """One sweep through every call activity at start; once none is left the job is finished (new
    calls are refused, so none comes back). A failed sweep is retried after ``retry_s``."""

    name = "call-handover"

    def __init__(self, db: Database, *, batch_size: int = 200, retry_s: float = 5.0) -> None:
        super().__init__(interval_s=retry_s, log=log)
        self.db = db
        self.batch_size = batch_size
        self.handed_over = 0

    async def run_pass(self) -> None:
        after: str | None = ""
        while after is not None:
            async with self.db.unit_of_work() as session:
                handed, after = await hand_over_calls(session, after_id=after, batch_size=self.batch_size)
            self.handed_over += handed
        if self.handed_over:
            log.info("%d call activities handed over to tickets as interactions", self.handed_over)
        self.finished = True


class TaskReminders(PeriodicJob):
    """Every ``interval_s``, one pass: claim the reminders due (committed), send each through
    ``send`` (the shared outbound channel's SMTP), record what came of it."""

    name = "task-reminders"

    def __init__(
        self,
        db: Database,
        send: Callable[[OutboundMessage], Awaitable[str]],
        clock: Callable[[], datetime],
        *,
        interval_s: float,
        console_url: str,
    ) -> None:
        super().__init__(interval_s=interval_s, log=log)
        self.db = db
        self.send = send
        self.clock = clock
        self.console_url = console_url
        self.sent = 0

    async def run_pass(self) -> None:
        self.sent += await self.send_pass()

    async def send_pass(self) -> int:
        """Claims and sends the reminders due now; returns how many went out."""
        async with self.db.unit_of_work() as session:
            reminders = await claim_reminders(session, self.clock(), console_url=self.console_url)
        sent = 0
        for reminder in reminders:
            message_id, error = None, None
            try:
                message_id = await self.send(reminder.message)
                sent += 1
            except DeliveryFailed as exc:
                error = str(exc)
                log.warning("task reminder %s to %s refused: %s", reminder.activity_id, reminder.message.to, exc)
            async with self.db.unit_of_work() as session:
                await record_outcome(session, reminder, self.clock(), message_id=message_id, error=error)
        return sent
