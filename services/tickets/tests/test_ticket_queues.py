"""The work-queue reads on PostgreSQL: a queue's open tickets and GET /tickets?sort=urgency paged
with keyset cursors in SLA-deadline order (ties and tickets without a deadline included), their
filters (priority, category, status, assignee, unassigned), "assigned to me" across queues,
clear 4xx for bad values, who sees what, and the indexes that keep each page one index range."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select, text, update

from crm_shared.auth import Principal, Role
from crm_shared.db import Database
from crm_shared.pagination import encode_cursor
from crm_shared.testing import PRINCIPALS, auth_headers
from crm_tickets.db.models import OPEN_TICKET, Ticket
from crm_tickets.domain.workflow import OPEN_STATUSES

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
QUEUE = f"{T}/queues/ALA-01.technical/tickets"
KARAGANDA = Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")
OPEN = [s.value for s in OPEN_STATUSES]
AGENT, MANAGER = PRINCIPALS["branch_agent"].subject, PRINCIPALS["branch_manager"].subject


def as_(role: str) -> dict[str, str]:
    return auth_headers(KARAGANDA if role == "karaganda_agent" else PRINCIPALS[role])


@dataclass(frozen=True)
class Row:
    id: str
    queue: str
    branch_code: str
    status: str
    priority: str
    category: str
    assignee_id: str | None
    urgency_at: datetime | None
    created_at: datetime

    @property
    def open(self) -> bool:
        return self.status in OPEN


def most_urgent_first(rows: list[Row]) -> list[str]:
    return [
        r.id
        for r in sorted(rows, key=lambda r: (r.urgency_at is None, r.urgency_at or r.created_at, r.created_at, r.id))
    ]


def newest_first(rows: list[Row]) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


async def open_ticket(client, customer_id: str, **fields) -> dict:
    body = {
        "customer_id": customer_id,
        "name": "No internet",
        "description": "Router shows red light",
        "category": "internet",
        "priority": "medium",
    } | fields
    response = await client.post(f"{T}/tickets", json=body, headers=as_("call_center_agent"))
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, ticket_id: str, *statuses: str) -> None:
    for status in statuses:
        response = await client.post(
            f"{T}/tickets/{ticket_id}/transitions",
            headers=as_("branch_agent"),
            json={"status": status, "reason": "waiting for the customer"},
        )
        assert response.status_code == 200, response.text


async def assign(client, ticket_id: str, assignee_id: str) -> None:
    response = await client.post(
        f"{T}/tickets/{ticket_id}/assignment",
        headers=as_("admin"),
        json={"assignee_id": assignee_id, "assignee_name": assignee_id},
    )
    assert response.status_code == 200, response.text


async def every_page(client, path: str, params: dict, role: str = "branch_agent", limit: int = 7) -> list[list[str]]:
    """The ids of each page, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        response = await client.get(
            path, params=params | {"limit": limit} | ({"cursor": cursor} if cursor else {}), headers=as_(role)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([t["id"] for t in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 100, "the cursor does not move on"


def flat(pages: list[list[str]]) -> list[str]:
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)), "a ticket came twice"
    return ids


def page_sizes(count: int, limit: int) -> list[int]:
    return [limit] * (count // limit) + ([count % limit] if count % limit or not count else [])


@pytest.fixture(scope="module")
async def db(tickets_database):
    database = Database(tickets_database)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def rows(client, make_customer, db, clock) -> list[Row]:
    """30 tickets in ALA-01's technical queue (three at a time opened at the same moment with the
    same priority: the same deadline and time, told apart by id), in every open status and some
    finished, assigned to the agent, the manager or nobody; three of them without a deadline; a
    few in ALA-01's billing queue and in Karaganda."""
    almaty = [await make_customer() for _ in range(3)]
    karaganda = await make_customer("admin", branch_code="KAR-01")
    technical = ("internet", "tv", "mobile", "fixed_line", "equipment")
    priorities = ("low", "critical", "medium", "high")
    for n in range(30):
        if n % 3 == 0:
            clock.advance(minutes=11)
        ticket = await open_ticket(
            client, almaty[n % 3]["id"], category=technical[n % 5], priority=priorities[n // 3 % 4]
        )
        if n % 3 == 0:
            await assign(client, ticket["id"], AGENT)
        elif n % 6 == 1:
            await assign(client, ticket["id"], MANAGER)
        moves = {1: ("acknowledged",), 2: ("in_progress",), 3: ("acknowledged", "pending")}.get(n % 5, ())
        if n % 7 == 6:
            moves = ("resolved",)
        elif n % 11 == 10:
            moves = ("cancelled",)
        await move(client, ticket["id"], *moves)
    for n, category in enumerate(("billing", "billing")):
        ticket = await open_ticket(client, almaty[0]["id"], category=category, priority="high")
        if n == 0:
            await assign(client, ticket["id"], AGENT)
    for n in range(3):
        ticket = await open_ticket(client, karaganda["id"], category="internet", priority=priorities[n])
        await assign(client, ticket["id"], KARAGANDA.subject if n else AGENT)  # an id alike is no way in
    async with db.unit_of_work() as session:
        # tickets without a deadline (none the API opens today, say imported ones): last, by age
        undated = list(
            await session.scalars(
                select(Ticket.id)
                .where(Ticket.queue == "ALA-01.technical", Ticket.status.in_(["new", "in_progress"]))
                .order_by(Ticket.created_at.desc())
                .limit(3)
            )
        )
        await session.execute(update(Ticket).where(Ticket.id.in_(undated)).values(urgency_at=None))
    async with db.read_only() as session:
        found = [
            Row(
                t.id,
                t.queue,
                t.branch_code,
                t.status,
                t.priority,
                t.category,
                t.assignee_id,
                t.urgency_at,
                t.created_at,
            )
            for t in await session.scalars(select(Ticket))
        ]
    technical_open = [r for r in found if r.queue == "ALA-01.technical" and r.open]
    assert 15 <= len(technical_open) < 30 and {r.status for r in technical_open} == set(OPEN)
    assert sum(r.urgency_at is None for r in technical_open) == 3
    return found


def in_queue(rows: list[Row], queue: str = "ALA-01.technical") -> list[Row]:
    return [r for r in rows if r.queue == queue and r.open]


@pytest.mark.parametrize("limit", [7, 2])
async def test_paging_a_queue_gives_each_open_ticket_once_most_urgent_first(client, rows, limit):
    expected = most_urgent_first(in_queue(rows))
    pages = await every_page(client, QUEUE, {}, limit=limit)
    assert [len(page) for page in pages] == page_sizes(len(expected), limit)
    assert flat(pages) == expected
    # the same order, the same pages through GET /tickets?sort=urgency
    assert (
        await every_page(client, f"{T}/tickets", {"sort": "urgency", "queue": "ALA-01.technical"}, limit=limit) == pages
    )


async def test_the_ties_and_the_tickets_without_a_deadline_keep_their_place(client, rows):
    ordered = in_queue(rows)
    by_id = {r.id: r for r in ordered}
    ids = flat(await every_page(client, QUEUE, {}, limit=4))
    deadlines = [by_id[i].urgency_at for i in ids]
    assert all(d is None for d in deadlines[-3:]) and all(d is not None for d in deadlines[:-3])
    ties = [
        (by_id[a], by_id[b])
        for a, b in zip(ids, ids[1:])
        if (by_id[a].urgency_at, by_id[a].created_at) == (by_id[b].urgency_at, by_id[b].created_at)
    ]
    assert ties and all(a.id < b.id for a, b in ties)


@pytest.mark.parametrize(
    "params, wanted",
    [
        ({"priority": ["critical", "high"]}, lambda r: r.priority in ("critical", "high")),
        ({"priority": "low"}, lambda r: r.priority == "low"),
        ({"category": ["tv", "equipment"]}, lambda r: r.category in ("tv", "equipment")),
        ({"status": ["acknowledged", "pending"]}, lambda r: r.status in ("acknowledged", "pending")),
        ({"assignee_id": AGENT}, lambda r: r.assignee_id == AGENT),
        ({"unassigned": "true"}, lambda r: r.assignee_id is None),
        ({"unassigned": "false"}, lambda r: True),
        (
            {"priority": ["medium", "low"], "status": "new", "unassigned": "true"},
            lambda r: r.priority in ("medium", "low") and r.status == "new" and r.assignee_id is None,
        ),
    ],
)
async def test_the_queue_filters(client, rows, params, wanted):
    expected = most_urgent_first([r for r in in_queue(rows) if wanted(r)])
    assert expected
    assert flat(await every_page(client, QUEUE, params, limit=3)) == expected
    assert (
        flat(
            await every_page(client, f"{T}/tickets", params | {"sort": "urgency", "queue": "ALA-01.technical"}, limit=3)
        )
        == expected
    )


async def test_assigned_to_me_across_every_queue_most_urgent_first(client, rows):
    mine = [r for r in rows if r.assignee_id == AGENT and r.branch_code == "ALA-01"]
    assert {r.queue for r in mine if r.open} == {"ALA-01.technical", "ALA-01.billing"}
    assert any(not r.open for r in mine)
    params = {"assignee_id": AGENT, "status": OPEN, "sort": "urgency"}
    assert flat(await every_page(client, f"{T}/tickets", params, limit=3)) == most_urgent_first(
        [r for r in mine if r.open]
    )
    # newest first (the default) lists the finished ones too
    assert flat(await every_page(client, f"{T}/tickets", {"assignee_id": AGENT}, limit=4)) == newest_first(mine)
    everything = await every_page(client, f"{T}/tickets", {"sort": "urgency"}, limit=5)
    assert flat(everything) == most_urgent_first([r for r in rows if r.branch_code == "ALA-01" and r.open])


@pytest.mark.parametrize(
    "params, wanted",
    [
        ({"priority": ["critical", "low"]}, lambda r: r.priority in ("critical", "low")),
        ({"category": "billing"}, lambda r: r.category == "billing"),
        (
            {"status": ["resolved", "cancelled"], "category": ["internet", "tv", "mobile"]},
            lambda r: r.status in ("resolved", "cancelled") and r.category in ("internet", "tv", "mobile"),
        ),
        ({"unassigned": "true", "priority": "high"}, lambda r: r.assignee_id is None and r.priority == "high"),
    ],
)
async def test_the_newest_first_list_filters(client, rows, params, wanted):
    expected = newest_first([r for r in rows if r.branch_code == "ALA-01" and wanted(r)])
    assert expected
    assert flat(await every_page(client, f"{T}/tickets", params, limit=4)) == expected


@pytest.mark.parametrize(
    "path, params, status, field",
    [
        (QUEUE, {"priority": ["high", "urgent"]}, 422, "priority"),
        (QUEUE, {"category": "weather"}, 422, "category"),
        (QUEUE, {"status": ["new", "closed"]}, 422, "status"),
        (QUEUE, {"status": "sleeping"}, 422, "status"),
        (QUEUE, {"assignee_id": AGENT, "unassigned": "true"}, 422, "unassigned"),
        (QUEUE, {"unassigned": "maybe"}, 422, "unassigned"),
        (QUEUE, {"limit": 0}, 422, "limit"),
        (QUEUE, {"cursor": "not a cursor!"}, 400, "cursor"),
        (QUEUE, {"cursor": encode_cursor(["2026-03-02T05:00:00+00:00", "x"])}, 400, "cursor"),  # a newest-first cursor
        (
            QUEUE,
            {"cursor": encode_cursor(["2026-03-02T05:00:00", "2026-03-02T05:00:00", "x"])},
            400,
            "cursor",
        ),  # no zone
        (QUEUE, {"cursor": encode_cursor([None, None, "x"])}, 400, "cursor"),
        (QUEUE, {"cursor": encode_cursor(["yesterday", "2026-03-02T05:00:00+00:00", "x"])}, 400, "cursor"),
        (
            QUEUE,
            {"cursor": encode_cursor(["2026-03-02T05:00:00+00:00", "2026-03-02T05:00:00+00:00", 7])},
            400,
            "cursor",
        ),
        (QUEUE, {"cursor": base64.urlsafe_b64encode(b'{"a": 1}').decode()}, 400, "cursor"),
        (f"{T}/tickets", {"priority": "urgent"}, 422, "priority"),
        (f"{T}/tickets", {"category": ["tv", "radio"]}, 422, "category"),
        (f"{T}/tickets", {"status": "sleeping"}, 422, "status"),
        (f"{T}/tickets", {"status": "closed", "sort": "urgency"}, 422, "status"),
        (f"{T}/tickets", {"sort": "oldest"}, 422, "sort"),
        (f"{T}/tickets", {"assignee_id": AGENT, "unassigned": "true"}, 422, "unassigned"),
        (f"{T}/tickets", {"cursor": "%%%"}, 400, "cursor"),
        (
            f"{T}/tickets",
            {"sort": "urgency", "cursor": encode_cursor(["2026-03-02T05:00:00+00:00", "x"])},
            400,
            "cursor",
        ),
        (f"{T}/tickets", {"cursor": encode_cursor([None, "2026-03-02T05:00:00+00:00", "x"])}, 400, "cursor"),
    ],
)
async def test_bad_values_are_a_4xx_naming_the_field(client, rows, path, params, status, field):
    response = await client.get(path, params=params, headers=as_("branch_agent"))
    assert response.status_code == status, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field], response.json()


async def test_a_karaganda_agent_never_sees_almaty_tickets(client, rows):
    karaganda = [r for r in rows if r.branch_code == "KAR-01"]
    assert karaganda and all(r.open for r in karaganda)
    assert await every_page(client, QUEUE, {}, "karaganda_agent") == [[]]
    assert await every_page(client, QUEUE, {"assignee_id": AGENT}, "karaganda_agent") == [[]]
    assert flat(
        await every_page(client, f"{T}/tickets", {"sort": "urgency"}, "karaganda_agent", limit=2)
    ) == most_urgent_first(karaganda)
    assert flat(await every_page(client, f"{T}/tickets", {"assignee_id": AGENT}, "karaganda_agent")) == [
        r.id for r in karaganda if r.assignee_id == AGENT
    ]
    assert (
        flat(await every_page(client, f"{T}/tickets", {"sort": "urgency", "unassigned": "true"}, "karaganda_agent"))
        == []
    )
    assert flat(
        await every_page(client, f"{T}/queues/KAR-01.technical/tickets", {}, "karaganda_agent")
    ) == most_urgent_first(karaganda)
    # a cursor taken from an Almaty page opens nothing of Almaty either
    almaty_page = (await client.get(QUEUE, params={"limit": 2}, headers=as_("branch_agent"))).json()
    after = await client.get(QUEUE, params={"cursor": almaty_page["next_cursor"]}, headers=as_("karaganda_agent"))
    assert after.status_code == 200 and after.json() == {"items": [], "next_cursor": None}
    # and the other way round
    assert not {r.id for r in karaganda} & set(flat(await every_page(client, f"{T}/tickets", {"sort": "urgency"})))


async def test_the_migrations_build_the_work_queue_indexes(db):
    assert OPEN_TICKET.text == f"status IN ({', '.join(repr(s) for s in OPEN)})"  # the partial indexes' predicate
    async with db.read_only() as session:
        indexes = dict(
            (
                await session.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tickets'"))
            ).all()
        )
    for name, leading in (
        ("ix_tickets_open_queue_urgency", "queue"),
        ("ix_tickets_open_assignee_urgency", "assignee_id"),
        ("ix_tickets_open_branch_urgency", "branch_code"),
        ("ix_tickets_open_region_urgency", "region_code"),
    ):
        assert f"({leading}, urgency_at, created_at, id) WHERE" in indexes[name], indexes[name]
        assert all(f"'{s}'" in indexes[name] for s in OPEN)
    assert "(assignee_id, created_at, id)" in indexes["ix_tickets_assignee_created"]
    assert "ix_tickets_queue_urgency" not in indexes  # replaced by the open-queue index
