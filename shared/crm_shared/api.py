"""Request dependencies every service's routers use: the verified caller, a unit of work, a
read-only session, the service clock and the clients of other services.

``Session`` commits when the endpoint returns, before the response is sent (scope="function"), so
a client never sees a success for a transaction that then fails to commit, and its next request
always reads what it just wrote. ``ReadSession`` is for GET endpoints that only read: no
transaction to begin and commit (Database.reads)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .app import runtime_of
from .auth import Principal, principal_dependency
from .clients.sales import SalesCustomers
from .settings import ServiceSettings

T = TypeVar("T")

CurrentPrincipal = Annotated[
    Principal, principal_dependency(lambda request: request.app.state.settings.internal_token_secret)
]


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.unit_of_work() as session:
        yield session


async def _reads(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.reads() as session:
        yield session


def _now(request: Request) -> datetime:
    return runtime_of(request).clock()


def _settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_reads)]
Now = Annotated[datetime, Depends(_now)]
Settings = Annotated[ServiceSettings, Depends(_settings)]


def client(kind: type[T]) -> Callable[[Request], T]:
    """A dependency giving the running service's client of another service, e.g.
    ``Annotated[SalesCustomers, Depends(client(SalesCustomers))]``."""

    def lookup(request: Request) -> Any:
        return runtime_of(request).clients[kind]

    return lookup


# The sales CustomerService client of a service that declares it (ServiceDefinition.clients).
SalesCustomersClient = Annotated[SalesCustomers, Depends(client(SalesCustomers))]
