"""Request dependencies every orders router uses: the verified caller and a unit of work."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.app import runtime_of
from crm_shared.auth import Principal, principal_dependency

from ..customers import SalesCustomers

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


def _sales_customers(request: Request) -> SalesCustomers:
    return request.app.state.sales_customers


# The gRPC client of crm.sales.v1.CustomerService (a worker of this app, crm_orders.main).
Customers = Annotated[SalesCustomers, Depends(_sales_customers)]
