"""The tickets service's own background jobs (main.DEFINITION.background): the SLA scheduler,
which runs the SLA scan (services/sla_service.py) every interval. The demo stories' worker is
demo data and lives with it (seed.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from crm_shared.db import Database
from crm_shared.worker import PassWorker

from .services.sla_service import scan_once

log = logging.getLogger("crm.tickets.sla")


class SlaScheduler(PassWorker):
    """The scheduler as a Worker: one pass every ``interval_s`` with the time of ``clock`` (tests
    move the clock, then ``wake`` the scheduler)."""

    name = "sla-scheduler"

    def __init__(self, db: Database, clock: Callable[[], datetime], *, interval_s: float, batch_size: int) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.clock = clock
        self.batch_size = batch_size

    async def run_pass(self) -> bool:
        result = await scan_once(self.db, self.clock(), batch_size=self.batch_size)
        if result.signals:
            log.info("SLA pass: %d tickets, %d signals", result.tickets, result.signals)
        return False
