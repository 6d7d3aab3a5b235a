"""The gateway's own outbound messages: the portal's one-time sign-in codes by SMS, over the
suite's outbound channel (crm_shared.outbound: SMPP to the operator's SMSC, the dev sink locally).

Sending happens after the answer (a 202 that is the same for known and unknown phones, and as
fast), in tasks this worker holds and waits for when the process stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from crm_shared.outbound import DeliveryFailed, Outbound, OutboundMessage

from .config import GatewaySettings

log = logging.getLogger("crm.gateway.messenger")


class Messenger:
    name = "portal-messenger"

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.outbound: Outbound | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.outbound = Outbound(self.settings)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.outbound is not None:
            await self.outbound.close()
            self.outbound = None

    @property
    def ready(self) -> bool:
        return self.outbound is not None

    async def send_sms(self, to: str, body: str) -> None:
        if self.outbound is None:
            raise DeliveryFailed("the messenger is not started")
        await self.outbound.send(OutboundMessage(channel="sms", to=to, body=body))

    def later(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``work`` after the answer; a failure is logged (the customer asks for a new code)."""

        async def run() -> None:
            try:
                await work()
            except Exception:  # nothing to answer any more: logged for the operator
                log.exception("portal: %s failed", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
