"""A service's own background job as a ``Worker`` (crm_shared.app): a task started and stopped with
the app's lifespan that runs one pass after another, waiting between them until ``wake`` is called
or the interval has passed. A pass that fails is logged and tried again at the next interval."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("crm.worker")


class PassWorker:
    """Subclasses give ``name`` and ``run_pass``; a pass that returns True (more work waits) is
    followed at once by the next one."""

    name = "worker"

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self.passes = 0
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def run_pass(self) -> bool:
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        """Run a pass now instead of at the end of the interval."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            more = False
            try:
                more = await self.run_pass()
            except Exception:
                log.exception("%s: a pass failed; retrying at the next interval", self.name)
            self.passes += 1
            if more:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
