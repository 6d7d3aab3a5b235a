"""Records by name in lists and cards: the display names of customers, for answers that carry a
customer id (an opportunity's card links its customer by name, not by the word "Client")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Customer
from ..db.pipeline_models import Opportunity
from ..domain.customers import display_name
from ..events.publishers import opportunity_state


async def customer_names(session: AsyncSession, customer_ids: Iterable[str | None]) -> dict[str, str]:
    """{id: display name} of the customers among ``customer_ids``."""
    ids = {i for i in customer_ids if i}
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Customer.id,
            Customer.kind,
            Customer.first_name,
            Customer.last_name,
            Customer.middle_name,
            Customer.legal_name,
        ).where(Customer.id.in_(ids))
    )
    return {
        cid: display_name(kind, first_name=first, last_name=last, middle_name=middle, legal_name=legal)
        for cid, kind, first, last, middle, legal in rows
    }


async def opportunity_view(session: AsyncSession, opportunity: Opportunity) -> dict[str, Any]:
    """The opportunity's state and its customer's name, as every answer about one carries it."""
    names = await customer_names(session, [opportunity.customer_id])
    return opportunity_state(opportunity) | {"customer_name": names.get(opportunity.customer_id)}
