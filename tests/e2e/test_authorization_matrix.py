"""Who may do what to whose records, through the gateway, for every role: one table, every cell
asserted against the suite `crm up --seed` starts.

Records are made by the administrator at the start in three branches; for the Karaganda staff
(KAR-01 agent and manager, KZ-35 regional manager) they are their own branch (KAR-01), another
branch of their region (KAR-02, Temirtau) and another region (ALA-01, Almaty). Roles without a
place (admin, call centre, analyst, privacy officer, an external system's national API key) see
the same three.

A cell holds one mark per place, in that order:
  o  allowed: 200/201, and for list and search the record is among the answers
  -  hidden: 404 for read and update (a record the caller may not see is not confirmed to exist)
     and for a create naming a customer the caller may not see; absent from list and search
  F  forbidden: 403 (the role may never do this)
  x  refused as a request: 422 naming the field that places the record where the caller may not
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.identifiers import make_iin
from crm_shared.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLACES = ("KAR-01", "KAR-02", "ALA-01")
OPERATIONS = ("read", "list", "search", "update", "create")
SIGN_IN = {
    "admin": "admin",
    "branch_agent": "karaganda.agent",
    "branch_manager": "karaganda.manager",
    "regional_manager": "karaganda.regional",
    "call_center_agent": "callcenter",
    "hq_analyst": "analyst",
    "privacy_officer": "privacy.officer",
    # the partners service's roles: the channel manager works with partners, never with customer
    # records; the demo dealer's user sees only the customers its partner brought (none of these)
    "channel_manager": "channel.manager",
    "partner": "dealer.almaty",
}
# External systems (role system) are API keys an administrator makes: one national with read and
# write scopes, one that only reads, in one branch.
SYSTEM_KEYS = {
    "system": {"scopes": ["sales:read", "sales:write", "orders:read", "orders:write", "tickets:read", "tickets:write"]},
    "system_kar01_read": {"scopes": ["sales:read", "orders:read", "tickets:read"], "branch_code": "KAR-01"},
}

# Create names the place through the record it belongs to: a customer's branch_code (403 outside
# the caller's reach), a lead's owner_id (422), the customer of an opportunity, activity, order,
# ticket or TMF order or ticket (404: that customer is hidden). The call centre logs activities and
# works tickets everywhere and changes nothing else; the privacy officer reads everything and
# changes nothing; the channel manager sees no customer record; a partner's user sees only the
# customers its partner brought (none here), changes none and creates none but tickets (a ticket or
# an activity for a customer it cannot see is a 404; tests/e2e/test_partners_flow.py opens one for
# its own customer); an API key sees only the tickets it opened, logs no
# activities (sales asks for activities:write, a scope the registry does not list, so no key can
# have it), and a read-only key is refused every change at the gateway.
#
# resource    role               read list search update create
MATRIX = """
customer      admin              ooo  ooo  ooo  ooo  ooo
customer      branch_agent       o--  o--  o--  o--  oFF
customer      branch_manager     o--  o--  o--  o--  oFF
customer      regional_manager   oo-  oo-  oo-  oo-  ooF
customer      call_center_agent  ooo  ooo  ooo  FFF  FFF
customer      hq_analyst         FFF  FFF  FFF  FFF  FFF
customer      channel_manager    FFF  FFF  FFF  FFF  FFF
customer      partner            ---  ---  ---  FFF  FFF
customer      privacy_officer    ooo  ooo  ooo  FFF  FFF
customer      system             ooo  ooo  ooo  ooo  ooo
customer      system_kar01_read  o--  o--  o--  FFF  FFF
lead          admin              ooo  ooo  ooo  ooo  ooo
lead          branch_agent       o--  o--  o--  o--  oxx
lead          branch_manager     o--  o--  o--  o--  oxx
lead          regional_manager   oo-  oo-  oo-  oo-  oox
lead          call_center_agent  ooo  ooo  ooo  FFF  FFF
lead          hq_analyst         FFF  FFF  FFF  FFF  FFF
lead          channel_manager    FFF  FFF  FFF  FFF  FFF
lead          partner            ---  ---  ---  FFF  FFF
lead          privacy_officer    ooo  ooo  ooo  FFF  FFF
lead          system             ooo  ooo  ooo  ooo  ooo
lead          system_kar01_read  o--  o--  o--  FFF  FFF
opportunity   admin              ooo  ooo  ooo  ooo  ooo
opportunity   branch_agent       o--  o--  o--  o--  o--
opportunity   branch_manager     o--  o--  o--  o--  o--
opportunity   regional_manager   oo-  oo-  oo-  oo-  oo-
opportunity   call_center_agent  ooo  ooo  ooo  FFF  FFF
opportunity   hq_analyst         FFF  FFF  FFF  FFF  FFF
opportunity   channel_manager    FFF  FFF  FFF  FFF  FFF
opportunity   partner            ---  ---  ---  FFF  FFF
opportunity   privacy_officer    ooo  ooo  ooo  FFF  FFF
opportunity   system             ooo  ooo  ooo  ooo  ooo
opportunity   system_kar01_read  o--  o--  o--  FFF  FFF
activity      admin              ooo  ooo  ooo  ooo  ooo
activity      branch_agent       o--  o--  o--  o--  o--
activity      branch_manager     o--  o--  o--  o--  o--
activity      regional_manager   oo-  oo-  oo-  oo-  oo-
activity      call_center_agent  ooo  ooo  ooo  FFF  ooo
activity      hq_analyst         FFF  FFF  FFF  FFF  FFF
activity      channel_manager    FFF  FFF  FFF  FFF  FFF
activity      partner            ---  ---  ---  ---  ---
activity      privacy_officer    ooo  ooo  ooo  FFF  FFF
activity      system             ooo  ooo  ooo  FFF  FFF
activity      system_kar01_read  o--  o--  o--  FFF  FFF
order         admin              ooo  ooo  ooo  ooo  ooo
order         branch_agent       o--  o--  o--  o--  o--
order         branch_manager     o--  o--  o--  o--  o--
order         regional_manager   oo-  oo-  oo-  oo-  oo-
order         call_center_agent  ooo  ooo  ooo  FFF  FFF
order         hq_analyst         FFF  FFF  FFF  FFF  FFF
order         channel_manager    FFF  FFF  FFF  FFF  FFF
order         partner            ---  ---  ---  FFF  FFF
order         privacy_officer    ooo  ooo  ooo  FFF  FFF
order         system             ooo  ooo  ooo  ooo  ooo
order         system_kar01_read  o--  o--  o--  FFF  FFF
ticket        admin              ooo  ooo  ooo  ooo  ooo
ticket        branch_agent       o--  o--  o--  o--  o--
ticket        branch_manager     o--  o--  o--  o--  o--
ticket        regional_manager   oo-  oo-  oo-  oo-  oo-
ticket        call_center_agent  ooo  ooo  ooo  ooo  ooo
ticket        hq_analyst         FFF  FFF  FFF  FFF  FFF
ticket        channel_manager    FFF  FFF  FFF  FFF  FFF
ticket        partner            ---  ---  ---  FFF  ---
ticket        privacy_officer    ooo  ooo  ooo  FFF  FFF
ticket        system             ---  ---  ---  ---  ooo
ticket        system_kar01_read  ---  ---  ---  FFF  FFF
tmf622_order  admin              ooo  ooo  ooo  ooo  ooo
tmf622_order  branch_agent       o--  o--  o--  o--  o--
tmf622_order  branch_manager     o--  o--  o--  o--  o--
tmf622_order  regional_manager   oo-  oo-  oo-  oo-  oo-
tmf622_order  call_center_agent  ooo  ooo  ooo  FFF  FFF
tmf622_order  hq_analyst         FFF  FFF  FFF  FFF  FFF
tmf622_order  channel_manager    FFF  FFF  FFF  FFF  FFF
tmf622_order  partner            ---  ---  ---  FFF  FFF
tmf622_order  privacy_officer    ooo  ooo  ooo  FFF  FFF
tmf622_order  system             ooo  ooo  ooo  ooo  ooo
tmf622_order  system_kar01_read  o--  o--  o--  FFF  FFF
tmf621_ticket admin              ooo  ooo  ooo  ooo  ooo
tmf621_ticket branch_agent       o--  o--  o--  o--  o--
tmf621_ticket branch_manager     o--  o--  o--  o--  o--
tmf621_ticket regional_manager   oo-  oo-  oo-  oo-  oo-
tmf621_ticket call_center_agent  ooo  ooo  ooo  ooo  ooo
tmf621_ticket hq_analyst         FFF  FFF  FFF  FFF  FFF
tmf621_ticket channel_manager    FFF  FFF  FFF  FFF  FFF
tmf621_ticket partner            ---  ---  ---  FFF  FFF
tmf621_ticket privacy_officer    ooo  ooo  ooo  FFF  FFF
tmf621_ticket system             ---  ---  ---  ---  ooo
tmf621_ticket system_kar01_read  ---  ---  ---  FFF  FFF
"""


def parse_matrix(text: str) -> dict[tuple[str, str, str], str]:
    cells = {}
    for line in text.strip().splitlines():
        resource, role, *marks = line.split()
        assert len(marks) == len(OPERATIONS) and all(len(m) == len(PLACES) for m in marks), line
        for operation, mark in zip(OPERATIONS, marks, strict=True):
            cells[(resource, role, operation)] = mark
    return cells


EXPECTED = parse_matrix(MATRIX)


# --- the records -------------------------------------------------------------------------------

_serials = itertools.count(random.randrange(1000, 9000))


def fresh_phone() -> str:
    return f"+7701{random.randrange(0, 10_000_000):07d}"


def fresh_iin() -> str:
    while True:
        iin = make_iin(date(1980, random.randint(1, 12), random.randint(1, 28)), random.random() < 0.5, next(_serials))
        if iin:
            return iin


@dataclass
class World:
    """The records each resource keeps per place, and the owners placed there."""

    client: httpx.AsyncClient
    admin: dict[str, str]
    owners: dict[str, str]  # place -> a staff user id working there
    customers: dict[str, dict]  # place -> a customer made by the admin there

    async def ok(self, method: str, path: str, headers=None, **kwargs) -> dict:
        response = await self.client.request(method, path, headers=headers or self.admin, **kwargs)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def version(self, path: str) -> int:
        return (await self.ok("GET", path))["version"]


@dataclass
class Resource:
    name: str
    collection: str
    item: Callable[[dict], str]
    create: Callable[[World, dict[str, str], str], Awaitable[httpx.Response]]
    search: Callable[[dict], dict[str, str]]
    update: Callable[[World, dict[str, str], dict], Awaitable[httpx.Response]]
    items_key: str | None = "items"  # where a list answer holds its records (None: the answer is the list)
    paging: str = "cursor"  # or "offset"
    page_size: int = 200


def in_place(world: World, place: str) -> dict:
    return world.customers[place]


async def create_customer(world: World, headers, place: str) -> httpx.Response:
    body = {
        "kind": "individual",
        "iin": fresh_iin(),
        "first_name": "Matrix",
        "last_name": "Case" + "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=8)),
        "phone": fresh_phone(),
        "branch_code": place,
    }
    return await world.client.post("/api/v1/sales/customers", headers=headers, json=body)


async def update_customer(world: World, headers, record: dict) -> httpx.Response:
    path = f"/api/v1/sales/customers/{record['id']}"
    version = await world.version(path)
    return await world.client.patch(
        path, headers=headers | {"If-Match": f'"{version}"'}, json={"email": f"m{next(_serials)}@example.kz"}
    )


async def create_lead(world: World, headers, place: str) -> httpx.Response:
    body = {
        "source": "branch_walk_in",
        "name": f"Matrix lead {next(_serials)}",
        "interest": "internet",
        "phone": fresh_phone(),
        "owner_id": world.owners[place],
    }
    return await world.client.post("/api/v1/sales/leads", headers=headers, json=body)


async def update_lead(world: World, headers, record: dict) -> httpx.Response:
    path = f"/api/v1/sales/leads/{record['id']}"
    version = await world.version(path)
    return await world.client.patch(
        path, headers=headers | {"If-Match": f'"{version}"'}, json={"notes": f"n{next(_serials)}"}
    )


async def create_opportunity(world: World, headers, place: str) -> httpx.Response:
    body = {"customer_id": in_place(world, place)["id"], "name": f"Matrix deal {next(_serials)}"}
    return await world.client.post("/api/v1/sales/opportunities", headers=headers, json=body)


async def update_opportunity(world: World, headers, record: dict) -> httpx.Response:
    path = f"/api/v1/sales/opportunities/{record['id']}"
    version = await world.version(path)
    return await world.client.patch(
        path, headers=headers | {"If-Match": f'"{version}"'}, json={"name": f"Matrix deal {next(_serials)}"}
    )


async def create_activity(world: World, headers, place: str) -> httpx.Response:
    body = {
        "kind": "note",
        "related_type": "customer",
        "related_id": in_place(world, place)["id"],
        "subject": f"Matrix note {next(_serials)}",
    }
    return await world.client.post("/api/v1/sales/activities", headers=headers, json=body)


async def update_activity(world: World, headers, record: dict) -> httpx.Response:
    path = f"/api/v1/sales/activities/{record['id']}"
    version = await world.version(path)
    return await world.client.patch(
        path, headers=headers | {"If-Match": f'"{version}"'}, json={"subject": f"Matrix note {next(_serials)}"}
    )


async def create_order(world: World, headers, place: str) -> httpx.Response:
    body = {"customer_id": in_place(world, place)["id"], "items": [{"offering_id": "tv-base"}]}
    return await world.client.post("/api/v1/orders/orders", headers=headers, json=body)


async def update_order(world: World, headers, record: dict) -> httpx.Response:
    """Holds an acknowledged order, or releases a held one."""
    current = await world.ok("GET", f"/api/v1/orders/orders/{record['id']}")
    state = "held" if current["state"] == "acknowledged" else "acknowledged"
    return await world.client.patch(
        f"/api/v1/orders/orders/{record['id']}/state",
        headers=headers | {"If-Match": f'"{current["version"]}"'},
        json={"state": state, "reason": "matrix"},
    )


async def create_ticket(world: World, headers, place: str) -> httpx.Response:
    body = {
        "customer_id": in_place(world, place)["id"],
        "name": f"Matrix ticket {next(_serials)}",
        "description": "No link",
        "category": "internet",
    }
    return await world.client.post("/api/v1/tickets/tickets", headers=headers, json=body)


async def update_ticket(world: World, headers, record: dict) -> httpx.Response:
    path = f"/api/v1/tickets/tickets/{record['id']}"
    version = await world.version(path)
    return await world.client.patch(
        path, headers=headers | {"If-Match": f'"{version}"'}, json={"location": f"Entrance {next(_serials)}"}
    )


TMF_ORDER = "/tmf-api/productOrderingManagement/v4/productOrder"
TMF_TICKET = "/tmf-api/troubleTicket/v4/troubleTicket"


async def create_product_order(world: World, headers, place: str) -> httpx.Response:
    body = {
        "relatedParty": [{"id": in_place(world, place)["id"], "role": "customer"}],
        "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "tv-base"}}],
    }
    return await world.client.post(TMF_ORDER, headers=headers, json=body)


async def update_product_order(world: World, headers, record: dict) -> httpx.Response:
    current = await world.ok("GET", f"{TMF_ORDER}/{record['id']}")
    state = "held" if current["state"] == "acknowledged" else "acknowledged"
    return await world.client.patch(f"{TMF_ORDER}/{record['id']}", headers=headers, json={"state": state})


async def create_trouble_ticket(world: World, headers, place: str) -> httpx.Response:
    body = {
        "name": f"Matrix trouble {next(_serials)}",
        "description": "Slow line",
        "severity": "minor",
        "ticketType": "internet",
        "relatedParty": [{"id": in_place(world, place)["id"], "role": "customer"}],
    }
    return await world.client.post(TMF_TICKET, headers=headers, json=body)


async def update_trouble_ticket(world: World, headers, record: dict) -> httpx.Response:
    return await world.client.patch(
        f"{TMF_TICKET}/{record['id']}", headers=headers, json={"description": f"Slow line {next(_serials)}"}
    )


RESOURCES = (
    Resource(
        "customer",
        "/api/v1/sales/customers",
        lambda r: f"/api/v1/sales/customers/{r['id']}",
        create_customer,
        lambda r: {"phone": r["primary_phone"]},
        update_customer,
    ),
    Resource(
        "lead",
        "/api/v1/sales/leads",
        lambda r: f"/api/v1/sales/leads/{r['id']}",
        create_lead,
        lambda r: {"phone": r["phone"]},
        update_lead,
    ),
    Resource(
        "opportunity",
        "/api/v1/sales/opportunities",
        lambda r: f"/api/v1/sales/opportunities/{r['id']}",
        create_opportunity,
        lambda r: {"customer_id": r["customer_id"]},
        update_opportunity,
    ),
    Resource(
        "activity",
        "/api/v1/sales/activities",
        lambda r: f"/api/v1/sales/activities/{r['id']}",
        create_activity,
        lambda r: {"related_type": "customer", "related_id": r["related_id"]},
        update_activity,
    ),
    Resource(
        "order",
        "/api/v1/orders/orders",
        lambda r: f"/api/v1/orders/orders/{r['id']}",
        create_order,
        lambda r: {"customer_id": r["customer_id"]},
        update_order,
    ),
    Resource(
        "ticket",
        "/api/v1/tickets/tickets",
        lambda r: f"/api/v1/tickets/tickets/{r['id']}",
        create_ticket,
        lambda r: {"customer_id": r["customer_id"]},
        update_ticket,
    ),
    Resource(
        "tmf622_order",
        TMF_ORDER,
        lambda r: f"{TMF_ORDER}/{r['id']}",
        create_product_order,
        lambda r: {"relatedParty.id": r["relatedParty"][0]["id"]},
        update_product_order,
        items_key=None,
        paging="offset",
    ),
    Resource(
        "tmf621_ticket",
        TMF_TICKET,
        lambda r: f"{TMF_TICKET}/{r['id']}",
        create_trouble_ticket,
        lambda r: {"ticketType": r["ticketType"], "severity": r["severity"]},
        update_trouble_ticket,
        items_key=None,
        paging="offset",
        page_size=100,
    ),
)


# --- observing one cell ------------------------------------------------------------------------


def mark_of(response: httpx.Response, allowed: tuple[int, ...] = (200, 201)) -> str:
    if response.status_code in allowed:
        return "o"
    return {404: "-", 403: "F", 422: "x"}.get(response.status_code, f"?{response.status_code}")


async def listed(world: World, resource: Resource, headers, record: dict, params: dict[str, str]) -> str:
    """Whether the record is among the answers of the collection (every page of it)."""
    seen = 0
    cursor: str | None = None
    for _ in range(100):
        page_params = dict(params)
        if resource.paging == "cursor":
            page_params |= {"limit": str(resource.page_size)} | ({"cursor": cursor} if cursor else {})
        else:
            page_params |= {"limit": str(resource.page_size), "offset": str(seen)}
        response = await world.client.get(resource.collection, headers=headers, params=page_params)
        if response.status_code != 200:
            return mark_of(response)
        body = response.json()
        items = body if resource.items_key is None else body[resource.items_key]
        if any(item["id"] == record["id"] for item in items):
            return "o"
        seen += len(items)
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if (resource.paging == "cursor" and not cursor) or (
            resource.paging == "offset" and len(items) < resource.page_size
        ):
            return "-"
    raise AssertionError(f"{resource.name}: more than 100 pages")


async def observe(world: World, resource: Resource, headers, records: dict[str, dict]) -> dict[str, str]:
    marks = {operation: "" for operation in OPERATIONS}
    for place in PLACES:
        record = records[place]
        marks["read"] += mark_of(await world.client.get(resource.item(record), headers=headers))
        marks["list"] += await listed(world, resource, headers, record, {})
        marks["search"] += await listed(world, resource, headers, record, resource.search(record))
        marks["update"] += mark_of(await resource.update(world, headers, record))
        marks["create"] += mark_of(await resource.create(world, headers, place))
    return marks


# --- the test ----------------------------------------------------------------------------------


async def staff_user_in(world: World, branch: str) -> str:
    """A branch agent placed in ``branch``, known to sales' staff directory (an event away)."""
    created = await world.ok(
        "POST",
        "/api/v1/admin/users",
        json={
            "username": f"matrix.{uuid.uuid4().hex[:8]}",
            "full_name": f"Matrix Agent {branch}",
            "password": uuid.uuid4().hex,
            "role": "branch_agent",
            "branch_code": branch,
        },
    )

    async def known_to_sales():
        probe = await world.client.post(
            "/api/v1/sales/leads",
            headers=world.admin,
            json={
                "source": "branch_walk_in",
                "name": "probe",
                "interest": "internet",
                "phone": fresh_phone(),
                "owner_id": created["id"],
            },
        )
        return probe.status_code == 201

    await eventually(known_to_sales, interval_s=0.5, message=f"sales knows the new agent of {branch}")
    return created["id"]


async def test_every_role_sees_and_changes_exactly_its_records(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        admin = await sign_in(client, "admin")
        world = World(client, admin, owners={}, customers={})
        world.owners = {
            "KAR-01": "user-karaganda-agent",
            "KAR-02": await staff_user_in(world, "KAR-02"),
            "ALA-01": "user-almaty-agent",
        }
        for place in PLACES:
            response = await create_customer(world, admin, place)
            assert response.status_code == 201, response.text
            world.customers[place] = response.json()
        callers = {role: await sign_in(client, username) for role, username in SIGN_IN.items()}
        for role, key in SYSTEM_KEYS.items():
            made = await world.ok("POST", "/api/v1/admin/api-keys", json={"name": f"Matrix {role}", **key})
            callers[role] = {"X-API-Key": made["key"]}

        observed: dict[tuple[str, str, str], str] = {}
        lines = []
        for resource in RESOURCES:
            records = {}
            for place in PLACES:
                response = await resource.create(world, admin, place)
                assert response.status_code == 201, f"{resource.name} in {place}: {response.text}"
                records[place] = response.json()
            for role, headers in callers.items():
                marks = await observe(world, resource, headers, records)
                lines.append(f"{resource.name:<16}{role:<20}" + "  ".join(f"{marks[o]:<4}" for o in OPERATIONS))
                for operation, mark in marks.items():
                    observed[(resource.name, role, operation)] = mark
    print("\n".join(lines))
    wrong = {cell: (EXPECTED.get(cell), mark) for cell, mark in observed.items() if EXPECTED.get(cell) != mark}
    assert not wrong, "cells (resource, role, operation): (expected, observed)\n" + "\n".join(
        f"{cell}: {marks}" for cell, marks in sorted(wrong.items())
    )
    assert set(EXPECTED) == set(observed)
