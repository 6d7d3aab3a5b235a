"""Which partner brought which customer, in every service that shows records to partner users.

The partners service announces each approved deal (crm.partners.deal.approved: customer_id and
partner_id). A service keeps them in its own ``partner_customers`` table (the mixin below, the
migration step in ``partner_customers_schema``) through a consumer calling
``record_partner_customer``; ``crm_shared.auth.visibility_clause`` then shows a partner user
(role partner) the records of exactly those customers: a model with a ``partner_id`` column by
that column, a model with a ``customer_id`` column (or the column its
``__partner_customer_column__`` names) by the customers its partner brought. Everything else is
hidden, hence a 404.

When sales merges two customers, the duplicate's row moves to the survivor
(``move_partner_customers``: in sales' merge itself, and in each service's customer-identity
consumer), and an approval that arrives for a customer merged away lands on its survivor (the
``home`` a service passes to ``crm_shared.partner_customers_consumer``). The rows hold ids only: an erasure
leaves them (the anonymised records stay the partner's).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime

from sqlalchemy import String, delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime
from .envelope import CloudEvent

# Where a record for a customer belongs now (the survivor when it was merged away), locking it
# against a merge applied at the same moment.
Home = Callable[[AsyncSession, str], Awaitable[str]]

PARTNER_DEAL_TOPIC = "crm.partners.deal.v1"
DEAL_APPROVED = "crm.partners.deal.approved"
TABLE = "partner_customers"


class PartnerCustomerColumns:
    """Mixin of a service's ``partner_customers`` table: a customer and the partner that brought it."""

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    deal_id: Mapped[str] = mapped_column(String(36))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def record_partner_customer(session: AsyncSession, model, event: CloudEvent, home: Home | None = None) -> None:
    """Applies a crm.partners.deal.v1 event: an approved deal's customer (its survivor, by
    ``home``, when sales merged it away) belongs to its partner (the latest approval wins; other
    deal events change nothing)."""
    if event.type != DEAL_APPROVED or not event.data.get("customer_id"):
        return
    customer_id, partner_id = str(event.data["customer_id"]), str(event.data["partner_id"])
    if home is not None:
        customer_id = await home(session, customer_id)
    row = await session.scalar(select(model).where(model.customer_id == customer_id).with_for_update())
    if row is None:
        session.add(
            model(customer_id=customer_id, partner_id=partner_id, deal_id=event.data["id"], approved_at=event.time)
        )
    else:
        row.partner_id, row.deal_id, row.approved_at = partner_id, event.data["id"], event.time


async def move_partner_customers(session: AsyncSession, model, moved_ids: Collection[str], survivor_id: str) -> int:
    """A merge: the rows of the customers merged away (``moved_ids``) become the survivor's, the
    latest approval among them and the survivor's own winning (as ``record_partner_customer``
    does). Idempotent: a second time there is nothing left to move. Returns how many rows moved."""
    moved = [customer_id for customer_id in moved_ids if customer_id != survivor_id]
    if not moved:
        return 0
    rows = list(
        await session.scalars(
            select(model)
            .where(model.customer_id.in_([*moved, survivor_id]))
            .order_by(model.customer_id)
            .with_for_update()
        )
    )
    duplicates = [row for row in rows if row.customer_id != survivor_id]
    if not duplicates:
        return 0
    survivor = next((row for row in rows if row.customer_id == survivor_id), None)
    latest = max(rows, key=lambda row: (row.approved_at, row.deal_id))
    await session.execute(delete(model).where(model.customer_id.in_(moved)))
    if survivor is None:
        session.add(
            model(
                customer_id=survivor_id,
                partner_id=latest.partner_id,
                deal_id=latest.deal_id,
                approved_at=latest.approved_at,
            )
        )
    elif latest is not survivor:
        survivor.partner_id, survivor.deal_id, survivor.approved_at = (
            latest.partner_id,
            latest.deal_id,
            latest.approved_at,
        )
    await session.flush()
    return len(duplicates)


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
