"""The dispatcher (main.DEFINITION.background): every interval it looks for subscriptions with a
due delivery and runs one task per such subscription, which delivers that subscription's due
deliveries in order (services/delivery_service.py). Each subscription has its own task and every
request its own timeout, so a slow or dead endpoint delays only its own deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import httpx

from crm_shared.db import Database

from .config import WebhooksSettings
from .services.delivery_service import deliver_next, subscriptions_due

log = logging.getLogger("crm.webhooks.dispatcher")


class Dispatcher:
    name = "webhook-dispatcher"

    def __init__(self, db: Database, settings: WebhooksSettings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._task: asyncio.Task | None = None
        self._drains: dict[str, asyncio.Task] = {}
        self._stopping = asyncio.Event()
        self._http: httpx.AsyncClient | None = None

    @property
    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._stopping.clear()
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [t for t in (self._task, *self._drains.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task, self._drains = None, {}
        if self._http is not None:
            await self._http.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                for subscription_id in await subscriptions_due(self.db, self.clock()):
                    running = self._drains.get(subscription_id)
                    if running is None or running.done():
                        self._drains[subscription_id] = asyncio.create_task(self._drain(subscription_id))
            except Exception:
                log.exception("dispatch pass failed; retrying at the next interval")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.dispatch_interval_s)
            except TimeoutError:
                pass

    async def _drain(self, subscription_id: str) -> None:
        assert self._http is not None
        try:
            while await deliver_next(self.db, self._http, self.settings, subscription_id, self.clock()):
                pass
        except Exception:
            log.exception("deliveries of subscription %s failed; retrying at the next pass", subscription_id)


def dispatcher(runtime) -> Dispatcher | None:
    settings: WebhooksSettings = runtime.settings
    if not settings.consumers_enabled:
        return None
    return Dispatcher(runtime.db, settings, runtime.clock)
