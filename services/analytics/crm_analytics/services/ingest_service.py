"""Ingest: a batch of events from any topics of the catalogue into the event store, in one insert.

The customer ids of the batch become pseudonymous keys in one transaction of the operational
database; each event becomes its allow-listed projection (domain/projection.py). Idempotence is
the store's: rows are keyed by the event's id, and every query counts records by key, so an event
delivered twice (a redelivery, a replay, a rebuild) is counted once.

A merge (crm.sales.customer.merged) re-keys: the duplicate's pseudonym names its survivor, so its
later events carry the survivor's key, and its rows already stored get the survivor's key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_shared.db import Database

from ..db.store import RECORDS, EventStore, literal
from ..domain.projection import (
    CUSTOMER_TOPIC,
    Parsed,
    customer_of,
    customer_record_key,
    merge_of,
    project,
    retired_customers,
    retired_row,
)
from . import pseudonym_service


@dataclass
class Prepared:
    """A batch made ready for the store: its rows, the events, and the keys a merge replaced."""

    events: list[Parsed]
    rows: list[dict[str, Any]]
    rekeyed: dict[str, str]


async def prepare(db: Database, events: list[Parsed]) -> Prepared:
    """The batch's merges recorded and its pseudonyms made (the operational database), each event
    projected: everything but the store, so that it can run while the batch before is stored."""
    customers = {event.event_id: customer_of(event) for event in events}
    rekeyed: list[tuple[str, str]] = []
    if events:
        async with db.unit_of_work() as session:
            # merges first: this batch's events of a duplicate already carry its survivor's key
            for duplicate, survivor in filter(None, map(merge_of, events)):
                if change := await pseudonym_service.merge(session, duplicate, survivor):
                    rekeyed.append(change)
            keys = await pseudonym_service.keys_for(session, (c for c in customers.values() if c))
    rows = [project(event, keys.get(customers[event.event_id] or "", "")) for event in events]
    return Prepared(events, rows, dict(rekeyed))


async def store_batch(store: EventStore, batch: Prepared) -> int:
    """Writes a prepared batch (after the batch before it); returns how many rows were written."""
    await store.insert(batch.rows)
    await _retire_customers(store, batch.events)
    if batch.rekeyed:  # the duplicate's earlier facts move to the survivor's key
        await store.rekey(batch.rekeyed)
    return len(batch.rows)


async def ingest(db: Database, store: EventStore, events: list[Parsed]) -> int:
    """Stores ``events``; returns how many rows were written."""
    return await store_batch(store, await prepare(db, events))


async def _retire_customers(store: EventStore, events: list[Parsed]) -> None:
    """Erasures and merges carry no customer state: the customer's latest row is written again in
    its final state (erased, merged), so that it stops counting as active, as it does in sales."""
    retired = {}
    for event in events:
        for customer_id, state in retired_customers(event).items():
            retired[customer_record_key(customer_id)] = (state, event)
    if not retired:
        return
    keys = ", ".join(literal(key) for key in retired)
    columns, found = await store.query(
        f"SELECT * FROM {store.table(RECORDS)} FINAL WHERE topic = {literal(CUSTOMER_TOPIC)} "
        f"AND record_key IN ({keys}) SETTINGS do_not_merge_across_partitions_select_final = 1"
    )
    rows = []
    for values in found:
        latest = dict(zip(columns, values, strict=True))
        state, event = retired[latest["record_key"]]
        if latest["state"] != state:
            rows.append(retired_row(latest, state, event))
    await store.insert(rows)
