"""Routing: /api/v1/<service>/... is forwarded to the service, as the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Request, Response

from crm_shared.auth import Principal, Role
from crm_shared.errors import Problem
from crm_shared.query import ANY, extra_query_parameters
from crm_shared.registry import ServiceSpec

from ..domain.api_keys import required_scope
from ..state import gateway_of
from .deps import CurrentCaller

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def proxy_router(services: Iterable[ServiceSpec]) -> APIRouter:
    """/api/v1/<service>/... for each routed service, and each of its public prefixes (/tmf-api/...)."""
    router = APIRouter(include_in_schema=False)  # the services' own documents describe these paths
    services = list(services)
    for spec in services:
        forward = _forwarder(spec.name)
        router.add_api_route(f"{spec.api_prefix}/{{path:path}}", forward, methods=METHODS, name=f"proxy_{spec.name}")
        # the collection itself (POST /api/v1/webhooks) as well as the paths below it
        router.add_api_route(spec.api_prefix, forward, methods=METHODS, name=f"proxy_{spec.name}_root")
    # Longest prefix first: /tmf-api/troubleTicket/v4/hub (webhooks) before /tmf-api/troubleTicket (tickets).
    public = sorted(((prefix, spec) for spec in services for prefix in spec.public_prefixes), key=lambda p: -len(p[0]))
    for prefix, spec in public:
        router.add_api_route(
            f"{prefix}/{{path:path}}",
            _forwarder(spec.name),
            methods=METHODS,
            name=f"proxy_{spec.name}_{prefix.strip('/').replace('/', '_')}",
        )
        router.add_api_route(
            prefix,
            _forwarder(spec.name),
            methods=METHODS,
            name=f"proxy_{spec.name}_{prefix.strip('/').replace('/', '_')}_root",
        )
    return router


# Links a customer opens from a message without signing in (GET only): the token in the path is the
# authorisation, which the service checks; forwarded as this identity, which may do nothing else.
LINKS_WITHOUT_LOGIN = (("marketing", "/api/v1/marketing/opt-out/{token}"),)
LINK_OPENER = Principal("gateway:link-without-login", "link without login", Role.SYSTEM, scopes=())


def links_router(services: Iterable[ServiceSpec]) -> APIRouter:
    """The LINKS_WITHOUT_LOGIN of the routed services (included before the proxy's routes)."""
    router = APIRouter(include_in_schema=False)
    routed = {spec.name for spec in services}
    for service, path in LINKS_WITHOUT_LOGIN:
        if service in routed:
            router.add_api_route(path, _link_forwarder(service), methods=["GET"], name=f"link_{service}")
    return router


def _link_forwarder(service: str):
    async def forward(request: Request, token: str) -> Response:
        return await gateway_of(request).upstreams.forward(service, request, LINK_OPENER)

    return forward


def _may_write_through(principal, service: str, needed: str) -> bool:
    """A key with a narrower write scope of the service (orders:fulfil, orders:billing) passes the
    gateway for writes; the service checks that scope against the operation itself."""
    return needed.endswith(":write") and any(
        scope.startswith(f"{service}:") and scope != f"{service}:read" for scope in principal.scopes
    )


def _forwarder(service: str):
    @extra_query_parameters(ANY)  # the service says which parameters it takes
    async def forward(request: Request, caller: CurrentCaller, path: str = "") -> Response:
        principal = caller.principal
        if principal.role is Role.SYSTEM:
            needed = required_scope(service, request.method)
            if not principal.has_scope(needed) and not _may_write_through(principal, service, needed):
                raise Problem(403, "Forbidden", f"this API key lacks the scope {needed}", required_scope=needed)
        return await gateway_of(request).upstreams.forward(service, request, principal)

    return forward
