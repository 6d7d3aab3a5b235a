"""gRPC plumbing every service shares: the server worker (health, reflection, tracing, caller
authentication, errors as status codes) and client channels carrying the caller's identity.

Server side::

    def register(server) -> None:
        customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(runtime), server)

    GrpcServerWorker(settings, register)      # one of the service's workers (crm_shared.app)

Inside a servicer, ``current_principal()`` is the verified caller. Raising a
``crm_shared.errors.Problem`` (``not_found``, ``field_problem`` ...) answers with the matching
status code; ``field_problem("query.phone", ...)`` gives INVALID_ARGUMENT whose message starts
with the field and whose status details (google.rpc.BadRequest) name it.

Client side (inside the running event loop, see grpc #32480)::

    channel = await open_channel("127.0.0.1:50101")
    stub = CustomerServiceStub(channel)
    reply = await stub.GetCustomer(request, metadata=principal_metadata(principal, secret))
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

import grpc
import grpc.aio
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from .auth import INTERNAL_TOKEN_HEADER, Principal, issue_internal_token, verify_internal_token
from .domain import DomainError
from .errors import Problem, problem_of
from .settings import ServiceSettings

log = logging.getLogger("crm.grpc")

PRINCIPAL_METADATA_KEY = INTERNAL_TOKEN_HEADER  # "x-crm-principal", the same token as HTTP
STATUS_DETAILS_METADATA_KEY = "grpc-status-details-bin"
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# Infrastructure services that answer without a caller identity (probes, grpcurl, load balancers).
UNAUTHENTICATED_SERVICES = (HEALTH_SERVICE, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection")

# The RPC's own register function may return the names of the services it added; names are
# also collected from the server itself, so returning None is fine.
Register = Callable[[grpc.aio.Server], Iterable[str] | None]

_current_principal: ContextVar[Principal | None] = ContextVar("crm_grpc_principal", default=None)


def current_principal() -> Principal:
    """The verified caller of the RPC being served (only inside a servicer method)."""
    principal = _current_principal.get()
    if principal is None:
        raise RuntimeError("current_principal() is only available while serving an authenticated gRPC call")
    return principal


# --- errors --------------------------------------------------------------------------------

_STATUS_OF_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def status_code_for(problem: Problem) -> grpc.StatusCode:
    if problem.status in _STATUS_OF_HTTP:
        return _STATUS_OF_HTTP[problem.status]
    return grpc.StatusCode.INVALID_ARGUMENT if problem.status < 500 else grpc.StatusCode.INTERNAL


def _status_details(code: grpc.StatusCode, message: str, violations: Sequence[tuple[str, str]]) -> bytes:
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
            for field, description in violations
        ]
    )
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(bad_request)
    return status.SerializeToString()


async def abort_with_problem(context: grpc.aio.ServicerContext, problem: Problem) -> None:
    """Ends the call with the status code matching ``problem``; field errors travel as
    google.rpc.BadRequest in the status details. Never returns."""
    code = status_code_for(problem)
    if problem.status >= 500 and code is grpc.StatusCode.INTERNAL:
        await context.abort(code, "an unexpected error occurred; it has been logged")
    message = problem.detail or problem.title
    violations = [(str(e.get("field", "")), str(e.get("message", ""))) for e in problem.errors or ()]
    if violations:
        trailing = ((STATUS_DETAILS_METADATA_KEY, _status_details(code, message, violations)),)
        await context.abort(code, message, trailing_metadata=trailing)
    await context.abort(code, message)


def field_violations(error: grpc.aio.AioRpcError) -> list[dict[str, str]]:
    """The ``[{field, message}]`` a server put in an error's status details (empty if none),
    the same shape as the ``errors`` of an HTTP validation problem."""
    for key, value in error.trailing_metadata() or ():
        if key != STATUS_DETAILS_METADATA_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        violations = []
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                violations.extend({"field": v.field, "message": v.description} for v in bad_request.field_violations)
        return violations
    return []


# --- the server side -----------------------------------------------------------------------


def _token_of(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == PRINCIPAL_METADATA_KEY:
            return value if isinstance(value, str) else value.decode()
    return None


class _CallGuard:
    """Wraps one RPC behaviour: verifies the caller, exposes it as current_principal(), and
    turns Problems and unexpected exceptions into status codes."""

    def __init__(self, method: str, secret: str, authenticate: bool) -> None:
        self.method = method
        self.secret = secret
        self.authenticate = authenticate

    async def _enter(self, context) -> Any:
        if not self.authenticate:
            return None
        token = _token_of(context)
        if not token:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"missing caller identity: send the internal token in metadata {PRINCIPAL_METADATA_KEY!r}",
            )
        try:
            principal = verify_internal_token(token, self.secret)
        except Problem as problem:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem.detail or "invalid caller identity token")
        return _current_principal.set(principal)

    async def _fail(self, context, exc: Exception) -> None:
        if isinstance(exc, DomainError):
            await abort_with_problem(context, problem_of(exc))
        if isinstance(exc, Problem):
            await abort_with_problem(context, exc)
        code = context.code()
        if code is not None and code is not grpc.StatusCode.OK:
            # the servicer chose the status itself (e.g. the generated UNIMPLEMENTED stubs) and then raised
            await context.abort(code, context.details() or code.value[1])
        log.error("unhandled error in gRPC method %s", self.method, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, "an unexpected error occurred; it has been logged")

    def unary_response(self, behavior):
        async def guarded(request, context):
            reset = await self._enter(context)
            try:
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._fail(context, exc)
            finally:
                if reset is not None:
                    _current_principal.reset(reset)

        return guarded

    def stream_response(self, behavior):
        async def guarded(request, context) -> AsyncIterator[Any]:
            reset = await self._enter(context)
            try:
                result = behavior(request, context)
                if hasattr(result, "__aiter__"):
                    async for response in result:
                        yield response
                elif inspect.isawaitable(result):  # a handler that writes with context.write()
                    await result
                elif result is not None:
                    for response in result:
                        yield response
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._fail(context, exc)
            finally:
                if reset is not None:
                    _current_principal.reset(reset)

        return guarded


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Every call except health and reflection must carry a valid internal token in the
    ``x-crm-principal`` metadata, or it ends UNAUTHENTICATED before reaching the servicer."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        service = method.lstrip("/").split("/", 1)[0]
        guard = _CallGuard(method, self.secret, authenticate=service not in UNAUTHENTICATED_SERVICES)
        if handler.unary_unary:
            return handler._replace(unary_unary=guard.unary_response(handler.unary_unary))
        if handler.stream_unary:
            return handler._replace(stream_unary=guard.unary_response(handler.stream_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=guard.stream_response(handler.unary_stream))
        return handler._replace(stream_stream=guard.stream_response(handler.stream_stream))


class _RecordingServer:
    """Hands the real server to ``register`` while noting the names of the services added."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.service_names: list[str] = []

    def add_generic_rpc_handlers(self, handlers) -> None:
        for handler in handlers:
            name = getattr(handler, "service_name", None)
            if callable(name) and name():
                self._note(name())
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name, method_handlers) -> None:
        self._note(service_name)
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def _note(self, name: str) -> None:
        if name not in self.service_names:
            self.service_names.append(name)

    def __getattr__(self, name):
        return getattr(self._server, name)


def _traced(handler_call_details) -> bool:
    """Health probes and reflection would drown the traces; every other call gets a span."""
    service = handler_call_details.method.lstrip("/").split("/", 1)[0]
    return service not in UNAUTHENTICATED_SERVICES


class GrpcServerWorker:
    """A service's gRPC server as a Worker (started and stopped with the app's lifespan).

    ``register(server)`` adds the service's servicers (with the generated
    ``add_*Servicer_to_server``); it receives a thin proxy of the grpc.aio server that notes
    the service names, and may also return extra names. The worker adds the health service
    (SERVING for "" and every registered service while running), reflection, OpenTelemetry
    server spans and the caller-authentication interceptor.
    """

    name = "grpc-server"

    def __init__(self, settings: ServiceSettings, register: Register, *, grace_s: float = 5.0) -> None:
        self.settings = settings
        self.register = register
        self.grace_s = grace_s
        self.server: grpc.aio.Server | None = None
        self.health: HealthServicer | None = None
        self.service_names: list[str] = []
        self.port: int | None = None  # the bound port (differs from settings when that is 0)
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def address(self) -> str:
        return f"{self.settings.grpc_host}:{self.port}"

    async def start(self) -> None:
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        server = grpc.aio.server(
            interceptors=[
                aio_server_interceptor(filter_=_traced),
                AuthInterceptor(self.settings.internal_token_secret),
            ],
            # without this a second process could bind the same port and silently take half the calls
            options=[("grpc.so_reuseport", 0)],
        )
        recording = _RecordingServer(server)
        returned = self.register(recording) or ()
        names = list(recording.service_names)
        names += [n for n in returned if n not in names]
        self.service_names = names

        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection([*names, HEALTH_SERVICE, reflection.SERVICE_NAME], server)

        requested = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        try:
            port = server.add_insecure_port(requested)
        except RuntimeError as exc:
            raise RuntimeError(f"gRPC server cannot listen on {requested}: {exc}") from exc
        if not port:
            raise RuntimeError(f"gRPC server cannot listen on {requested}")
        await server.start()
        self.server, self.port = server, port
        for service in ("", *names):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self._ready = True
        log.info(
            "gRPC server listening on %s:%s with %s", self.settings.grpc_host, port, ", ".join(names) or "no services"
        )

    async def stop(self) -> None:
        self._ready = False
        if self.server is None:
            return
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        await self.server.stop(self.grace_s)
        self.server = None


# --- the client side -----------------------------------------------------------------------


async def open_channel(target: str, *, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    """An insecure channel to ``target`` ("host:port") with OpenTelemetry client spans (the
    trace context travels in the call metadata). Created here, inside the running event loop:
    a grpc.aio channel made outside the loop that uses it hangs or fails (grpc #32480)."""
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    asyncio.get_running_loop()  # raises RuntimeError when called outside a running loop
    return grpc.aio.insecure_channel(target, options=list(options), interceptors=aio_client_interceptors())


def principal_metadata(principal: Principal, secret: str) -> tuple[tuple[str, str], ...]:
    """Call metadata identifying ``principal`` to the callee (a freshly signed internal token)."""
    return ((PRINCIPAL_METADATA_KEY, issue_internal_token(principal, secret)),)
