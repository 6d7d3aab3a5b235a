"""crm_shared.customer_identity on an embedded SQLite database: merges recorded in any order end
at the final survivor, a record's home follows them, an erasure covers the customers merged into
the person, and the notices read sales' events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import DeclarativeBase

from crm_shared.customer_identity import (
    CustomerAliasColumns,
    CustomerIdentities,
    ErasedCustomerColumns,
    ErasureNotice,
    MergeNotice,
    erasure_notice,
    merge_notice,
    refuse_unless_in_use,
)
from crm_shared.db import Database, new_metadata
from crm_shared.envelope import CloudEvent
from crm_shared.errors import Problem


class Base(DeclarativeBase):
    metadata = new_metadata()


class Alias(CustomerAliasColumns, Base):
    __tablename__ = "customer_aliases"


class Erased(ErasedCustomerColumns, Base):
    __tablename__ = "erased_customers"


IDS = CustomerIdentities(Alias, Erased)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


def merge(survivor: str, duplicate: str) -> MergeNotice:
    return MergeNotice(duplicate_id=duplicate, survivor_id=survivor, merged_at=NOW, survivor_name=None)


async def test_merges_in_any_order_point_every_duplicate_at_the_final_survivor(db):
    async with db.unit_of_work() as session:
        later = await IDS.record_merge(session, merge("final", "middle"))
        earlier = await IDS.record_merge(session, merge("middle", "first"))
    assert (later.survivor_id, later.moved_ids, later.new) == ("final", ("middle",), True)
    assert (earlier.survivor_id, earlier.moved_ids) == ("final", ("first",))
    async with db.unit_of_work() as session:
        homes = [await IDS.home(session, c) for c in ("first", "middle", "final", "stranger")]
        # the other order: first -> middle, then middle -> final re-points first
        await IDS.record_merge(session, merge("b", "a"))
        moved = await IDS.record_merge(session, merge("c", "b"))
        replayed = await IDS.record_merge(session, merge("b", "a"))
        a_home = await IDS.home(session, "a")
    assert [(h.customer_id, h.moved) for h in homes] == [
        ("final", True),
        ("final", True),
        ("final", False),
        ("stranger", False),
    ]
    assert (moved.survivor_id, moved.moved_ids) == ("c", ("b", "a"))
    assert (replayed.survivor_id, replayed.new) == ("c", False)
    assert a_home.customer_id == "c"


async def test_an_erasure_covers_the_customers_merged_into_the_person(db):
    async with db.unit_of_work() as session:
        await IDS.record_merge(session, merge("person", "old-record"))
        notice = ErasureNotice(erasure_id="e1", customer_id="person", customer_ids=("person",), requested_at=NOW)
        erased = await IDS.record_erasure(session, notice)
        again = await IDS.record_erasure(session, notice)
        late = await IDS.record_merge(session, merge("person", "late-duplicate"))
        home = await IDS.home(session, "old-record")
    assert set(erased) == set(again) == {"person", "old-record"}
    assert late.survivor_erased and home.erased and home.customer_id == "person"


def test_the_notices_read_sales_events():
    survivor, duplicate = str(uuid.uuid4()), str(uuid.uuid4())
    merged = CloudEvent(
        id="1",
        source="/crm/sales",
        type="crm.sales.customer.merged",
        subject=survivor,
        data={"id": survivor, "duplicate_id": duplicate, "display_name": "Seitkali Aigerim"},
        time=NOW,
    )
    notice = merge_notice(merged)
    assert (notice.survivor_id, notice.duplicate_id, notice.merged_at) == (survivor, duplicate, NOW)
    assert notice.survivor_name == "Seitkali Aigerim"
    erased = CloudEvent(
        id="2",
        source="/crm/sales",
        type="crm.sales.customer.erased",
        subject=survivor,
        data={"customer_id": survivor, "erasure_id": "e", "customer_ids": [survivor, duplicate], "requested_at": None},
        time=NOW,
    )
    assert erasure_notice(erased).customer_ids == (survivor, duplicate)
    assert merge_notice(erased) is None and erasure_notice(merged) is None


def test_a_new_record_for_a_merged_customer_is_refused_naming_the_survivor():
    class Ref:
        id, status, merged_into_id = "dup", "merged", "surv"

    with pytest.raises(Problem) as refused:
        refuse_unless_in_use(Ref(), "relatedParty.id")
    assert refused.value.status == 409 and refused.value.extensions["merged_into_id"] == "surv"
    assert refused.value.errors == [{"field": "relatedParty.id", "message": "merged into surv"}]
