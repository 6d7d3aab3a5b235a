"""End to end: the customer self-service portal through the gateway only (issue #17).

Two fresh customers of one branch, each with an order, a product, an invoice and a ticket. Each
signs in with the one-time code that the suite's SMS channel delivered (read back from the dev
outbox), sees their own profile, products, orders, balance and tickets, and never the other's,
whatever id they guess. Codes are single-use and die after a few wrong guesses; guesses per phone
are limited. A customer token opens no staff route; a staff token opens no portal route.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_cli.testing import RunningSuite, api_key, sign_in
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY
from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

P = "/api/v1/portal"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def register(client, agent, body) -> dict:
    created = await client.post("/api/v1/sales/customers", json=body, headers=agent)
    assert created.status_code == 201, created.text
    return created.json()


async def customer_with_history(client, agent, ids: Identities, first_name: str) -> dict:
    """A new customer with a fulfilled order (so an installed product), an invoice and a ticket."""
    iin = ids.iin()
    customer = await register(client, agent, ids.individual(first_name=first_name, iin=iin))
    order = await client.post(
        "/api/v1/orders/orders",
        headers=agent | {"Idempotency-Key": f"portal-{customer['id']}"},
        json={
            "customer_id": customer["id"],
            "items": [{"offering_id": "inet-gpon-100", "service_address": "Almaty, Dostyk 5"}],
        },
    )
    assert order.status_code == 201, order.text
    order = order.json()
    oss = api_key(DEMO_OSS_KEY)
    for item in order["items"]:
        done = await client.post(
            f"/api/v1/orders/orders/{order['id']}/items/{item['id']}/fulfilment",
            headers=oss,
            json={"state": "completed"},
        )
        assert done.status_code == 200, done.text
    today = datetime.now(UTC).date()
    invoice = await client.post(
        "/api/v1/orders/billing/invoices",
        headers=api_key(DEMO_ORDERS_BILLING_KEY),
        json={
            "invoice_id": f"INV-portal-{order['id'][:8]}",
            "customer_id": customer["id"],
            "order_id": order["id"],
            "amount_tiyn": 6990_00,
            "issued_on": today.isoformat(),
            "due_on": (today + timedelta(days=14)).isoformat(),
        },
    )
    assert invoice.status_code == 201, invoice.text
    ticket = await client.post(
        "/api/v1/tickets/tickets",
        headers=agent,
        json={
            "customer_id": customer["id"],
            "name": f"{first_name}: internet drops",
            "description": "every evening",
            "category": "internet",
        },
    )
    assert ticket.status_code == 201, ticket.text
    products = await client.get(
        "/api/v1/orders/installed-products", headers=agent, params={"customer_id": customer["id"]}
    )
    return customer | {
        "iin_full": iin,
        "order_id": order["id"],
        "ticket_id": ticket.json()["id"],
        "product_id": products.json()[0]["id"],
    }


async def code_sent_to(client, admin, phone: str, newer_than: set[str]) -> str:
    """The code of the newest SMS to ``phone`` that is not among ``newer_than`` (bodies seen before)."""

    async def arrived():
        outbox = await client.get("/api/v1/admin/dev-outbox", headers=admin, params={"to": phone})
        assert outbox.status_code == 200, outbox.text
        fresh = [m for m in outbox.json()["items"] if m["channel"] == "sms" and m["body"] not in newer_than]
        return fresh[0]["body"] if fresh else None

    body = await eventually(arrived, message=f"an SMS code to {phone}")
    newer_than.add(body)
    return CODE.search(body).group(1)


async def ask_code(client, phone: str) -> httpx.Response:
    asked = await client.post(f"{P}/auth/code", json={"phone": phone})
    assert asked.status_code == 202, asked.text
    return asked


async def portal_sign_in(client, admin, phone: str, seen: set[str]) -> dict[str, str]:
    await ask_code(client, phone)
    code = await code_sent_to(client, admin, phone, seen)
    token = await client.post(f"{P}/auth/token", json={"phone": phone, "code": code})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="module")
def ids() -> Identities:
    return Identities(seed=random.randrange(1 << 30))


async def test_customers_sign_in_by_sms_code_and_see_only_their_own(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        alice = await customer_with_history(client, agent, ids, "Alia")
        bob = await customer_with_history(client, agent, ids, "Bolat")
        seen: set[str] = set()

        # the same answer for a phone nobody has
        unknown = await ask_code(client, ids.mobile())
        known = await ask_code(client, "8" + alice["primary_phone"][2:])  # any notation
        assert unknown.json() == known.json()
        code = await code_sent_to(client, admin, alice["primary_phone"], seen)
        token = await client.post(f"{P}/auth/token", json={"phone": alice["primary_phone"], "code": code})
        assert token.status_code == 200, token.text
        assert token.json()["customer_id"] == alice["id"] and token.headers["cache-control"] == "no-store"
        me = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # the code was used
        again = await client.post(f"{P}/auth/token", json={"phone": alice["primary_phone"], "code": code})
        assert again.status_code == 401, again.text

        profile = (await client.get(f"{P}/me", headers=me)).json()
        assert profile["id"] == alice["id"] and profile["name"] == alice["display_name"]
        assert profile["iin_masked"].endswith(alice["iin_full"][-4:]) and alice["iin_full"] not in str(profile)
        assert profile["consents"]["data_processing"] is not None
        products = (await client.get(f"{P}/me/products", headers=me)).json()["items"]
        assert [p["id"] for p in products] == [alice["product_id"]]
        orders = (await client.get(f"{P}/me/orders", headers=me)).json()["items"]
        assert [o["id"] for o in orders] == [alice["order_id"]]
        balance = (await client.get(f"{P}/me/balance", headers=me)).json()
        assert balance["customer_id"] == alice["id"] and balance["outstanding_tiyn"] == 6990_00
        tickets = (await client.get(f"{P}/me/tickets", headers=me)).json()["items"]
        assert [t["id"] for t in tickets] == [alice["ticket_id"]]
        assert "queue" not in tickets[0] and "assignee_id" not in tickets[0]
        assert (await client.get(f"{P}/me/tickets/{alice['ticket_id']}", headers=me)).status_code == 200

        # Bolat's records through every portal route that takes an id, and made-up ids: 404
        for guessed in (bob["ticket_id"], bob["id"], bob["order_id"], "00000000-0000-0000-0000-000000000000", "x"):
            hidden = await client.get(f"{P}/me/tickets/{guessed}", headers=me)
            assert hidden.status_code == 404, hidden.text
        # nothing of Bolat's in any list of Alia's
        everything = [
            await client.get(f"{P}{path}", headers=me)
            for path in ("/me", "/me/products", "/me/orders", "/me/balance", "/me/tickets")
        ]
        for answer in everything:
            assert answer.status_code == 200, answer.text
            for secret in (bob["id"], bob["order_id"], bob["ticket_id"], bob["product_id"]):
                assert secret not in answer.text

        # "my data": the subject-access export, as the customer, with the other services' part
        exported = await client.get(f"{P}/me/data", headers=me)
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-disposition"].startswith("attachment")
        assert exported.json()["customer"]["id"] == alice["id"]
        assert alice["order_id"] in exported.text and alice["ticket_id"] in exported.text
        for secret in (bob["id"], bob["order_id"], bob["ticket_id"]):
            assert secret not in exported.text

        bob_me = await portal_sign_in(client, admin, bob["primary_phone"], seen)
        assert (await client.get(f"{P}/me", headers=bob_me)).json()["id"] == bob["id"]
        assert (await client.get(f"{P}/me/tickets/{alice['ticket_id']}", headers=bob_me)).status_code == 404


async def test_codes_die_after_wrong_guesses_and_guesses_per_phone_are_limited(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        customer = await register(client, agent, ids.individual(first_name="Dana"))
        phone, seen = customer["primary_phone"], set()

        await ask_code(client, phone)
        code = await code_sent_to(client, admin, phone, seen)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            refused = await client.post(f"{P}/auth/token", json={"phone": phone, "code": wrong})
            assert refused.status_code == 401, refused.text
        # five wrong guesses killed the code: the right one no longer works
        dead = await client.post(f"{P}/auth/token", json={"phone": phone, "code": code})
        assert dead.status_code == 401, dead.text

        # a new code retires nothing but the old one; the phone's guesses (10) run out: 429
        await ask_code(client, phone)
        code = await code_sent_to(client, admin, phone, seen)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        statuses = [
            (await client.post(f"{P}/auth/token", json={"phone": phone, "code": wrong})).status_code for _ in range(4)
        ]
        assert statuses == [401] * 4
        limited = await client.post(f"{P}/auth/token", json={"phone": phone, "code": code})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0, limited.text

        # malformed input names its field
        bad = await client.post(f"{P}/auth/token", json={"phone": "12", "code": "123456"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"
        bad = await client.post(f"{P}/auth/token", json={"phone": phone, "code": "12ab"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"


async def test_a_phone_shared_by_two_customers_asks_which_account(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        phone = ids.mobile()
        first = await register(client, agent, ids.individual(first_name="Erlan", phone=phone))
        second = await register(client, agent, ids.business())
        # Erlan is also the registered contact person of a business: his phone signs in to both
        contact = await client.post(
            f"/api/v1/sales/customers/{second['id']}/contacts",
            json={"name": "Erlan Ospanov", "phone": phone},
            headers=agent | {"If-Match": f'"{second["version"]}"'},
        )
        assert contact.status_code == 201, contact.text
        seen: set[str] = set()
        await ask_code(client, phone)
        code = await code_sent_to(client, admin, phone, seen)
        ask = await client.post(f"{P}/auth/token", json={"phone": phone, "code": code})
        assert ask.status_code == 409, ask.text
        choices = ask.json()["choices"]
        assert sorted(c["customer_id"] for c in choices) == sorted([first["id"], second["id"]])
        assert first["display_name"] not in ask.text  # masked names only
        chosen = await client.post(f"{P}/auth/token", json={"phone": phone, "code": code, "customer_id": second["id"]})
        assert chosen.status_code == 200 and chosen.json()["customer_id"] == second["id"], chosen.text


async def test_customer_tokens_open_no_staff_route_and_staff_tokens_no_portal_route(
    suite: RunningSuite, ids: Identities
):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        customer = await register(client, agent, ids.individual(first_name="Gulnar"))
        me = await portal_sign_in(client, admin, customer["primary_phone"], set())

        spec = (await client.get("/openapi.json")).json()
        staff_paths = sorted(
            path
            for path, operations in spec["paths"].items()
            if not path.startswith(P)
            and "get" in operations
            and "{" not in path
            and path.startswith(("/api/", "/tmf-api/"))
        )
        assert any(p.startswith("/tmf-api/") for p in staff_paths) and "/api/v1/admin/users" in staff_paths
        for path in staff_paths:
            refused = await client.get(path, headers=me)
            assert refused.status_code == 403, (path, refused.status_code, refused.text)
        own_record = await client.get(f"/api/v1/sales/customers/{customer['id']}", headers=me)
        assert own_record.status_code == 403, own_record.text  # even their own record: the portal is the door

        for staff in (agent, admin, {"X-API-Key": DEMO_OSS_KEY.key}):
            for path in ("/me", "/me/products", "/me/tickets"):
                refused = await client.get(f"{P}{path}", headers=staff)
                assert refused.status_code == 403, (path, refused.text)
        assert (await client.get(f"{P}/me")).status_code == 401


async def test_a_consent_changed_in_the_portal_reaches_marketing_and_is_audited(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        marketer = await sign_in(client, "marketer")
        customer = await register(
            client,
            agent,
            ids.individual(first_name="Saule", language="en", marketing_consent=True, data_processing_consent=True),
        )
        segment = await client.post(
            "/api/v1/marketing/segments",
            headers=marketer,
            json={
                "name": f"portal consent {customer['id'][:8]}",
                "criteria": {"branch_codes": ["ALA-01"], "languages": ["en"]},
            },
        )
        assert segment.status_code == 201, segment.text
        members_path = f"/api/v1/marketing/segments/{segment.json()['id']}/members"

        async def member_ids() -> set[str]:
            found, cursor = set(), None
            while True:
                params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
                page = (await client.get(members_path, headers=marketer, params=params)).json()
                found |= {m["customer_id"] for m in page["items"]}
                cursor = page["next_cursor"]
                if not cursor:
                    return found

        async def is_member():
            return customer["id"] in await member_ids()

        await eventually(is_member, message="the consenting customer in the segment")

        me = await portal_sign_in(client, admin, customer["primary_phone"], set())
        profile = (await client.get(f"{P}/me", headers=me)).json()
        assert profile["consents"]["marketing"] is True
        stale = await client.patch(f"{P}/me", headers=me, json={"marketing_consent": False, "version": 0})
        assert stale.status_code == 412, stale.text
        refused = await client.patch(f"{P}/me", headers=me, json={"first_name": "X", "version": profile["version"]})
        assert refused.status_code == 422, refused.text  # not a field the portal takes
        changed = await client.patch(
            f"{P}/me", headers=me, json={"marketing_consent": False, "language": "kk", "version": profile["version"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["consents"]["marketing"] is False and changed.json()["language"] == "kk"

        async def dropped():
            return customer["id"] not in await member_ids()

        await eventually(dropped, message="the customer dropped from the segment once consent is withdrawn")
        history = (await client.get(f"/api/v1/sales/customers/{customer['id']}/history", headers=agent)).json()
        assert any(
            e["actor_id"] == f"customer:{customer['id']}" and "marketing_consent" in e["changes"]
            for e in history["items"]
        ), history


async def test_a_customer_opens_notes_and_rates_a_ticket_in_the_portal(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        customer = await register(client, agent, ids.individual(first_name="Timur"))
        me = await portal_sign_in(client, admin, customer["primary_phone"], set())

        opened = await client.post(
            f"{P}/me/tickets",
            headers=me,
            json={"summary": "No TV signal", "description": "since yesterday", "category": "tv"},
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        assert ticket["status"] == "new" and ticket["channel"] == "self_service" and ticket["resolution_due_at"]
        noted = await client.post(f"{P}/me/tickets/{ticket['id']}/notes", headers=me, json={"text": "home after 18:00"})
        assert noted.status_code == 201, noted.text
        too_early = await client.post(f"{P}/me/tickets/{ticket['id']}/rating", headers=me, json={"score": 5})
        assert too_early.status_code == 409, too_early.text

        # the branch sees it in its queue, answers the customer, resolves it
        staff_view = (await client.get(f"/api/v1/tickets/tickets/{ticket['id']}", headers=agent)).json()
        assert staff_view["queue"].startswith("ALA-01") and staff_view["notes"][0]["visibility"] == "customer"
        for note in (
            {"text": "technician booked", "visibility": "customer"},
            {"text": "check cable", "visibility": "internal"},
        ):
            assert (
                await client.post(f"/api/v1/tickets/tickets/{ticket['id']}/notes", headers=agent, json=note)
            ).status_code == 201
        resolved = await client.post(
            f"/api/v1/tickets/tickets/{ticket['id']}/transitions",
            headers=agent,
            json={"status": "resolved", "reason": "fixed"},
        )
        assert resolved.status_code == 200, resolved.text

        seen = (await client.get(f"{P}/me/tickets/{ticket['id']}", headers=me)).json()
        assert [n["text"] for n in seen["notes"]] == ["home after 18:00", "technician booked"]  # never internal ones
        rated = await client.post(
            f"{P}/me/tickets/{ticket['id']}/rating", headers=me, json={"score": 5, "comment": "fast"}
        )
        assert rated.status_code == 200, rated.text
        assert rated.json()["rating"]["score"] == 5
        again = await client.post(f"{P}/me/tickets/{ticket['id']}/rating", headers=me, json={"score": 1})
        assert again.status_code == 409, again.text
        branch = (await client.get(f"/api/v1/tickets/tickets/{ticket['id']}", headers=agent)).json()
        assert branch["rating"]["score"] == 5 and branch["rating"]["comment"] == "fast"


async def test_a_customer_sees_their_loyalty_account_once_enrolled(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        customer = await register(client, agent, ids.individual(first_name="Aruzhan"))
        me = await portal_sign_in(client, admin, customer["primary_phone"], set())
        assert (await client.get(f"{P}/me/loyalty", headers=me)).json() == {"enrolled": False}

        async def enrolled():  # once marketing's projection knows the customer
            answer = await client.post(
                "/api/v1/marketing/loyalty/accounts", headers=agent, json={"customer_id": customer["id"]}
            )
            return answer.json() if answer.status_code == 201 else None

        account = await eventually(enrolled, message="the customer enrolled in loyalty")
        mine = (await client.get(f"{P}/me/loyalty", headers=me)).json()
        assert mine["enrolled"] is True and mine["card_number"] == account["card_number"]


async def test_a_customer_asks_for_erasure_and_the_privacy_officer_confirms_it(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        officer = await sign_in(client, "privacy.officer")
        customer = await register(client, agent, ids.individual(first_name="Meruert"))
        me = await portal_sign_in(client, admin, customer["primary_phone"], set())
        asked = await client.post(f"{P}/me/erasure-request", headers=me, json={"reason": "moving abroad"})
        assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
        pending = (await client.get("/api/v1/sales/erasure-asks", headers=officer, params={"limit": 200})).json()
        assert asked.json()["id"] in [a["id"] for a in pending["items"]]
        erased = await client.post(
            f"/api/v1/sales/customers/{customer['id']}/erasure", headers=officer, json={"reason": "DSR from the portal"}
        )
        assert erased.status_code == 201, erased.text
        again = await client.post(f"{P}/me/erasure-request", headers=me, json={})
        assert again.status_code == 409, again.text  # erased already


async def test_a_new_phone_is_confirmed_by_a_code_sent_to_it(suite: RunningSuite, ids: Identities):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        customer = await register(client, agent, ids.individual(first_name="Nurlan"))
        me = await portal_sign_in(client, admin, customer["primary_phone"], set())
        new_phone, seen = ids.mobile(), set()
        asked = await client.post(f"{P}/me/phones", headers=me, json={"phone": new_phone})
        assert asked.status_code == 202, asked.text
        code = await code_sent_to(client, admin, new_phone, seen)
        # that code confirms the phone; it signs nobody in
        sign_in_attempt = await client.post(f"{P}/auth/token", json={"phone": new_phone, "code": code})
        assert sign_in_attempt.status_code == 401, sign_in_attempt.text
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert (
            await client.post(f"{P}/me/phones/confirm", headers=me, json={"phone": new_phone, "code": wrong})
        ).status_code == 401
        confirmed = await client.post(f"{P}/me/phones/confirm", headers=me, json={"phone": new_phone, "code": code})
        assert confirmed.status_code == 201, confirmed.text
        assert new_phone in [p["e164"] for p in (await client.get(f"{P}/me", headers=me)).json()["phones"]]
        # and the customer now signs in with it too
        again = await portal_sign_in(client, admin, new_phone, seen)
        assert (await client.get(f"{P}/me", headers=again)).json()["id"] == customer["id"]
