"""What one gateway process holds besides the shared ServiceRuntime."""

from __future__ import annotations

from fastapi import Request

from crm_shared.app import ServiceRuntime

from .authn import Authenticator, Caller
from .config import GatewaySettings
from .passwords import Passwords
from .ratelimit import Decision, RateLimiter
from .upstream import Upstreams


class Gateway:
    def __init__(self, settings: GatewaySettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.db = runtime.db
        self.passwords = Passwords.for_settings(settings)
        self.authenticator = Authenticator(settings, runtime.db, self.passwords)
        self.limiter = RateLimiter(runtime.db)
        self.upstreams = Upstreams(settings)

    async def admit(self, caller: Caller) -> Decision:
        """The caller's own rate limit (one per user or API key, across all gateway processes)."""
        if not self.settings.rate_limit_enabled:
            return Decision(True)
        return await self.limiter.acquire(
            caller.rate_limit_subject, self.settings.rate_limit_per_minute, self.settings.rate_limit_burst
        )

    async def auth_failures_allowed(self, client_address: str) -> Decision:
        return await self.limiter.peek(
            f"auth-failures:{client_address}", self.settings.auth_failures_per_minute, self.settings.auth_failures_burst
        )

    async def record_auth_failure(self, client_address: str) -> None:
        await self.limiter.acquire(
            f"auth-failures:{client_address}", self.settings.auth_failures_per_minute, self.settings.auth_failures_burst
        )


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway
