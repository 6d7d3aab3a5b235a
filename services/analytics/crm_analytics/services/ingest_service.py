"""Ingest: a batch of events from any topics of the catalogue into the event store, in one insert.

The customer ids of the batch become pseudonymous keys in one transaction of the operational
database; each event becomes its allow-listed projection (domain/projection.py). Idempotence is
the store's: rows are keyed by the event's id, and every query counts records by key, so an event
delivered twice (a redelivery, a replay, a rebuild) is counted once."""

from __future__ import annotations

from crm_shared.db import Database

from ..db.store import EventStore
from ..domain.projection import Parsed, customer_of, project
from . import pseudonym_service


async def ingest(db: Database, store: EventStore, events: list[Parsed]) -> int:
    """Stores ``events``; returns how many rows were written."""
    if not events:
        return 0
    customers = {event.event_id: customer_of(event) for event in events}
    async with db.unit_of_work() as session:
        keys = await pseudonym_service.keys_for(session, (c for c in customers.values() if c))
    rows = [project(event, keys.get(customers[event.event_id] or "", "")) for event in events]
    await store.insert(rows)
    return len(rows)
