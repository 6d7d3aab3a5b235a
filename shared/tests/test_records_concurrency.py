"""The platform's record loading (crm_shared.records), optimistic concurrency
(crm_shared.concurrency) and idempotent creates (crm_shared.idempotency.create_once).

Unit tests for the header rules; integration tests on a real PostgreSQL table for visibility,
roles, the row lock of a write and the idempotent create."""

from __future__ import annotations

from datetime import datetime

import pytest
import pytest_asyncio
from fastapi import Response
from sqlalchemy import Integer, String, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_shared.auth import Principal, Role
from crm_shared.concurrency import (
    check_version,
    etag,
    flush_or_conflict,
    parse_if_match,
    required_version,
    version_headers,
)
from crm_shared.db import Database, PlatformBase, UTCDateTime, new_id, new_metadata, utcnow
from crm_shared.errors import Problem
from crm_shared.idempotency import REPLAYED_HEADER, create_once, find_replay
from crm_shared.records import get_visible, get_writable, mark_changed


class RecordsBase(DeclarativeBase):
    metadata = new_metadata()


class Ticket(RecordsBase):
    """A record placed in a branch, with a version the code counts."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Account(RecordsBase):
    """A record whose mapper counts its version in the UPDATE (version_id_col)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


ALMATY_AGENT = Principal("u-agent", "agent", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")
ALMATY_REGIONAL = Principal("u-regional", "regional", Role.REGIONAL_MANAGER, region="KZ-75", branch="ALA-02")
KARAGANDA_AGENT = Principal("u-kar", "kar.agent", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")
CALL_CENTER = Principal("u-cc", "callcenter", Role.CALL_CENTER_AGENT)
ANALYST = Principal("u-analyst", "analyst", Role.HQ_ANALYST)


# --- If-Match and versions (no infrastructure) ---------------------------------------------------


def test_if_match_accepts_strong_and_weak_etags_and_names_the_record_type_when_malformed():
    assert parse_if_match(None, "lead") is None
    assert parse_if_match(etag(7), "lead") == 7
    assert parse_if_match('W/"12"', "lead") == 12
    with pytest.raises(Problem) as malformed:
        parse_if_match("abc", "opportunity")
    assert malformed.value.status == 400
    assert "ETag of the opportunity" in malformed.value.detail
    assert malformed.value.errors == [{"field": "If-Match", "message": 'must be a version ETag such as "3"'}]


@pytest.mark.parametrize(
    "header",
    [
        '"\xb2"',  # latin-1 "²": a digit to str.isdigit, not to int()
        '"\u0663"',  # Arabic-Indic three: a decimal digit to str.isdecimal, not an ASCII one
        '"' + "9" * 19 + '"',  # beyond any stored version
        '"' + "1" * 5000 + '"',  # beyond what int() converts
        "қазақ".encode().decode("latin-1"),
    ],
    ids=["superscript", "arabic-digit", "huge", "enormous", "utf8-as-latin1"],
)
def test_an_if_match_of_any_other_characters_is_a_400_not_a_500(header):
    with pytest.raises(Problem) as malformed:
        parse_if_match(header, "ticket")
    assert malformed.value.status == 400 and malformed.value.errors[0]["field"] == "If-Match"


@pytest.mark.parametrize(
    "key", ["қазақ-1".encode().decode("latin-1"), "tab\there", "bell\x07"], ids=["utf8-as-latin1", "tab", "control"]
)
async def test_an_idempotency_key_that_is_not_printable_ascii_is_a_400_naming_it(key):
    with pytest.raises(Problem) as refused:
        await find_replay(None, Principal("u", "u", Role.ADMIN), key, {})  # refused before any database work
    assert refused.value.status == 400
    assert refused.value.errors == [{"field": "Idempotency-Key", "message": "not printable ASCII"}]


def test_an_update_needs_one_version_from_the_header_or_the_body():
    assert required_version('"3"', None, "lead") == 3
    assert required_version(None, 4, "lead") == 4
    assert required_version('"5"', 5, "lead") == 5
    with pytest.raises(Problem) as both:
        required_version('"5"', 6, "lead")
    assert both.value.status == 422 and both.value.errors[0]["field"] == "version"
    with pytest.raises(Problem) as neither:
        required_version(None, None, "activity")
    assert neither.value.status == 428 and neither.value.errors[0]["field"] == "If-Match"
    assert "the activity you read" in neither.value.detail


def test_a_stale_version_is_a_412_that_names_the_record_type_and_the_current_version():
    check_version("lead", 3, 3)
    check_version("lead", 3, None)  # unconditional
    with pytest.raises(Problem) as stale:
        check_version("lead", 4, 3)
    assert stale.value.status == 412
    assert stale.value.detail == "version 3 is stale: the lead is at version 4; read it again"
    assert stale.value.extensions == {"current_version": 4}
    assert version_headers(4) == {"ETag": '"4"'}
    assert version_headers(4, "/api/v1/x/1") == {"ETag": '"4"', "Location": "/api/v1/x/1"}


# --- records on PostgreSQL ------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def db(make_database):
    database = Database(await make_database("records"))
    async with database.engine.begin() as conn:
        await conn.run_sync(PlatformBase.metadata.create_all)
        await conn.run_sync(RecordsBase.metadata.create_all)
    yield database
    await database.dispose()


async def add_ticket(db: Database, branch_code: str, region_code: str) -> str:
    async with db.unit_of_work() as session:
        ticket = Ticket(title="no signal", region_code=region_code, branch_code=branch_code)
        session.add(ticket)
    return ticket.id


@pytest.mark.integration
async def test_a_record_outside_the_callers_scope_is_the_same_404_as_a_missing_one(db):
    almaty = await add_ticket(db, "ALA-01", "KZ-75")
    async with db.read_only() as session:
        assert (await get_visible(session, ALMATY_AGENT, Ticket, almaty, what="ticket")).id == almaty
        assert (await get_visible(session, ALMATY_REGIONAL, Ticket, almaty, what="ticket")).id == almaty
        assert (await get_visible(session, CALL_CENTER, Ticket, almaty, what="ticket")).id == almaty
        with pytest.raises(Problem) as hidden:
            await get_visible(session, KARAGANDA_AGENT, Ticket, almaty, what="ticket")
        with pytest.raises(Problem) as missing:
            await get_visible(session, KARAGANDA_AGENT, Ticket, new_id(), what="ticket", field="ticket_id")
    assert hidden.value.status == missing.value.status == 404
    assert hidden.value.detail == f"ticket {almaty} does not exist or is not visible to you"
    assert hidden.value.errors is None
    assert missing.value.errors == [{"field": "ticket_id", "message": "does not exist or is not visible to you"}]


@pytest.mark.integration
async def test_roles_that_never_write_get_a_403_before_anything_is_read(db):
    almaty = await add_ticket(db, "ALA-01", "KZ-75")
    async with db.read_only() as session:
        for principal in (CALL_CENTER, ANALYST):
            with pytest.raises(Problem) as refused:
                await get_writable(session, principal, Ticket, almaty, what="ticket")
            assert refused.value.status == 403
        with pytest.raises(Problem) as analyst_reads:
            await get_visible(session, ANALYST, Ticket, almaty, what="ticket")
        assert analyst_reads.value.status == 403  # aggregates only
        with pytest.raises(Problem) as other_branch:
            await get_writable(session, KARAGANDA_AGENT, Ticket, almaty, what="ticket")
        assert other_branch.value.status == 404


@pytest.mark.integration
async def test_a_writable_record_stays_locked_until_the_writing_transaction_ends(db):
    almaty = await add_ticket(db, "ALA-01", "KZ-75")
    async with db.unit_of_work() as writer:
        ticket = await get_writable(writer, ALMATY_AGENT, Ticket, almaty, what="ticket")
        async with db.read_only() as other:
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(select(Ticket).where(Ticket.id == almaty).with_for_update(nowait=True))
            await other.rollback()
        ticket.title = "signal restored"
        mark_changed(ticket)
    async with db.read_only() as other:
        unlocked = await other.scalar(select(Ticket).where(Ticket.id == almaty).with_for_update(nowait=True))
        assert (unlocked.title, unlocked.version) == ("signal restored", 2)


@pytest.mark.integration
async def test_mark_changed_leaves_a_mapper_counted_version_to_the_flush_whose_race_is_a_412(db):
    async with db.unit_of_work() as session:
        account = Account(name="Steppe Logistics", region_code="KZ-75", branch_code="ALA-01")
        session.add(account)
    async with db.read_only() as slow:
        stale = await slow.get(Account, account.id)
        async with db.unit_of_work() as fast:
            current = await fast.get(Account, account.id)
            current.name = "Steppe Logistics LLP"
            mark_changed(current)
        assert current.version == 2  # one step, counted by the mapper, not two
        stale.name = "Steppe Trade"
        mark_changed(stale)
        with pytest.raises(Problem) as raced:
            await flush_or_conflict(slow, "account")
        assert raced.value.status == 412 and "the account was changed by someone else" in raced.value.detail
        await slow.rollback()


@pytest.mark.integration
async def test_create_once_answers_a_retried_key_with_the_first_answer_and_creates_nothing_more(db):
    made: list[str] = []

    async def create_ticket(session) -> dict:
        ticket = Ticket(title="router down", region_code="KZ-75", branch_code="ALA-01")
        session.add(ticket)
        await session.flush()
        made.append(ticket.id)
        return {"id": ticket.id, "version": ticket.version}

    def headers(body: dict) -> dict[str, str]:
        return version_headers(body["version"], f"/tickets/{body['id']}")

    answers = []
    for _ in range(2):
        async with db.unit_of_work() as session:
            response = Response()
            answers.append(
                await create_once(
                    session,
                    ALMATY_AGENT,
                    "ticket-key-1",
                    {"title": "router down"},
                    response,
                    create=lambda: create_ticket(session),
                    headers=headers,
                    flush=lambda: flush_or_conflict(session, "ticket"),
                )
            )
    first, replay = answers
    assert len(made) == 1 and first == {"id": made[0], "version": 1}
    assert replay.status_code == 201 and replay.headers[REPLAYED_HEADER] == "true"
    assert replay.headers["Location"] == f"/tickets/{made[0]}" and replay.headers["ETag"] == '"1"'
    async with db.unit_of_work() as session:
        with pytest.raises(Problem) as reused:
            await create_once(
                session,
                ALMATY_AGENT,
                "ticket-key-1",
                {"title": "another"},
                Response(),
                create=lambda: create_ticket(session),
                headers=headers,
                flush=lambda: flush_or_conflict(session, "ticket"),
            )
    assert reused.value.status == 422 and len(made) == 1
