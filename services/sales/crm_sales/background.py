"""The sales service's own background jobs (main.DEFINITION.background): the call hand-over, which
on every start hands the call activities logged before tickets owned contacts over to tickets
(services/call_handover_service.py) and then ends; the task reminders, which every interval send
the e-mail reminders of due and overdue tasks (services/reminder_service.py); the customer import
worker, which claims queued CSV imports (or ones whose worker died) and runs them batch by batch
(services/import_service.py). Every replica runs them; a job or a reminder is claimed by one at a time."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from crm_shared.db import Database
from crm_shared.outbound import DeliveryFailed, OutboundMessage
from crm_shared.periodic import PeriodicJob

from .domain.imports import FileRuleError
from .services import import_service
from .services.call_handover_service import hand_over_calls
from .services.reminder_service import claim_reminders, record_outcome

log = logging.getLogger("crm.sales.background")
import_log = logging.getLogger("crm.sales.imports")


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


class ImportWorker(PeriodicJob):
    """Between jobs it waits ``poll_interval_s``, or until ``wake`` (a job was queued on this replica).
    A job's batches run ``concurrency`` at a time: each is mostly waiting for the database."""

    name = import_service.WORKER_NAME

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        check_rows: import_service.RowChecker,
        *,
        batch_size: int,
        concurrency: int = 1,
        poll_interval_s: float,
        lease_s: float,
    ) -> None:
        super().__init__(interval_s=poll_interval_s, log=import_log)
        self.db = db
        self.clock = clock
        self.check_rows = check_rows
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_s)
        self.worker_id = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"

    async def run_pass(self) -> bool:
        claimed = await import_service.claim_next(
            self.db, self.worker_id, now=self.clock(), lease=self.lease, batch_size=self.batch_size
        )
        if claimed is None:
            return False
        await self.run_job(*claimed)
        return True

    async def run_job(self, job_id: str, batch_size: int) -> None:
        """Runs a claimed job's batches not committed yet, ``concurrency`` at a time, each in its own
        transaction, renewing the job's lease meanwhile; stops when the job is no longer this
        worker's, or this worker stops."""
        renewing = asyncio.create_task(self._keep_lease(job_id))
        try:
            await self._run_batches(job_id, batch_size)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _keep_lease(self, job_id: str) -> None:
        while await asyncio.sleep(self.lease.total_seconds() / 3, True):
            if not await import_service.renew_lease(self.db, job_id, self.worker_id, now=self.clock()):
                return

    async def _run_batches(self, job_id: str, batch_size: int) -> None:
        try:
            rows = await import_service.load_rows(self.db, job_id, self.check_rows)
        except FileRuleError as exc:
            await import_service.fail(self.db, job_id, self.worker_id, str(exc), now=self.clock())
            return
        if not rows.lines:
            await import_service.complete_if_empty(self.db, job_id, self.worker_id, now=self.clock())
            return
        done = await import_service.committed_batches(self.db, job_id)
        pending = iter([n for n in range(math.ceil(len(rows.lines) / batch_size)) if n not in done])

        async def lane() -> None:
            for batch_no in pending:
                if self.stopping:
                    return
                await import_service.run_batch(
                    self.db, job_id, self.worker_id, rows, batch_no, batch_size=batch_size, now=self.clock
                )

        lanes = [asyncio.create_task(lane()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*lanes)
        except import_service.LeaseLost:
            import_log.warning("customer import %s: taken over by another worker; this one leaves it", job_id)
        except Exception as exc:
            import_log.exception("customer import %s: a batch failed; the job stops", job_id)
            await import_service.fail(self.db, job_id, self.worker_id, f"a batch failed: {exc}", now=self.clock())
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
