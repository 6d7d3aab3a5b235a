"""Routing: /api/v1/<service>/... is forwarded to the service, as the authenticated caller."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crm_shared.auth import Role
from crm_shared.errors import Problem

from ..domain.api_keys import required_scope
from ..state import gateway_of
from .deps import CurrentCaller

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def proxy_router(services: list[str], prefixes: dict[str, str] | None = None) -> APIRouter:
    """/api/v1/<service>/... for each service, and each of ``prefixes`` (path prefix -> service)."""
    router = APIRouter(include_in_schema=False)  # the services' own documents describe these paths
    for service in services:
        router.add_api_route(
            f"/api/v1/{service}/{{path:path}}", _forwarder(service), methods=METHODS, name=f"proxy_{service}"
        )
    for prefix, service in (prefixes or {}).items():
        router.add_api_route(
            f"{prefix.rstrip('/')}/{{path:path}}",
            _forwarder(service),
            methods=METHODS,
            name=f"proxy_{service}_{prefix.strip('/').replace('/', '_')}",
        )
    return router


def _may_write_through(principal, service: str, needed: str) -> bool:
    """A key with a narrower write scope of the service (orders:fulfil, orders:billing) passes the
    gateway for writes; the service checks that scope against the operation itself."""
    return needed.endswith(":write") and any(
        scope.startswith(f"{service}:") and scope != f"{service}:read" for scope in principal.scopes
    )


def _forwarder(service: str):
    async def forward(path: str, request: Request, caller: CurrentCaller) -> Response:
        principal = caller.principal
        if principal.role is Role.SYSTEM:
            needed = required_scope(service, request.method)
            if not principal.has_scope(needed) and not _may_write_through(principal, service, needed):
                raise Problem(403, "Forbidden", f"this API key lacks the scope {needed}", required_scope=needed)
        return await gateway_of(request).upstreams.forward(service, request, principal)

    return forward
