"""Request dependencies every tickets router uses: the verified caller, a unit of work, the
service clock (injectable, so tests control SLA time) and the customer directory."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.app import runtime_of
from crm_shared.auth import Principal, principal_dependency

from ..customers import CustomerDirectory

CurrentPrincipal = Annotated[
    Principal, principal_dependency(lambda request: request.app.state.settings.internal_token_secret)
]


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.unit_of_work() as session:
        yield session


# scope="function": the unit of work commits before the response is sent (see crm_sales.api.deps).
Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


def _now(request: Request) -> datetime:
    return request.app.state.clock()


def _directory(request: Request) -> CustomerDirectory:
    return request.app.state.customers


Now = Annotated[datetime, Depends(_now)]
Customers = Annotated[CustomerDirectory, Depends(_directory)]


def settings_of(request: Request):
    return request.app.state.settings
