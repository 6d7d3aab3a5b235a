"""The authenticated gRPC edge for trusted external systems (CRM_GATEWAY_GRPC_EDGE_PORT; off when
unset). A call to any ``/crm.<service>.v1.*/<Method>`` carries an API key in the metadata
(``x-api-key: <key>`` or ``authorization: ApiKey <key>``); the key is checked as the REST routes
check it (the same cache and argon2 verification) and needs the same scopes: ``<service>:read``
for Get/List/Find/Search/Export methods, ``<service>:write`` (or a narrower scope of the service)
for the others. The call then goes on to the service's own gRPC server, unchanged bytes in and out,
with the caller's identity as the internal token (``x-crm-principal``), so the service applies its
visibility and masking. The edge answers health (grpc.health.v1) and reflection for every
service's API (docs/integration.md has a Python client)."""

from __future__ import annotations

import logging
import os
import pkgutil
from importlib import import_module
from urllib.parse import urlsplit

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal
from crm_shared.registry import ServiceSpec

from .authn import Authenticator
from .upstream import InternalTokens

log = logging.getLogger("crm.gateway.grpc_edge")
READ_METHOD_PREFIXES = ("Get", "List", "Find", "Search", "Export", "Check")
PASSED_ON = ("grpc-timeout",)


def api_key_of(metadata: dict[str, str]) -> str | None:
    if metadata.get("x-api-key"):
        return metadata["x-api-key"]
    scheme, _, value = metadata.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() in ("apikey", "api-key", "bearer") else None


def required_scope(service: str, method: str) -> str:
    return f"{service}:read" if method.startswith(READ_METHOD_PREFIXES) else f"{service}:write"


def allowed(principal: Principal, service: str, needed: str) -> bool:
    if principal.has_scope(needed):
        return True
    # as on REST: a narrower write scope of the service passes the edge; the service checks it
    return needed.endswith(":write") and any(
        s.startswith(f"{service}:") and s != f"{service}:read" for s in principal.scopes
    )


def service_names() -> list[str]:
    """The full names of every service's gRPC services (the generated stubs, imported)."""
    import crm_contracts.grpc.crm as root

    names = []
    for module in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        if module.name.endswith("_pb2"):
            descriptor = import_module(module.name).DESCRIPTOR
            names.extend(service.full_name for service in descriptor.services_by_name.values())
    return sorted(names)


def grpc_target(settings, spec: ServiceSpec) -> str:
    """Where a service's gRPC server listens: CRM_GATEWAY_<SVC>_GRPC_TARGET, else the host of its
    HTTP URL and its gRPC port (the service's own CRM_<SVC>_GRPC_PORT when `crm up` moved it)."""
    explicit = os.environ.get(f"CRM_GATEWAY_{spec.name.upper()}_GRPC_TARGET")
    if explicit:
        return explicit
    port = os.environ.get(spec.env_name("grpc_port")) or spec.grpc_port
    return f"{urlsplit(settings.upstream_url(spec)).hostname}:{port}"


class _Proxy(grpc.GenericRpcHandler):
    def __init__(self, edge: GrpcEdge) -> None:
        self.edge = edge

    def service(self, handler_call_details):
        method = handler_call_details.method  # /crm.orders.v1.InventoryService/GetInstalledProduct
        package, _, name = method.lstrip("/").partition("/")
        parts = package.split(".")
        if len(parts) < 4 or parts[0] != "crm" or parts[1] not in self.edge.targets:
            return None
        service = parts[1]

        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
            key = api_key_of(metadata)
            if not key:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "send an API key as x-api-key metadata")
            caller = self.edge.authenticator.cached_api_key(key) or await self.edge.authenticator.verify_api_key(key)
            if caller is None or caller.kind != "api_key":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked API key")
            needed = required_scope(service, name)
            if not allowed(caller.principal, service, needed):
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"this API key lacks the scope {needed}")
            call = self.edge.channel(service).unary_unary(method)
            token = self.edge.tokens.token_for(caller.principal)
            try:
                return await call(request, metadata=((INTERNAL_TOKEN_HEADER, token),), timeout=context.time_remaining())
            except grpc.aio.AioRpcError as error:
                await context.abort(error.code(), error.details() or "", tuple(error.trailing_metadata() or ()))

        return grpc.unary_unary_rpc_method_handler(forward)


class GrpcEdge:
    """The edge as a Worker of the gateway process."""

    name = "grpc-edge"

    def __init__(
        self, host: str, port: int, authenticator: Authenticator, tokens: InternalTokens, targets: dict[str, str]
    ) -> None:
        self.host, self.port = host, port
        self.authenticator = authenticator
        self.tokens = tokens
        self.targets = targets  # service name -> host:port of its gRPC server
        self.bound_port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}

    @classmethod
    def for_gateway(cls, settings, authenticator, tokens, routed: list[ServiceSpec]) -> GrpcEdge:
        targets = {spec.name: grpc_target(settings, spec) for spec in routed if spec.grpc_port}
        return cls(settings.grpc_edge_host, settings.grpc_edge_port, authenticator, tokens, targets)

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = grpc.aio.insecure_channel(self.targets[service])
        return self._channels[service]

    @property
    def ready(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        server = grpc.aio.server()
        checker = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
        names = service_names()
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
        )
        server.add_generic_rpc_handlers((_Proxy(self),))
        self.bound_port = server.add_insecure_port(f"{self.host}:{self.port}")
        await server.start()
        self._server = server
        log.info("gRPC edge on %s:%s for %s", self.host, self.bound_port, ", ".join(sorted(self.targets)))

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=2)
            self._server = None
        for channel in self._channels.values():
            await channel.close()
        self._channels = {}
