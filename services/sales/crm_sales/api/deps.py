"""Request dependencies every sales router uses: the verified caller, a unit of work, and a
session for requests that only read."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.app import runtime_of
from crm_shared.auth import Principal, principal_dependency

CurrentPrincipal = Annotated[
    Principal, principal_dependency(lambda request: request.app.state.settings.internal_token_secret)
]


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.unit_of_work() as session:
        yield session


# scope="function": the unit of work commits when the endpoint returns, before the response is
# sent, so a client never sees a success for a transaction that then fails to commit, and its
# next request always reads what it just wrote.
Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


async def _reads(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.reads() as session:
        yield session


# For GET endpoints that only read: no transaction to begin and commit (Database.reads).
ReadSession = Annotated[AsyncSession, Depends(_reads)]
