"""Which partner brought which customer, in every service that shows records to partner users.

The partners service announces each approved deal (crm.partners.deal.approved: customer_id and
partner_id). A service keeps them in its own ``partner_customers`` table (the mixin below, the
migration step in ``partner_customers_schema``) through a consumer calling
``record_partner_customer``; ``crm_shared.auth.visibility_clause`` then shows a partner user
(role partner) the records of exactly those customers: a model with a ``partner_id`` column by
that column, a model with a ``customer_id`` column (or the column its
``__partner_customer_column__`` names) by the customers its partner brought. Everything else is
hidden, hence a 404.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, false, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime
from .envelope import CloudEvent

PARTNER_DEAL_TOPIC = "crm.partners.deal.v1"
DEAL_APPROVED = "crm.partners.deal.approved"
TABLE = "partner_customers"


class PartnerCustomerColumns:
    """Mixin of a service's ``partner_customers`` table: a customer and the partner that brought it."""

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    deal_id: Mapped[str] = mapped_column(String(36))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def record_partner_customer(session: AsyncSession, model, event: CloudEvent) -> None:
    """Applies a crm.partners.deal.v1 event: an approved deal's customer belongs to its partner
    (the latest approval wins; other deal events change nothing)."""
    if event.type != DEAL_APPROVED or not event.data.get("customer_id"):
        return
    customer_id, partner_id = str(event.data["customer_id"]), str(event.data["partner_id"])
    row = await session.scalar(select(model).where(model.customer_id == customer_id).with_for_update())
    if row is None:
        session.add(
            model(customer_id=customer_id, partner_id=partner_id, deal_id=event.data["id"], approved_at=event.time)
        )
    else:
        row.partner_id, row.deal_id, row.approved_at = partner_id, event.data["id"], event.time


def partner_clause(partner_id: str | None, model):
    """The WHERE clause of a partner user's visibility on ``model`` (see the module's docstring)."""
    if not partner_id:
        return false()
    if hasattr(model, "partner_id"):
        return model.partner_id == partner_id
    table = model.metadata.tables.get(TABLE)
    column = getattr(model, getattr(model, "__partner_customer_column__", "customer_id"), None)
    if table is None or column is None:
        return false()
    return column.in_(select(table.c.customer_id).where(table.c.partner_id == partner_id))
