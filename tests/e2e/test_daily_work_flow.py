"""End to end through the gateway, as `crm up --seed` runs the suite: the daily work of a branch.
almaty.agent sees her tasks by when they are due (the seeded overdue call-back among them) and
completes one; her manager sees the branch's overdue tasks, the forecast by owner (people by name)
and a preview of a reassignment that moves nothing; an analyst reads the forecast as aggregates;
a deal's history names who changed it; an order names its offering in the caller's language and
keeps its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in

from .test_suite_flow import fresh_identity

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SEEDED_OVERDUE = "Call back about the router installation"  # crm_sales.seed: almaty.agent's task


async def ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_a_branch_works_its_tasks_forecast_and_history_by_name(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        manager = await sign_in(client, "almaty.manager")
        analyst = await sign_in(client, "analyst")

        # a customer of her own, a deal moved on by her manager, and a task due yesterday
        iin, phone, _ = fresh_identity()
        customer = await ok(
            await client.post(
                "/api/v1/sales/customers",
                headers=agent,
                json={"kind": "individual", "iin": iin, "first_name": "Әлия", "last_name": "Сейтқали", "phone": phone},
            )
        )
        assert customer["owner_name"] == "Dana Nurlanovna"
        deal = await ok(
            await client.post(
                "/api/v1/sales/opportunities",
                headers=agent,
                json={"customer_id": customer["id"], "name": "Home fibre", "amount_tiyn": 120_000_00},
            )
        )
        assert deal["customer_name"] == "Сейтқали Әлия"
        await ok(
            await client.patch(
                f"/api/v1/sales/opportunities/{deal['id']}",
                headers=manager | {"If-Match": '"1"'},
                json={"stage": "qualification"},
            )
        )
        history = await ok(await client.get(f"/api/v1/sales/opportunities/{deal['id']}/history", headers=agent))
        assert [(e["action"], e["actor_name"]) for e in history["items"]] == [
            ("created", "Dana Nurlanovna"),
            ("updated", "Yerlan Abenov"),
        ]
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        task = await ok(
            await client.post(
                "/api/v1/sales/activities",
                headers=agent,
                json={
                    "kind": "task",
                    "related_type": "customer",
                    "related_id": customer["id"],
                    "subject": "Bring the contract",
                    "due_at": yesterday,
                },
            )
        )

        # her tasks: overdue ones first, the seeded one and hers among them, with the customer's name
        overdue = await ok(await client.get("/api/v1/sales/my-tasks", params={"due": "overdue"}, headers=agent))
        subjects = {t["subject"]: t for t in overdue["items"]}
        assert SEEDED_OVERDUE in subjects and subjects["Bring the contract"]["related_name"] == "Сейтқали Әлия"
        counts = await ok(await client.get("/api/v1/sales/my-tasks/counts", headers=agent))
        assert counts["overdue"] >= 2

        # her manager sees it in the branch's overdue list, by her name
        team = await ok(await client.get("/api/v1/sales/overdue-tasks", headers=manager))
        assert {"Bring the contract": "Dana Nurlanovna"}.items() <= {
            t["subject"]: t["owner_name"] for t in team["items"]
        }.items()

        # done from the list: it leaves the list and the count
        await ok(
            await client.patch(
                f"/api/v1/sales/activities/{task['id']}",
                headers=agent | {"If-Match": '"1"'},
                json={"done_at": datetime.now(UTC).isoformat()},
            )
        )
        after = await ok(await client.get("/api/v1/sales/my-tasks/counts", headers=agent))
        assert after["overdue"] == counts["overdue"] - 1

        # the forecast: the manager by person, the analyst as aggregates only
        by_owner = await ok(await client.get("/api/v1/sales/forecast", params={"group_by": "owner"}, headers=manager))
        owners = {line["name"]: line for line in by_owner["items"]}
        assert owners["Dana Nurlanovna"]["weighted_tiyn"] <= owners["Dana Nurlanovna"]["amount_tiyn"]
        by_branch = await ok(await client.get("/api/v1/sales/forecast", params={"group_by": "branch"}, headers=manager))
        assert [line["key"] for line in by_branch["items"]] == ["ALA-01"]
        national = await ok(await client.get("/api/v1/sales/forecast", params={"group_by": "region"}, headers=analyst))
        assert len(national["items"]) > 1 and national["total"]["count"] >= by_branch["total"]["count"]
        refused = await client.get("/api/v1/sales/forecast", params={"group_by": "owner"}, headers=analyst)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "group_by"

        # a reassignment's preview names the people and what would move, and moves nothing
        preview = await ok(
            await client.post(
                "/api/v1/sales/reassignments/preview",
                headers=manager,
                json={"from_owner_id": "user-almaty-agent", "to_owner_id": "user-almaty-manager"},
            )
        )
        assert (preview["from_owner_name"], preview["to_owner_name"]) == ("Dana Nurlanovna", "Yerlan Abenov")
        assert preview["counts"]["customer"] >= 1 and preview["sample"]
        still = await ok(await client.get(f"/api/v1/sales/customers/{customer['id']}", headers=manager))
        assert still["owner_id"] == "user-almaty-agent"


async def test_an_order_names_its_offering_in_the_callers_language_and_keeps_its_history(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        iin, phone, _ = fresh_identity()
        customer = await ok(
            await client.post(
                "/api/v1/sales/customers",
                headers=agent,
                json={"kind": "individual", "iin": iin, "first_name": "Marat", "last_name": "Ospanov", "phone": phone},
            )
        )
        order = await ok(
            await client.post(
                "/api/v1/orders/orders",
                headers=agent | {"Accept-Language": "kk"},
                json={"customer_id": customer["id"], "items": [{"offering_id": "mob-unlim"}]},
            )
        )
        assert order["items"][0]["offering_name"] == "Мобильді Шексіз"
        russian = await ok(
            await client.get(f"/api/v1/orders/orders/{order['id']}", headers=agent | {"Accept-Language": "ru"})
        )
        assert russian["items"][0]["offering_name"] == "Мобильный Безлимитный"
        offerings = await ok(await client.get("/api/v1/orders/offerings", headers=agent))
        assert all(set(o["names"]) == {"kk", "ru", "en"} for o in offerings)
        history = await ok(await client.get(f"/api/v1/orders/orders/{order['id']}/history", headers=agent))
        assert [(e["action"], e["actor_name"]) for e in history["items"]][0] == ("created", "Dana Nurlanovna")
