"""Request dependencies every service's routers use: the verified caller, a unit of work, a
read-only session, the service clock and the clients of other services.

``Session`` commits when the endpoint returns, before the response is sent (scope="function"), so
a client never sees a success for a transaction that then fails to commit, and its next request
always reads what it just wrote. A refusal (``Problem``) rolls it back; the audit entries the
refusal keeps (``Problem.kept_records``) are written afterwards in a transaction of their own.
``ReadSession`` is for GET endpoints that only read: no transaction to begin and commit
(Database.reads)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .app import runtime_of
from .auth import Principal, principal_dependency
from .clients.sales import SalesCustomers
from .db import Database
from .errors import Problem
from .settings import ServiceSettings

T = TypeVar("T")
log = logging.getLogger("crm.api")

CurrentPrincipal = Annotated[
    Principal, principal_dependency(lambda request: request.app.state.settings.internal_token_secret)
]


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    db = runtime_of(request).db
    try:
        async with db.unit_of_work() as session:
            yield session
    except Problem as refusal:
        if refusal.kept_records:
            await keep_records(db, refusal)
        raise


async def keep_records(db: Database, refusal: Problem) -> None:
    """Writes the audit entries a refusal keeps (``Problem.kept_records``), in a transaction of
    their own, after the request's was rolled back. A failure here is logged, never answered
    instead of the refusal."""
    try:
        async with db.unit_of_work() as session:
            session.add_all(refusal.kept_records)
    except Exception:
        log.exception("could not keep the audit entries of a refused request")


async def _reads(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.reads() as session:
        yield session


def _now(request: Request) -> datetime:
    return runtime_of(request).clock()


def _settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def _database(request: Request) -> Database:
    return runtime_of(request).db


Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_reads)]
Now = Annotated[datetime, Depends(_now)]
Settings = Annotated[ServiceSettings, Depends(_settings)]
# The service's database, for a use case that runs transactions of its own (e.g. a read that
# must leave an audit entry behind).
ServiceDatabase = Annotated[Database, Depends(_database)]


def client(kind: type[T]) -> Callable[[Request], T]:
    """A dependency giving the running service's client of another service, e.g.
    ``Annotated[SalesCustomers, Depends(client(SalesCustomers))]``."""

    def lookup(request: Request) -> Any:
        return runtime_of(request).clients[kind]

    return lookup


# The sales CustomerService client of a service that declares it (ServiceDefinition.clients).
SalesCustomersClient = Annotated[SalesCustomers, Depends(client(SalesCustomers))]
