"""Order capture (with the real sales gRPC server), the lifecycle with partial fulfilment and a
cancel, installed products after completion then a modify and a disconnect order, bad input,
billing reports and the balance status, and the authorization matrix."""

from __future__ import annotations

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.pagination import encode_cursor
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/orders/orders"
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))
BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing"))
KARAGANDA = Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")


def as_(who) -> dict[str, str]:
    return auth_headers(PRINCIPALS[who] if isinstance(who, str) else who)


async def take(client, customer_id, items, who="branch_agent", **extra):
    return await client.post(ORDERS, json={"customer_id": customer_id, "items": items, **extra}, headers=as_(who))


async def fulfil(client, order, position, state, reason=None):
    item = order["items"][position]
    response = await client.post(
        f"{ORDERS}/{order['id']}/items/{item['id']}/fulfilment",
        json={"state": state, "reason": reason},
        headers=as_(OSS),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_order_is_priced_fulfilled_and_creates_installed_products(client, customers):
    response = await take(
        client,
        customers["almaty"],
        [
            {"offering_id": "inet-gpon-300", "service_address": "Almaty, Abay 10"},
            {"offering_id": "tv-max"},
            {"offering_id": "mob-plus", "quantity": 2},
        ],
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["state"] == "acknowledged" and order["branch_code"] == "ALA-01" and order["customer_name"]
    assert order["one_off_total_tiyn"] == 10000_00 + 0 + 2 * 500_00
    assert order["recurring_total_tiyn"] == 9990_00 + 4990_00 + 2 * 3990_00
    assert response.headers["etag"] == '"1"'

    order = await fulfil(client, order, 0, "in_progress")
    assert order["state"] == "in_progress"
    for position in range(3):
        order = await fulfil(client, order, position, "completed")
    assert order["state"] == "completed" and order["completed_at"]
    products = (
        await client.get(
            "/api/v1/orders/installed-products",
            params={"customer_id": customers["almaty"]},
            headers=as_("branch_agent"),
        )
    ).json()
    assert sorted(p["offering_id"] for p in products) == ["inet-gpon-300", "mob-plus", "mob-plus", "tv-max"]
    internet = next(p for p in products if p["product_line"] == "internet")
    assert internet["characteristics"]["download_speed_mbps"] == "300"
    assert internet["service_address"] == "Almaty, Abay 10" and internet["status"] == "active"

    # A modify order upgrades the internet product; a delete order terminates the TV one.
    tv = next(p for p in products if p["product_line"] == "tv")
    response = await take(
        client,
        customers["almaty"],
        [
            {"action": "modify", "installed_product_id": internet["id"], "offering_id": "inet-gpon-500"},
            {"action": "delete", "installed_product_id": tv["id"]},
        ],
    )
    assert response.status_code == 201, response.text
    change = response.json()
    assert change["recurring_total_tiyn"] == 12990_00  # a disconnect costs nothing
    change = await fulfil(client, change, 0, "completed")
    change = await fulfil(client, change, 1, "completed")
    assert change["state"] == "completed"
    upgraded = (await client.get(f"/api/v1/orders/installed-products/{internet['id']}", headers=as_("admin"))).json()
    assert upgraded["offering_id"] == "inet-gpon-500" and upgraded["characteristics"]["download_speed_mbps"] == "500"
    assert upgraded["service_address"] == "Almaty, Abay 10" and upgraded["version"] == 2
    ended = (await client.get(f"/api/v1/orders/installed-products/{tv['id']}", headers=as_("admin"))).json()
    assert ended["status"] == "terminated" and ended["terminated_at"]


REPLACED = ("replaced_offering_id", "replaced_offering_version", "replaced_offering_name")


def replaced(item) -> tuple:
    return tuple(item[key] for key in REPLACED)


async def order_events(orders_database, order_id) -> list:
    from sqlalchemy import select

    from crm_shared.db import Database
    from crm_shared.models import OutboxEvent

    db = Database(orders_database)
    try:
        async with db.read_only() as session:
            return list(await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == order_id)))
    finally:
        await db.dispose()


async def test_a_change_and_a_disconnection_keep_what_the_product_was_when_taken(client, customers, orders_database):
    from crm_contracts import events

    customer = customers["almaty2"]
    installed = await take(client, customer, [{"offering_id": "inet-gpon-100"}, {"offering_id": "tv-base"}])
    assert installed.status_code == 201, installed.text
    installed = installed.json()
    assert [replaced(i) for i in installed["items"]] == [(None, None, None)] * 2  # add items replace nothing
    for position in range(2):
        installed = await fulfil(client, installed, position, "completed")
    fibre_add, tv_add = installed["items"]
    fibre_id, tv_id = fibre_add["result_product_ids"][0], tv_add["result_product_ids"][0]
    fibre_100 = ("inet-gpon-100", fibre_add["offering_version"], fibre_add["offering_name"])
    tv_base = ("tv-base", tv_add["offering_version"], tv_add["offering_name"])

    # a change that never happens: cancelled
    dropped = (
        await take(
            client, customer, [{"action": "modify", "installed_product_id": fibre_id, "offering_id": "inet-gpon-1000"}]
        )
    ).json()
    assert replaced(dropped["items"][0]) == fibre_100
    cancelled = await client.patch(
        f"{ORDERS}/{dropped['id']}/state",
        json={"state": "cancelled", "reason": "too dear"},
        headers=as_("branch_agent") | {"If-Match": '"1"'},
    )
    assert cancelled.status_code == 200, cancelled.text

    # fibre 100 -> 300 and the TV disconnected, completed
    change = await take(
        client,
        customer,
        [
            {"action": "modify", "installed_product_id": fibre_id, "offering_id": "inet-gpon-300"},
            {"action": "delete", "installed_product_id": tv_id},
        ],
    )
    assert change.status_code == 201, change.text
    change = change.json()
    assert [replaced(i) for i in change["items"]] == [fibre_100, tv_base]
    for position in range(2):
        change = await fulfil(client, change, position, "completed")
    assert change["state"] == "completed"
    assert [replaced(i) for i in change["items"]] == [fibre_100, tv_base]

    # then fibre 300 -> 500: this change replaces what the previous one left on the product
    later = (
        await take(
            client, customer, [{"action": "modify", "installed_product_id": fibre_id, "offering_id": "inet-gpon-500"}]
        )
    ).json()
    fibre_300 = ("inet-gpon-300", change["items"][0]["offering_version"], change["items"][0]["offering_name"])
    assert replaced(later["items"][0]) == fibre_300
    later = await fulfil(client, later, 0, "completed")
    product = (await client.get(f"/api/v1/orders/installed-products/{fibre_id}", headers=as_("admin"))).json()
    assert product["offering_id"] == "inet-gpon-500"

    # read afterwards, each order still tells what it replaced, whatever happened to the product since
    for order, expected in ((dropped, [fibre_100]), (change, [fibre_100, tv_base]), (later, [fibre_300])):
        again = (await client.get(f"{ORDERS}/{order['id']}", headers=as_("branch_agent"))).json()
        assert [replaced(i) for i in again["items"]] == expected, order["id"]
    listed = (await client.get(ORDERS, params={"customer_id": customer}, headers=as_("admin"))).json()["items"]
    assert [replaced(i) for i in next(o for o in listed if o["id"] == change["id"])["items"]] == [fibre_100, tv_base]

    # the order events carry it too, and match their schemas
    written = await order_events(orders_database, change["id"])
    assert {e.type for e in written} == {
        "crm.orders.order.created",
        "crm.orders.order.state_changed",
        "crm.orders.order.completed",
    }
    for event in written:
        events.validate(event.type, event.data)
        assert [replaced(i) for i in event.data["items"]] == [fibre_100, tv_base], event.type
    [created] = [
        e for e in await order_events(orders_database, installed["id"]) if e.type == "crm.orders.order.created"
    ]
    assert [replaced(i) for i in created.data["items"]] == [(None, None, None)] * 2


async def test_partial_fulfilment_and_illegal_transitions(client, customers):
    order = (await take(client, customers["almaty"], [{"offering_id": "tv-base"}, {"offering_id": "fix-home"}])).json()
    order = await fulfil(client, order, 0, "completed")
    order = await fulfil(client, order, 1, "failed", "no free port at the exchange")
    assert order["state"] == "partial"
    assert [i["state"] for i in order["items"]] == ["completed", "failed"]
    assert order["items"][1]["state_reason"] == "no free port at the exchange"
    assert order["allowed_transitions"] == []

    response = await client.patch(
        f"{ORDERS}/{order['id']}/state",
        json={"state": "cancelled", "reason": "x"},
        headers=as_("branch_agent") | {"If-Match": f'"{order["version"]}"'},
    )
    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == [] and "partial" in response.json()["detail"]


async def test_hold_resume_and_cancel_with_reason(client, customers):
    order = (await take(client, customers["almaty2"], [{"offering_id": "mob-start"}])).json()
    path = f"{ORDERS}/{order['id']}/state"

    async def move(state, version, reason=None, who="branch_agent"):
        return await client.patch(
            path, json={"state": state, "reason": reason}, headers=as_(who) | {"If-Match": f'"{version}"'}
        )

    response = await move("completed", 1)
    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == ["in_progress", "held", "cancelled"]
    assert "fulfilment" in response.json()["detail"]
    held = await move("held", 1)
    assert held.status_code == 200 and held.json()["state"] == "held"
    assert (await move("in_progress", 1)).status_code == 412  # stale version
    resumed = await move("acknowledged", 2)
    assert resumed.json()["state"] == "acknowledged"
    no_reason = await move("cancelled", 3)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    cancelled = await move("cancelled", 3, "customer moved abroad")
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["state_reason"] == "customer moved abroad"
    item = order["items"][0]["id"]
    late = await client.post(
        f"{ORDERS}/{order['id']}/items/{item}/fulfilment", json={"state": "completed"}, headers=as_(OSS)
    )
    assert late.status_code == 409


@pytest.mark.parametrize(
    ("items", "extra", "status", "field"),
    [
        ([{"offering_id": "no-such-offering"}], {}, 404, "items[0].offering_id"),
        ([{"offering_id": "inet-adsl-8"}], {}, 422, "items[0].offering_id"),
        ([{"offering_id": "tv-base"}, {"offering_id": "tv-base", "quantity": 0}], {}, 422, "items[1].quantity"),
        ([{"offering_id": "tv-base"}], {"currency": "USD"}, 422, "currency"),
        ([{"offering_id": "mob-start", "quantity": 10**10}], {}, 422, "items[0].quantity"),
        ([{"action": "modify", "offering_id": "tv-max"}], {}, 422, "items[0].installed_product_id"),
        (
            [{"action": "delete", "installed_product_id": "00000000-0000-0000-0000-000000000000"}],
            {},
            404,
            "items[0].installed_product_id",
        ),
        ([{"offering_id": "tv-base", "quantity": 1.5}], {}, 422, "items.0.quantity"),
    ],
)
async def test_bad_input_names_the_field_and_creates_nothing(client, customers, items, extra, status, field):
    before = (await client.get(ORDERS, params={"customer_id": customers["almaty2"]}, headers=as_("admin"))).json()
    response = await take(client, customers["almaty2"], items, **extra)
    assert response.status_code == status, response.text
    assert field in {e["field"] for e in response.json().get("errors", [])}, response.json()
    after = (await client.get(ORDERS, params={"customer_id": customers["almaty2"]}, headers=as_("admin"))).json()
    assert after["items"] == before["items"]


async def test_offering_not_sold_in_the_customer_region(client, customers):
    response = await take(client, customers["karaganda"], [{"offering_id": "inet-gpon-1000"}], who=KARAGANDA)
    assert response.status_code == 422
    assert "not sold in region KZ-35" in response.json()["detail"]
    assert (await take(client, customers["almaty"], [{"offering_id": "inet-gpon-1000"}])).status_code == 201


async def test_a_catalogue_change_keeps_the_price_an_order_was_taken_at(client, customers):
    taken = (await take(client, customers["almaty2"], [{"offering_id": "tv-kids"}])).json()
    offering = (await client.get("/api/v1/orders/offerings/tv-kids", headers=as_("admin"))).json()
    response = await client.patch(
        "/api/v1/orders/offerings/tv-kids",
        json={"recurring_price_tiyn": 1490_00},
        headers=as_("admin") | {"If-Match": f'"{offering["version"]}"'},
    )
    assert response.status_code == 200 and response.json()["version"] == offering["version"] + 1
    again = (await client.get(f"{ORDERS}/{taken['id']}", headers=as_("admin"))).json()
    assert again["recurring_total_tiyn"] == 990_00 and again["items"][0]["offering_version"] == offering["version"]
    old = await client.get(f"/api/v1/orders/offerings/tv-kids/versions/{offering['version']}", headers=as_("admin"))
    assert old.json()["recurring_price_tiyn"] == 990_00
    newer = (await take(client, customers["almaty2"], [{"offering_id": "tv-kids"}])).json()
    assert newer["recurring_total_tiyn"] == 1490_00
    agent = await client.patch(
        "/api/v1/orders/offerings/tv-kids",
        json={"recurring_price_tiyn": 1},
        headers=as_("branch_agent") | {"If-Match": '"2"'},
    )
    assert agent.status_code == 403


async def test_authorization_matrix(client, customers):
    almaty = (await take(client, customers["almaty"], [{"offering_id": "tv-base"}])).json()
    path = f"{ORDERS}/{almaty['id']}"
    expected_read = {
        "admin": 200,
        "branch_agent": 200,
        "branch_manager": 200,
        "regional_manager": 200,
        "call_center_agent": 200,
        "hq_analyst": 403,
        "privacy_officer": 200,
        KARAGANDA: 404,
        OSS: 200,
        BILLING: 200,
    }
    for who, status in expected_read.items():
        assert (await client.get(path, headers=as_(who))).status_code == status, who
    expected_take = {
        "admin": 201,
        "branch_agent": 201,
        "branch_manager": 201,
        "regional_manager": 201,
        "call_center_agent": 403,
        "hq_analyst": 403,
        "privacy_officer": 403,
        KARAGANDA: 404,
        OSS: 403,
        BILLING: 403,
    }
    for who, status in expected_take.items():
        response = await take(client, customers["almaty"], [{"offering_id": "tv-base"}], who=who)
        assert response.status_code == status, (who, response.text)
    # The Karaganda customer is invisible to an Almaty agent: sales answers NOT_FOUND over gRPC.
    hidden = await take(client, customers["karaganda"], [{"offering_id": "tv-base"}])
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "customer_id"
    # Fulfilment only with the OSS scope; staff list only their scope.
    item = f"{path}/items/{almaty['items'][0]['id']}/fulfilment"
    for who in ("branch_agent", BILLING):
        assert (await client.post(item, json={"state": "in_progress"}, headers=as_(who))).status_code == 403
    karaganda_list = (await client.get(ORDERS, headers=as_(KARAGANDA))).json()["items"]
    assert all(o["branch_code"] == "KAR-01" for o in karaganda_list)
    stats = (await client.get("/api/v1/orders/stats", headers=as_("hq_analyst"))).json()["items"]
    assert sum(row["orders"] for row in stats if row["branch_code"] == "ALA-01") >= 5
    assert all("customer_id" not in row for row in stats)


async def billing_announcements(orders_database, customer_id: str) -> list[tuple[str, str]]:
    """(type, billing's id) of every crm.orders.billing.v1 event written for this customer."""
    from sqlalchemy import select

    from crm_shared.db import Database
    from crm_shared.models import OutboxEvent

    db = Database(orders_database)
    try:
        async with db.read_only() as session:
            rows = await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "crm.orders.billing.v1", OutboxEvent.subject == customer_id)
                .order_by(OutboxEvent.seq)
            )
            return [(row.type, row.data.get("payment_id") or row.data["invoice_id"]) for row in rows]
    finally:
        await db.dispose()


async def test_billing_reports_invoices_and_payments_and_staff_see_the_balance(client, customers, orders_database):
    order = (await take(client, customers["almaty2"], [{"offering_id": "fix-business"}])).json()
    balance_path = f"/api/v1/orders/billing/customers/{customers['almaty2']}/balance"
    invoice = {
        "invoice_id": "INV-h10-1",
        "customer_id": customers["almaty2"],
        "order_id": order["id"],
        "amount_tiyn": 7990_00,
        "issued_on": "2024-01-01",
        "due_on": "2024-01-15",
    }
    assert (
        await client.post("/api/v1/orders/billing/invoices", json=invoice, headers=as_("branch_agent"))
    ).status_code == 403
    assert (await client.post("/api/v1/orders/billing/invoices", json=invoice, headers=as_(BILLING))).status_code == 201
    assert (await client.post("/api/v1/orders/billing/invoices", json=invoice, headers=as_(BILLING))).status_code == 200
    balance = (await client.get(balance_path, headers=as_("branch_agent"))).json()
    assert balance["status"] == "overdue" and balance["overdue_tiyn"] == 7990_00
    payment = {
        "payment_id": "PAY-h10-1",
        "invoice_id": "INV-h10-1",
        "amount_tiyn": 7990_00,
        "paid_at": "2024-01-20T10:00:00Z",
    }
    for _ in range(2):  # a re-sent payment is counted once
        assert (
            await client.post("/api/v1/orders/billing/payments", json=payment, headers=as_(BILLING))
        ).status_code in (200, 201)
    balance = (await client.get(balance_path, headers=as_("call_center_agent"))).json()
    assert balance["status"] == "paid" and balance["paid_tiyn"] == 7990_00 and balance["outstanding_tiyn"] == 0
    assert (await client.get(balance_path, headers=as_(KARAGANDA))).status_code == 404
    bad = await client.post(
        "/api/v1/orders/billing/invoices", json=invoice | {"invoice_id": "x", "amount_tiyn": 1.5}, headers=as_(BILLING)
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "amount_tiyn"
    # Each new report is announced once on crm.orders.billing.v1 (loyalty, commissions, analytics);
    # the re-sent invoice and payment announce nothing.
    assert await billing_announcements(orders_database, customers["almaty2"]) == [
        ("crm.orders.billing.invoice_issued", "INV-h10-1"),
        ("crm.orders.billing.payment_received", "PAY-h10-1"),
    ]


async def test_every_event_written_matches_its_schema(client, orders_database, customers):
    import jsonschema
    from sqlalchemy import select

    from crm_contracts import events
    from crm_shared.db import Database
    from crm_shared.models import OutboxEvent

    db = Database(orders_database)
    try:
        async with db.read_only() as session:
            rows = list(await session.scalars(select(OutboxEvent)))
    finally:
        await db.dispose()
    types = {row.type for row in rows}
    assert {
        "crm.orders.order.created",
        "crm.orders.order.completed",
        "crm.orders.installed_product.created",
        "crm.orders.installed_product.changed",
        "crm.orders.installed_product.terminated",
        "crm.orders.billing.invoice_issued",
        "crm.orders.billing.payment_received",
    } <= types
    for row in rows:
        jsonschema.validate(row.data, events.schema_for(row.type))
    # among them, items that name what they replace (modify) or disconnect (delete), and add items
    # that name nothing
    items = [item for row in rows if row.type.startswith("crm.orders.order.") for item in row.data["items"]]
    for action in ("modify", "delete"):
        assert any(
            i["action"] == action
            and i["replaced_offering_id"]
            and i["replaced_offering_version"]
            and i["replaced_offering_name"]
            for i in items
        ), action
    assert all(i["replaced_offering_id"] is None for i in items if i["action"] == "add")


@pytest.mark.parametrize(
    "cursor", ["%%%", encode_cursor(["not-a-time", "x"]), encode_cursor([1, 2]), encode_cursor(["x"])]
)
async def test_a_malformed_cursor_is_a_400_naming_it(client, cursor):
    response = await client.get(ORDERS, params={"cursor": cursor}, headers=as_("admin"))
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("version", ["0", "99999999999"])
async def test_an_offering_version_out_of_range_is_a_422(client, version):
    response = await client.get(f"/api/v1/orders/offerings/tv-base/versions/{version}", headers=as_("admin"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "version"


async def test_the_balance_of_a_customer_the_caller_may_not_see_is_a_404_even_without_invoices(client, customers):
    """Without a billing account orders asks sales, so neither a guessed id nor another branch's
    customer is answered with an empty balance."""
    fresh = customers["almaty"]  # no invoice was reported for this customer
    path = f"/api/v1/orders/billing/customers/{fresh}/balance"
    assert (await client.get(path, headers=as_("branch_agent"))).json()["status"] == "no_invoices"
    assert (await client.get(path, headers=as_(KARAGANDA))).status_code == 404
    guessed = await client.get("/api/v1/orders/billing/customers/not-a-customer/balance", headers=as_("admin"))
    assert guessed.status_code == 404 and guessed.json()["title"] == "Not found"


async def test_q_finds_an_order_by_number_or_the_customers_name_within_visibility(client, customers):
    almaty = (await take(client, customers["almaty"], [{"offering_id": "tv-max"}])).json()
    almaty2 = (await take(client, customers["almaty2"], [{"offering_id": "tv-max"}])).json()

    async def found(q: str, who="branch_agent") -> list[str]:
        response = await client.get(ORDERS, params={"q": q, "limit": 200}, headers=as_(who))
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    number = almaty["id"][:8]
    assert await found(number) == [almaty["id"]]
    assert await found(f"#{number.upper()}") == [almaty["id"]]
    assert await found(number, who=KARAGANDA) == []  # outside the caller's branch: as if absent
    by_name = await found("abenova")
    assert almaty2["id"] in by_name and almaty["id"] not in by_name
    short = await client.get(ORDERS, params={"q": "a"}, headers=as_("branch_agent"))
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "q"


async def test_the_order_list_exports_as_csv_with_its_filters_within_visibility(client, customers):
    import csv
    import io

    order = (await take(client, customers["almaty2"], [{"offering_id": "tv-max"}])).json()

    def rows_of(response) -> list[dict]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

    mine = rows_of(await client.get(f"{ORDERS}/export", params={"q": order["id"][:8]}, headers=as_("branch_agent")))
    assert [(r["id"], r["offerings"], r["recurring_total_tiyn"]) for r in mine] == [
        (order["id"], "1 × tv-max", str(order["recurring_total_tiyn"]))
    ]
    listed = await client.get(
        ORDERS, params={"customer_id": customers["almaty2"], "limit": 200}, headers=as_("branch_agent")
    )
    exported = rows_of(
        await client.get(f"{ORDERS}/export", params={"customer_id": customers["almaty2"]}, headers=as_("branch_agent"))
    )
    assert [r["id"] for r in exported] == [o["id"] for o in listed.json()["items"]]
    assert rows_of(await client.get(f"{ORDERS}/export", params={"q": order["id"][:8]}, headers=as_(KARAGANDA))) == []
