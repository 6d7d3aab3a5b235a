"""The catalogue: offerings in their current version, and each version kept as it was."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import utcnow

from .db.models import Offering, OfferingVersion
from .order_service import iso


def offering_state(offering: Offering) -> dict[str, Any]:
    return {
        "id": offering.id,
        "name": offering.name,
        "description": offering.description,
        "product_line": offering.product_line,
        "status": offering.status,
        "one_off_price_tiyn": offering.one_off_price_tiyn,
        "recurring_price_tiyn": offering.recurring_price_tiyn,
        "currency": offering.currency,
        "characteristics": dict(offering.characteristics or {}),
        "region_codes": list(offering.region_codes or []),
        "bundled_offering_ids": list(offering.bundled_offering_ids or []),
        "valid_from": iso(offering.valid_from),
        "valid_to": iso(offering.valid_to),
        "version": offering.version,
        "created_at": iso(offering.created_at),
        "updated_at": iso(offering.updated_at),
    }


def snapshot(session: AsyncSession, offering: Offering) -> None:
    """Keep this version of the offering as it is now (an order names the version it was priced at)."""
    session.add(
        OfferingVersion(
            offering_id=offering.id, version=offering.version, state=offering_state(offering), created_at=utcnow()
        )
    )
