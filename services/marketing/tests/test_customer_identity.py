"""Erasure: the projection's name, phone and e-mail and the deliveries' addresses go, the customer
leaves every segment, and the confirmation is written to crm.marketing.erasure.v1 (ids and counts
only), once however often the event arrives."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from crm_marketing.db.models import CustomerProfile
from crm_marketing.events.consumers import apply_customer_event
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.models import OutboxEvent

from .helpers import announce, customer_state

pytestmark = pytest.mark.integration


async def test_an_erasure_anonymises_the_projection_and_confirms(database_url):
    db = Database(database_url)
    try:
        person = customer_state()
        await announce(db, person)
        erasure_id = str(uuid.uuid4())
        erased = CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/sales",
            type="crm.sales.customer.erased",
            subject=person["id"],
            data={
                "erasure_id": erasure_id,
                "customer_id": person["id"],
                "customer_ids": [],
                "requested_at": "2026-12-01T10:00:00+00:00",
            },
        )
        for _ in range(2):
            async with db.unit_of_work() as session:
                await apply_customer_event(session, erased)
        # a late, older state of the customer brings nothing back
        await announce(db, person | {"version": 0}, action="updated")
        async with db.reads() as session:
            profile = await session.get(CustomerProfile, person["id"])
            confirmations = list(
                await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "crm.marketing.erasure.confirmed"))
            )
    finally:
        await db.dispose()
    assert profile.phone is None and profile.email is None and not profile.marketing_consent
    assert profile.display_name != person["display_name"]
    assert confirmations and all(person["primary_phone"] not in str(c.data) for c in confirmations)
