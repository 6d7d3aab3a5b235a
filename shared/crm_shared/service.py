"""One declaration of a service, and the standard parts wired from it.

A service's ``main.py`` declares what it serves (routers), what it consumes (ConsumerSpec), its
gRPC servicers, the clients of other services it needs and its own background jobs;
``create_app`` wires the rest the same way in every service: problem details, metrics, tracing,
request ids, health and readiness, the outbox relay, the idempotent consumers (every incoming
event checked against its contract first) and the gRPC server (health and reflection).
Kafka and gRPC code is imported only when switched on, so a process or a test without a broker
never loads it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from .app import ServiceRuntime, Worker, create_service_app
from .db import utcnow
from .envelope import CloudEvent
from .settings import ServiceSettings

log = logging.getLogger("crm.consumer")

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[CloudEvent]], Awaitable[None]]
ClientFactory = Callable[[ServiceSettings], Worker]
BackgroundFactory = Callable[[ServiceRuntime], Worker | None]


@dataclass(frozen=True)
class ConsumerSpec:
    """One idempotent consumer: its name (the inbox key and consumer group), its topics and the
    handler applied to each event inside the inbox transaction."""

    name: str
    topics: Sequence[str]
    handler: Handler
    # Optional: the same effect for many events at once (crm_shared.consumer, "batch_handler").
    batch_handler: BatchHandler | None = None

    def contract_checked(self) -> Handler:
        """The handler behind a check of each event against its contract schema. Retrying cannot
        repair a payload that breaks its contract: such an event is logged and recorded as handled
        (the inbox row commits), never applied. Types outside the catalogue reach the handler,
        which ignores the ones it does not know."""
        keeps = self._contract_keeper()

        async def checked(session: AsyncSession, event: CloudEvent) -> None:
            if keeps(event):
                await self.handler(session, event)

        return checked

    def contract_checked_batch(self) -> BatchHandler | None:
        """The batch handler behind the same check, given the events that keep their contract."""
        if self.batch_handler is None:
            return None
        keeps, handler = self._contract_keeper(), self.batch_handler

        async def checked(session: AsyncSession, events: list[CloudEvent]) -> None:
            kept = [event for event in events if keeps(event)]
            if kept:
                await handler(session, kept)

        return checked

    def _contract_keeper(self) -> Callable[[CloudEvent], bool]:
        from jsonschema import ValidationError

        from crm_contracts import events as contracts

        known = set(contracts.event_types())

        def keeps(event: CloudEvent) -> bool:
            if event.type not in known:
                return True
            try:
                contracts.validate(event.type, event.data)
            except ValidationError as error:
                log.error(
                    "%s: %s %s breaks its schema, ignored: %s at %s",
                    self.name,
                    event.type,
                    event.id,
                    error.message,
                    "/".join(map(str, error.absolute_path)) or "(root)",
                )
                return False
            return True

        return keeps


@dataclass(frozen=True)
class ServiceDefinition:
    title: str
    description: str
    routers: Sequence[APIRouter]
    consumers: Sequence[ConsumerSpec] = ()
    grpc_servicers: Callable[[Any, ServiceRuntime], None] | None = None
    clients: Sequence[ClientFactory] = ()
    background: Sequence[BackgroundFactory] = field(default=())


def standard_workers(definition: ServiceDefinition) -> Callable[[ServiceRuntime], Iterator[Worker]]:
    """Started in this order (and stopped in reverse): clients of other services, the gRPC
    server, the outbox relay, the consumers, the service's own background jobs."""

    def make(runtime: ServiceRuntime) -> Iterator[Worker]:
        settings = runtime.settings
        yield from runtime.clients.values()
        if settings.grpc_enabled and definition.grpc_servicers is not None:
            from .grpc import GrpcServerWorker

            register = definition.grpc_servicers
            yield GrpcServerWorker(settings, lambda server: register(server, runtime))
        if settings.relay_enabled:
            from .relay import OutboxRelay

            yield OutboxRelay(runtime.db, settings)
        if settings.consumers_enabled:
            from .consumer import EventConsumer

            for spec in definition.consumers:
                yield EventConsumer(
                    spec.name,
                    runtime.db,
                    settings,
                    spec.topics,
                    spec.contract_checked(),
                    batch_handler=spec.contract_checked_batch(),
                )
        for factory in definition.background:
            worker = factory(runtime)
            if worker is not None:
                yield worker

    return make


def create_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    runtime: ServiceRuntime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    runtime = runtime or ServiceRuntime(settings)
    runtime.clock = clock
    for make_client in definition.clients:
        made = make_client(settings)
        runtime.clients[type(made)] = made
    return create_service_app(
        settings,
        title=definition.title,
        description=definition.description,
        routers=definition.routers,
        workers=standard_workers(definition),
        runtime=runtime,
    )
