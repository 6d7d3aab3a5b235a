"""End to end, through the gateway, on the seeded suite (`crm up --seed`): the analytics overview
counts what the operational services count themselves (active customers against sales' own
statistics, orders against orders' statistics, tickets against the tickets list), once every
event has reached the store (polled: the figure is reached within seconds); a regional manager's
overview is its region's; the PII scan of the overview and of a CSV export."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PERSONAL = re.compile(r"(?<!\d)\d{12}(?!\d)|\+?7[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}")
OVERVIEW = "/api/v1/analytics/dashboards/overview"


def all_time() -> dict[str, str]:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return {"from": "2020-01-01T00:00:00Z", "to": tomorrow.strftime("%Y-%m-%dT00:00:00Z")}


async def every_ticket(client, headers) -> int:
    count, cursor = 0, None
    while True:
        page = await client.get(
            "/api/v1/tickets/tickets", params={"limit": 100, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.text
        count += len(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return count


async def test_the_overview_counts_what_the_services_count(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        analyst = await sign_in(client, "analyst")
        admin = await sign_in(client, "admin")

        seen = []

        async def same_figures():
            customers = (await client.get("/api/v1/sales/stats/customers", headers=analyst)).json()["total"]
            orders = sum(
                row["orders"] for row in (await client.get("/api/v1/orders/stats", headers=analyst)).json()["items"]
            )
            tickets = await every_ticket(client, admin)
            answer = await client.get(OVERVIEW, params=all_time(), headers=analyst)
            assert answer.status_code == 200, answer.text
            data = answer.json()
            ours = (data["customers"]["active"], data["orders_revenue"]["orders"], data["tickets"]["opened"])
            seen[:] = [{"analytics": ours, "services": (customers, orders, tickets)}]
            return data if ours == (customers, orders, tickets) and tickets > 0 else None

        try:
            data = await eventually(same_figures, timeout_s=120, message="the analytics equal the services' own counts")
        except AssertionError as missed:
            raise AssertionError(f"{missed}; last seen (active customers, orders, tickets): {seen}") from None
        assert PERSONAL.findall(str(data)) == []
        export = await client.get(
            "/api/v1/analytics/dashboards/charts/customers_by_region/export",
            params=all_time() | {"format": "csv"},
            headers=analyst,
        )
        assert export.status_code == 200 and export.text.startswith("region_code,")
        assert PERSONAL.findall(export.text) == []

        regional = await sign_in(client, "karaganda.regional")
        own = await client.get(OVERVIEW, params=all_time(), headers=regional)
        assert own.status_code == 200 and own.json()["period"]["region_code"] == "KZ-35"
        other = await client.get(OVERVIEW, params=all_time() | {"region_code": "KZ-75"}, headers=regional)
        assert other.status_code == 403

        agent = await sign_in(client, "almaty.agent")
        refused = await client.get(OVERVIEW, headers=agent)
        assert refused.status_code == 403
