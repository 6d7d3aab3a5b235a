"""The API gateway process: authentication, rate limits, routing, merged OpenAPI, reference data."""

from __future__ import annotations

from collections.abc import Iterable

from crm_shared.app import ServiceRuntime, create_service_app
from crm_shared.registry import ServiceSpec

from .api import admin, auth, branches, dev_outbox, meta, portal, reference, search, staff
from .api.proxy import links_router, proxy_router
from .config import GatewaySettings
from .console import mount_console
from .docs import docs_router, mount_docs_assets
from .portal import mount_portal
from .state import Gateway

# create_service_app's generic versions of these; the gateway serves its own (below).
REPLACED_PATHS = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def workers(gateway: Gateway):
    def make(runtime: ServiceRuntime):
        yield gateway.limiter
        yield gateway.upstreams
        yield gateway.messenger
        if runtime.settings.grpc_edge_port is not None:
            from .grpc_edge import GrpcEdge

            gateway.grpc_edge = GrpcEdge.for_gateway(
                runtime.settings, gateway.authenticator, gateway.upstreams.tokens, gateway.routed
            )
            yield gateway.grpc_edge
        if runtime.settings.relay_enabled:
            from crm_shared.relay import OutboxRelay

            yield OutboxRelay(runtime.db, runtime.settings)

    return make


def describe(routed: Iterable[ServiceSpec]) -> str:
    services = "\n".join(f"- `{spec.name}`: {spec.description}" for spec in routed)
    return (
        "The Qazaq CRM public API. Staff sign in with `POST /api/v1/auth/token` (or **Authorize** "
        "here) and send `Authorization: Bearer <token>`; external systems send `X-API-Key`. "
        f"`/api/v1/{{service}}/...` is routed to that service:\n\n{services}"
    )


def create_app(
    settings: GatewaySettings | None = None,
    runtime: ServiceRuntime | None = None,
    services: Iterable[ServiceSpec] | None = None,
):
    """``services``: the registry entries to route to (default crm_shared.registry.SERVICES)."""
    settings = settings or GatewaySettings()
    runtime = runtime or ServiceRuntime(settings)
    gateway = Gateway(settings, runtime, services)
    app = create_service_app(
        settings,
        title="Qazaq CRM gateway",
        description=describe(gateway.routed),
        routers=[],
        workers=workers(gateway),
        runtime=runtime,
    )
    app.state.gateway = gateway
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in REPLACED_PATHS]
    for router in (
        meta.router,
        docs_router(),
        auth.router,
        admin.router,
        branches.router,
        reference.router,
        staff.router,
        search.router,
        portal.router,
        links_router(gateway.routed),
        proxy_router(gateway.routed),
    ):
        app.include_router(router)
    if settings.profile == "dev":  # the capturing sinks exist only there; in production no such route
        app.include_router(dev_outbox.router)
    mount_docs_assets(app)
    mount_console(app)
    mount_portal(app)
    return app
