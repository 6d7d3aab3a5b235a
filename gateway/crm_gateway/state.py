"""What one gateway process holds besides the shared ServiceRuntime."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import Request

from crm_shared import registry
from crm_shared.app import ServiceRuntime
from crm_shared.registry import ServiceSpec

from .authn import Authenticator, Caller
from .config import GatewaySettings
from .messenger import Messenger
from .passwords import Passwords
from .ratelimit import Decision, RateLimiter
from .throttling import AuthThrottle
from .upstream import Upstreams

log = logging.getLogger("crm.gateway")


class Gateway:
    def __init__(
        self, settings: GatewaySettings, runtime: ServiceRuntime, services: Iterable[ServiceSpec] | None = None
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.db = runtime.db
        self.passwords = Passwords.for_settings(settings)
        self.authenticator = Authenticator(settings, runtime.db, self.passwords)
        self.limiter = RateLimiter(runtime.db)
        self.auth_throttle = AuthThrottle(settings, runtime.db, self.limiter)
        self.messenger = Messenger(settings)
        # The services behind /api/v1/<name>/: the registry's, or those a test gives.
        self.routed = registry.backend_services(services)
        self.upstreams = Upstreams(settings, {spec.name: settings.upstream_url(spec) for spec in self.routed})
        self.grpc_edge = None  # main.workers: the gRPC edge when CRM_GATEWAY_GRPC_EDGE_PORT is set
        unknown = sorted(set(settings.service_urls) - {spec.name for spec in self.routed})
        if unknown:
            log.warning("URLs given for services the registry does not have: %s", ", ".join(unknown))

    @property
    def public_prefixes(self) -> dict[str, str]:
        """Public path prefix outside /api/v1/ (e.g. /tmf-api/troubleTicket) -> the routed service."""
        return registry.public_prefixes(self.routed)

    @property
    def api_key_scopes(self) -> dict[str, tuple[str, ...]]:
        """Routed service -> the API-key scopes it understands."""
        return {spec.name: spec.scopes for spec in self.routed}

    async def admit(self, caller: Caller) -> Decision:
        """The caller's own rate limit (one per user or API key, across all gateway processes)."""
        if not self.settings.rate_limit_enabled:
            return Decision(True)
        return await self.limiter.acquire(
            caller.rate_limit_subject, self.settings.rate_limit_per_minute, self.settings.rate_limit_burst
        )


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway
