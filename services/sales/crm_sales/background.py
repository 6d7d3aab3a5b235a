"""The sales service's own background job (main.DEFINITION.background): the customer import
worker, which claims queued CSV imports (or ones whose worker died) and runs them batch by batch
(services/import_service.py). Every replica runs one; a job is claimed by one at a time."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_shared.db import Database
from crm_shared.worker import PassWorker

from .domain.imports import FileRuleError
from .services import import_service

log = logging.getLogger("crm.sales.imports")


class ImportWorker(PassWorker):
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
        super().__init__(interval_s=poll_interval_s)
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
            log.warning("customer import %s: taken over by another worker; this one leaves it", job_id)
        except Exception as exc:
            log.exception("customer import %s: a batch failed; the job stops", job_id)
            await import_service.fail(self.db, job_id, self.worker_id, f"a batch failed: {exc}", now=self.clock())
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
