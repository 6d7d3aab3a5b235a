"""A service's own background job as a Worker (ServiceDefinition.background): a task started and
stopped with the app's lifespan that runs one pass at start and then every ``interval_s`` (or at
once when woken), a failed pass logged and retried at the next interval, stopped between passes.
A subclass writes ``run_pass``; a pass that returns True (more work waits) is followed at once by
the next one; a job with an end (a one-off sweep) sets ``finished`` and runs no more passes; a job
made with ``first_pass_at_start=False`` waits one interval before its first pass."""

from __future__ import annotations

import asyncio
import logging

_log = logging.getLogger("crm.periodic")


class PeriodicJob:
    name = "periodic-job"

    def __init__(
        self, *, interval_s: float, log: logging.Logger | None = None, first_pass_at_start: bool = True
    ) -> None:
        self.interval_s = interval_s
        self.first_pass_at_start = first_pass_at_start
        self.log = log or _log
        self.passes = 0  # passes done (tests wait for one)
        self.finished = False
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def run_pass(self) -> bool | None:
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        return self.finished or (self._task is not None and not self._task.done())

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
        """Run a pass now instead of at the end of the interval (tests move the clock, then wake)."""
        self._wake.set()

    async def _run(self) -> None:
        if not self.first_pass_at_start:
            await self._wait()
        while not self._stopping.is_set() and not self.finished:
            more = False
            try:
                more = bool(await self.run_pass())
            except Exception:
                self.log.exception("%s: the pass failed; retrying in %.0f s", self.name, self.interval_s)
            self.passes += 1
            if self.finished:
                break
            if not more:
                await self._wait()

    async def _wait(self) -> None:
        """Until the interval has passed, or ``wake`` or ``stop`` was called."""
        try:
            await asyncio.wait_for(self._wake.wait(), self.interval_s)
        except TimeoutError:
            pass
        self._wake.clear()
