"""End to end, through the gateway only, with the suite started as `make run` starts it
(`crm up --seed`, PostgreSQL for every service):

- the privacy officer (demo user privacy.officer) exports a seeded customer who has orders and
  tickets: one JSON document gathered by sales from orders and tickets over gRPC, as a download;
  staff who are not privacy officers cannot; an admin makes another privacy officer who can;
- the call centre, the analysts and the external systems' API keys, who see identifiers masked,
  read nothing from which more than the last four digits of an IIN can be derived, in any answer
  they can get about the person (sales, the tickets caller view, orders, tickets, TMF621/622);
- a masked caller's look-ups by IIN are limited per minute (429 with Retry-After) and audited.
"""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from crm_cli.testing import RunningSuite, api_key, sign_in
from crm_gateway.seed import DEMO_API_KEY, DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY, DEMO_TICKETS_OSS_KEY
from crm_shared.testing import derivable_leaks, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SALES, ORDERS, T = "/api/v1/sales", "/api/v1/orders", "/api/v1/tickets"
AIGERIM = {"iin": "900515412345", "born": date(1990, 5, 15), "phone": "+77011234567"}  # crm_sales.seed, ALA-01


async def seeded_aigerim(client, headers) -> dict:
    """Aigerim Seitkali with the demo tickets the tickets service opens once sales answers."""

    async def with_tickets():
        found = await client.get(f"{T}/callers", params={"phone": AIGERIM["phone"]}, headers=headers)
        [card] = found.json()["items"]
        return card if card["open_tickets"] else None

    return await eventually(with_tickets, message="the demo tickets of the seeded customer")


async def order_for(client, agent, customer_id: str) -> dict:
    """An order taken by the branch, fulfilled by the OSS key, invoiced and paid by billing."""
    taken = await client.post(
        f"{ORDERS}/orders",
        headers=agent | {"Idempotency-Key": f"e2e-privacy-{uuid.uuid4()}"},
        json={"customer_id": customer_id, "items": [{"offering_id": "tv-max"}]},
    )
    assert taken.status_code == 201, taken.text
    order = taken.json()
    done = await client.post(
        f"{ORDERS}/orders/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
        headers=api_key(DEMO_OSS_KEY),
        json={"state": "completed"},
    )
    assert done.status_code == 200, done.text
    billing = api_key(DEMO_ORDERS_BILLING_KEY)
    invoice_id = f"INV-E2E-{uuid.uuid4().hex[:8]}"
    invoiced = await client.post(
        f"{ORDERS}/billing/invoices",
        headers=billing,
        json={
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "order_id": order["id"],
            "amount_tiyn": 599000,
            "issued_on": "2026-01-05",
            "due_on": "2026-01-25",
        },
    )
    assert invoiced.status_code == 201, invoiced.text
    return done.json() | {"invoice_id": invoice_id}


async def test_the_privacy_officer_exports_everything_held_about_a_seeded_customer(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        officer = await sign_in(client, "privacy.officer")
        callcenter = await sign_in(client, "callcenter")
        agent = await sign_in(client, "almaty.agent")
        me = (await client.get("/api/v1/auth/me", headers=officer)).json()
        assert (me["role"], me["full_name"], me["branch"]) == ("privacy_officer", "Privacy Officer", None)

        card = await seeded_aigerim(client, callcenter)
        customer_id = card["customer"]["id"]
        order = await order_for(client, agent, customer_id)
        ticket_id = card["open_tickets"][0]["id"]
        note = await client.post(
            f"{T}/tickets/{ticket_id}/notes",
            headers=callcenter,
            json={"text": "Internal: customer prefers calls after 18:00", "visibility": "internal"},
        )
        assert note.status_code == 201, note.text

        response = await client.get(f"{SALES}/customers/{customer_id}/personal-data", headers=officer)
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'attachment; filename="personal-data-{customer_id}.json"'
        document = response.json()
        assert document["generated_by"]["role"] == "privacy_officer"
        assert document["customer"]["iin"] == AIGERIM["iin"] and document["customer"]["birth_date"] == "1990-05-15"
        assert {c["purpose"] for c in document["consents"]} == {"data_processing", "marketing"}
        assert document["history"][0]["action"] == "created"
        assert document["sales"]["opportunities"] and document["sales"]["activities"]
        # orders: the order with its item, the product it installed, the invoice
        orders = document["orders"]
        assert order["id"] in [o["id"] for o in orders["orders"]]
        assert any(p["offering_id"] == "tv-max" for p in orders["installed_products"])
        assert order["invoice_id"] in [i["invoice_id"] for i in orders["invoices"]]
        # tickets: the seeded tickets with every note (internal ones too), and calls
        tickets = {t["id"]: t for t in document["tickets"]["tickets"]}
        assert "Internet drops every evening" in [t["name"] for t in tickets.values()]
        assert "Internal: customer prefers calls after 18:00" in [n["text"] for n in tickets[ticket_id]["notes"]]
        assert {"interactions", "incidents", "installed_products"} <= set(document["tickets"])
        assert {name: s["status"] for name, s in document["services"].items()} == {
            "sales": "complete",
            "orders": "complete",
            "tickets": "complete",
        }
        assert document["services"]["orders"]["record_counts"]["orders"] >= 1

        # Staff who are not privacy officers cannot export; the export itself is in the access log.
        for username in ("callcenter", "almaty.agent", "almaty.manager", "analyst"):
            refused = await client.get(
                f"{SALES}/customers/{customer_id}/personal-data", headers=await sign_in(client, username)
            )
            assert refused.status_code == 403, (username, refused.text)
            assert AIGERIM["iin"] not in refused.text
        again = (await client.get(f"{SALES}/customers/{customer_id}/personal-data", headers=officer)).json()
        assert ("personal_data_exported", "user-privacy-officer") in [
            (e["action"], e["actor_id"]) for e in again["access_log"]
        ]

        # An admin makes another privacy officer through the users API; that one may export too.
        admin = await sign_in(client, "admin")
        username = f"dpo.{uuid.uuid4().hex[:6]}"
        created = await client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": username,
                "full_name": "Second DPO",
                "password": "long-enough-1",
                "role": "privacy_officer",
            },
        )
        assert created.status_code == 201, created.text
        second = await sign_in(client, username, "long-enough-1")
        assert (await client.get(f"{SALES}/customers/{customer_id}/personal-data", headers=second)).status_code == 200
        # ... and reads like one, changing nothing
        assert (
            await client.patch(
                f"{SALES}/customers/{customer_id}", headers=second, json={"email": "x@example.kz", "version": 1}
            )
        ).status_code == 403


async def test_masked_callers_read_nothing_derivable_in_any_answer(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        callcenter = await sign_in(client, "callcenter")
        agent = await sign_in(client, "almaty.agent")
        card = await seeded_aigerim(client, callcenter)
        customer_id = card["customer"]["id"]
        order = await order_for(client, agent, customer_id)
        ticket_id = card["open_tickets"][0]["id"]

        masked = {
            "callcenter": callcenter,
            "analyst": await sign_in(client, "analyst"),
            "billing key (sales:read)": {"X-API-Key": DEMO_API_KEY},
            "tickets OSS key": api_key(DEMO_TICKETS_OSS_KEY),
            "orders billing key": api_key(DEMO_ORDERS_BILLING_KEY),
            "orders OSS key": api_key(DEMO_OSS_KEY),
        }
        answers = [
            (f"{SALES}/customers/{customer_id}", {}),
            (f"{SALES}/customers", {"phone": "8 701 123 45 67"}),
            (f"{SALES}/customers", {"iin": AIGERIM["iin"]}),
            (f"{SALES}/customers", {"q": "Seitkali"}),
            (f"{SALES}/customers/{customer_id}/history", {}),
            (f"{SALES}/customers/{customer_id}/personal-data", {}),
            (f"{SALES}/activities", {"related_type": "customer", "related_id": customer_id}),
            (f"{SALES}/opportunities", {}),
            (f"{T}/callers", {"phone": "8 (701) 123-45-67"}),
            (f"{T}/tickets", {"customer_id": customer_id}),
            (f"{T}/tickets/{ticket_id}", {}),
            (f"{T}/interactions", {"customer_id": customer_id}),
            ("/tmf-api/troubleTicket/v4/troubleTicket", {"relatedParty.id": customer_id}),
            ("/tmf-api/troubleTicket/v4/troubleTicket", {}),
            (f"{ORDERS}/orders", {"customer_id": customer_id}),
            (f"{ORDERS}/orders/{order['id']}", {}),
            (f"{ORDERS}/installed-products", {"customer_id": customer_id}),
            (f"{ORDERS}/billing/customers/{customer_id}/balance", {}),
            (f"/tmf-api/productOrderingManagement/v4/productOrder/{order['id']}", {}),
            ("/tmf-api/productOrderingManagement/v4/productOrder", {"relatedParty.id": customer_id}),
        ]
        seen_by_callcenter = set()
        for who, headers in masked.items():
            for path, query in answers:
                response = await client.get(path, params=query, headers=headers)
                assert response.status_code < 500, (who, path, response.text)
                leaks = derivable_leaks(response.text, AIGERIM["iin"], AIGERIM["born"])
                assert not leaks, f"{who} reads {leaks} in GET {path} {query}: {response.text[:1500]}"
                if who == "callcenter" and response.status_code == 200:
                    seen_by_callcenter.add(path)
        # the call centre really got the answers it works with (the walk is not only refusals)
        assert {f"{SALES}/customers/{customer_id}", f"{T}/callers", f"{T}/tickets/{ticket_id}"} <= seen_by_callcenter
        shown = (await client.get(f"{SALES}/customers/{customer_id}", headers=callcenter)).json()
        assert (shown["iin"], shown["birth_date"], shown["birth_year"]) == ("********2345", None, 1990)


async def test_a_masked_callers_look_ups_by_iin_are_limited_and_audited(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        admin = await sign_in(client, "admin")
        username = f"cc.{uuid.uuid4().hex[:6]}"
        created = await client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": username,
                "full_name": "Budget Test",
                "password": "long-enough-1",
                "role": "call_center_agent",
            },
        )
        assert created.status_code == 201, created.text
        agent = await sign_in(client, username, "long-enough-1")
        statuses = []
        for _ in range(11):  # the default budget is 10 a minute
            response = await client.get(f"{SALES}/customers", params={"iin": AIGERIM["iin"]}, headers=agent)
            statuses.append(response.status_code)
        assert statuses == [200] * 10 + [429], statuses
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert AIGERIM["iin"] not in response.text

        audit = await client.get(
            f"{SALES}/identifier-lookups",
            params={"caller_id": created.json()["id"], "limit": 20},
            headers=await sign_in(client, "privacy.officer"),
        )
        assert audit.status_code == 200, audit.text
        entries = audit.json()["items"]
        assert [e["refused"] for e in entries] == [True] + [False] * 10  # newest first
        assert {e["query"] for e in entries} == {"********2345"} and entries[1]["found_customer_ids"]
