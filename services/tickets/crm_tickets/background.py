"""The tickets service's own background jobs (main.DEFINITION.background): the SLA scheduler,
which runs the SLA scan (services/sla_service.py) every interval. The demo stories' worker is
demo data and lives with it (seed.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from crm_shared.db import Database

from .services.sla_service import scan_once

log = logging.getLogger("crm.tickets.sla")


class SlaScheduler:
    """The scheduler as a Worker: one pass every ``interval_s`` with the time of ``clock``."""

    name = "sla-scheduler"

    def __init__(self, db: Database, clock: Callable[[], datetime], *, interval_s: float, batch_size: int) -> None:
        self.db = db
        self.clock = clock
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.passes = 0
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="sla-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        """Run a pass now (tests move the clock, then wake the scheduler)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = await scan_once(self.db, self.clock(), batch_size=self.batch_size)
                if result.signals:
                    log.info("SLA pass: %d tickets, %d signals", result.tickets, result.signals)
            except Exception:
                log.exception("SLA pass failed; retrying at the next interval")
            self.passes += 1
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
