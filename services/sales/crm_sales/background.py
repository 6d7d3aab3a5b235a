"""The sales service's own background jobs (main.DEFINITION.background): the call hand-over, which
on every start hands the call activities logged before tickets owned contacts over to tickets
(services/call_handover_service.py) and then ends."""

from __future__ import annotations

import logging

from crm_shared.db import Database
from crm_shared.periodic import PeriodicJob

from .services.call_handover_service import hand_over_calls

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
