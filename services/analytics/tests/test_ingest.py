"""The ingest on the real broker, end to end inside the service: every event published twice is
counted once; a rebuild from the topics gives the same figures; no answer and no table holds an
IIN/BIN- or phone-shaped value; a regional manager sees its own region only; an erasure cuts the
pseudonym link and is confirmed.

The broker is shared with the other tests of the session, so this module's events are in a region
of its own, and every figure compared is filtered to that region."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_analytics.config import AnalyticsSettings
from crm_analytics.db.models import CustomerPseudonym
from crm_analytics.domain.dashboards import CHARTS
from crm_analytics.events.publishers import ERASURE_CONFIRMED
from crm_analytics.seed import demo_events
from crm_shared.auth import Principal, Role
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.models import OutboxEvent
from crm_shared.testing import PRINCIPALS, Identities, auth_headers, eventually, group_caught_up, publish_events

from .conftest import settings_with_broker

pytestmark = pytest.mark.integration

REGION = f"KZ-T{uuid.uuid4().hex[:4].upper()}"
OTHER_REGION = "KZ-75"
BRANCHES = (f"{REGION}-A", f"{REGION}-B")
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
IN_REGION = PERIOD | {"region_code": REGION}
PERSONAL = re.compile(r"(?<!\d)\d{12}(?!\d)|\+?7[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}")

ADMIN = auth_headers(PRINCIPALS["admin"])
ANALYST = auth_headers(PRINCIPALS["hq_analyst"])
REGIONAL = auth_headers(Principal("t-regional-t", "regional.t", Role.REGIONAL_MANAGER, region=REGION))


def made_events() -> list[tuple[str, CloudEvent]]:
    """Synthetic events in this module's region; the customers carry an IIN, a phone and an
    e-mail, which must never reach the store."""
    people = Identities(seed=11)
    events = list(demo_events(240, seed=5, regions={REGION: BRANCHES}))
    for _, event in events:
        if event.type == "crm.sales.customer.created":
            event.data.update(iin=people.iin(), primary_phone=people.mobile(), email="someone@example.kz")
    # customers rate some tickets in the portal (CSAT): the ticket's later state, with its rating
    opened = [(topic, event) for topic, event in events if event.type == "crm.tickets.ticket.created"]
    for score, (topic, event) in zip(RATINGS, opened, strict=False):
        rated = dict(event.data, status="resolved", version=int(event.data.get("version") or 1) + 1)
        rated["rating"] = {"score": score, "comment": "Спасибо, Айгерим!", "rated_at": "2026-02-01T10:00:00Z"}
        events.append(
            (
                topic,
                CloudEvent(
                    id=f"rated-{event.id}",
                    source="/crm/tickets",
                    type="crm.tickets.ticket.rated",
                    subject=event.subject,
                    data=rated,
                    time=event.time,
                    region=event.region,
                    branch=event.branch,
                ),
            )  # fmt: skip
        )
    return events


RATINGS = (5, 4, 2)


EVENTS = made_events()


def expected() -> dict[str, int]:
    kinds = Counter(event.type for _, event in EVENTS)
    completed = [e.data for _, e in EVENTS if e.type == "crm.orders.order.created" and e.data["state"] == "completed"]
    return {
        "customers": kinds["crm.sales.customer.created"],
        "orders": kinds["crm.orders.order.created"],
        "tickets": kinds["crm.tickets.ticket.created"],
        "one_off_tiyn": sum(o["one_off_total_tiyn"] for o in completed),
    }


def figures(overview: dict) -> dict[str, int]:
    return {
        "customers": overview["customers"]["new"],
        "orders": overview["orders_revenue"]["orders"],
        "tickets": overview["tickets"]["opened"],
        "one_off_tiyn": overview["orders_revenue"]["one_off_tiyn"],
    }


@pytest.fixture(scope="module")
def settings(database_url, clickhouse_path, kafka_bootstrap) -> AnalyticsSettings:
    return settings_with_broker(database_url, clickhouse_path, kafka_bootstrap)


@pytest_asyncio.fixture(scope="module")
async def app(settings):
    """Every event is on the broker twice (a relay's re-send, a redelivery) before the service starts."""
    from crm_analytics.main import create_app

    by_topic: dict[str, list[CloudEvent]] = {}
    for topic, event in EVENTS:
        by_topic.setdefault(topic, []).append(event)
    for topic, events in by_topic.items():
        await publish_events(settings, topic, events + events)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for topic in by_topic:
            await eventually(
                lambda topic=topic: group_caught_up(settings.kafka_bootstrap_servers, settings.ingest_group_id, topic),
                message=f"the ingest worker read {topic}",
            )
        yield app


async def overview(client, headers=ANALYST, params=IN_REGION) -> dict:
    answer = await client.get("/api/v1/analytics/dashboards/overview", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_every_event_delivered_twice_counts_once(client):
    assert figures(await overview(client)) == expected()


async def test_the_customers_ratings_give_the_csat(client):
    tickets = (await overview(client))["tickets"]
    assert (tickets["csat_rated"], tickets["csat_average_score"], tickets["csat_satisfied_ratio"]) == (
        len(RATINGS),
        round(sum(RATINGS) / len(RATINGS), 2),
        round(sum(1 for s in RATINGS if s >= 4) / len(RATINGS), 4),
    )


async def test_the_charts_add_up_to_the_overview(client):
    data = await overview(client)
    by_line = data["orders_revenue"]["charts"]["revenue_by_product_line"]
    assert sum(row[by_line["columns"].index("orders")] for row in by_line["rows"]) == expected()["orders"]
    assert data["tickets"]["sla_met_ratio"] is not None and 0 <= data["tickets"]["sla_met_ratio"] <= 1


async def test_compacting_the_records_changes_no_figure(client, settings):
    from crm_analytics.db.store import EventStore

    before = await overview(client, params=PERIOD)
    topic, event = EVENTS[0]
    await publish_events(settings, topic, [event])  # one more part, of an event already stored
    await eventually(
        lambda: group_caught_up(settings.kafka_bootstrap_servers, settings.ingest_group_id, topic),
        message="the redelivery read",
    )
    assert await EventStore(settings).compact(quiet_s=0)
    assert await overview(client, params=PERIOD) == before


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("hq_analyst", IN_REGION, 200),
        ("admin", IN_REGION, 200),
        ("regional_manager_own", PERIOD, 200),
        ("regional_manager_own", IN_REGION, 200),
        ("regional_manager_own", PERIOD | {"region_code": OTHER_REGION}, 403),
        ("branch_agent", IN_REGION, 403),
        ("branch_manager", IN_REGION, 403),
        ("call_center_agent", IN_REGION, 403),
        ("privacy_officer", IN_REGION, 403),
    ],
)
async def test_who_sees_which_figures(client, who, params, status):
    headers = REGIONAL if who == "regional_manager_own" else auth_headers(PRINCIPALS[who])
    answer = await client.get("/api/v1/analytics/dashboards/overview", params=params, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert figures(answer.json()) == expected()
        assert answer.json()["period"]["region_code"] == REGION


async def test_a_regional_manager_gets_its_region_whatever_it_asks_for_a_chart(client):
    answer = await client.get("/api/v1/analytics/dashboards/charts/revenue_by_region", params=PERIOD, headers=REGIONAL)
    assert answer.status_code == 200
    assert {row[0] for row in answer.json()["rows"]} == {REGION}


async def test_bad_filters_and_unknown_charts_are_problems_naming_the_field(client):
    bad = await client.get("/api/v1/analytics/dashboards/overview", params={"product_line": "radio"}, headers=ANALYST)
    assert bad.status_code == 422 and "product_line" in bad.text
    unknown = await client.get("/api/v1/analytics/dashboards/charts/nothing", headers=ANALYST)
    assert unknown.status_code == 422 and "chart" in unknown.text
    reversed_period = await client.get(
        "/api/v1/analytics/dashboards/overview", params={"from": PERIOD["to"], "to": PERIOD["from"]}, headers=ANALYST
    )
    assert reversed_period.status_code == 422 and "from" in reversed_period.text


async def test_no_answer_and_no_table_holds_an_identifier_or_a_phone(client, app, settings):
    texts = [json.dumps(await overview(client)), json.dumps(await overview(client, params=PERIOD))]
    for chart in CHARTS:
        answer = await client.get(f"/api/v1/analytics/dashboards/charts/{chart}", params=PERIOD, headers=ANALYST)
        export = await client.get(
            f"/api/v1/analytics/dashboards/charts/{chart}/export", params=PERIOD | {"format": "csv"}, headers=ANALYST
        )
        assert answer.status_code == 200 and export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        assert export.text.splitlines()[0].split(",") == answer.json()["columns"]
        texts += [answer.text, export.text]
    report = await client.get(
        "/api/v1/analytics/reports/monthly", params={"month": "2026-03", "region_code": REGION}, headers=ANALYST
    )
    assert report.status_code == 200
    texts.append(json.dumps(workbook_cells(report.content)))
    from crm_analytics.db.store import EventStore

    store = EventStore(settings)
    for table in await store.tables():
        _, rows = await store.query(f"SELECT * FROM {settings.clickhouse_database}.{table} FORMAT JSONCompact")
        assert rows, table
        texts.append(json.dumps(rows))
    leaks = [found for text in texts for found in PERSONAL.findall(text)]
    assert leaks == []


def workbook_cells(content: bytes) -> list:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    assert "summary" in book.sheetnames and "revenue_by_region" in book.sheetnames
    return [[cell for cell in row] for sheet in book for row in sheet.iter_rows(values_only=True)]


async def test_a_rebuild_from_the_topics_gives_the_same_figures(client):
    before = await overview(client)
    refused = await client.post("/api/v1/analytics/store/rebuild", headers=ANALYST)
    assert refused.status_code == 403
    started = await client.post("/api/v1/analytics/store/rebuild", headers=ADMIN)
    assert started.status_code == 202

    async def rebuilt():
        now = await overview(client)
        return now if figures(now) == figures(before) else None

    after = await eventually(rebuilt, message="the rebuilt store's figures")
    for section in ("customers", "pipeline", "orders_revenue", "installed_base", "tickets"):
        assert after[section] == before[section], section


async def test_an_erasure_forgets_the_pseudonym_and_is_confirmed(client, settings):
    customer = next(e for _, e in EVENTS if e.type == "crm.sales.customer.created")
    active_before = (await overview(client))["customers"]["active"]
    erasure_id = str(uuid.uuid4())
    erased = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/sales",
        type="crm.sales.customer.erased",
        subject=customer.data["id"],
        data={
            "customer_id": customer.data["id"],
            "erasure_id": erasure_id,
            "customer_ids": [customer.data["id"]],
            "requested_at": datetime.now(UTC).isoformat(),
        },
        time=datetime.now(UTC),
    )
    await publish_events(settings, "crm.sales.customer.v1", [erased])
    db = Database(settings.database_url)
    try:

        async def confirmed():
            async with db.read_only() as session:
                salt = await session.scalar(
                    select(CustomerPseudonym.salt).where(CustomerPseudonym.customer_id == customer.data["id"])
                )
                event = await session.scalar(
                    select(OutboxEvent).where(OutboxEvent.type == ERASURE_CONFIRMED, OutboxEvent.subject == erasure_id)
                )
                return event if event is not None and salt is None else None

        await eventually(confirmed, message="the erasure confirmed")
    finally:
        await db.dispose()

    async def no_longer_active():
        return (await overview(client))["customers"]["active"] == active_before - 1

    await eventually(no_longer_active, message="the erased customer no longer active")
    assert figures(await overview(client)) == expected()  # created in the period all the same


async def test_the_monthly_report_of_each_region_is_written_once(settings, app, tmp_path):
    from crm_analytics.db.store import EventStore
    from crm_analytics.services import export_service

    store = EventStore(settings)
    written = await export_service.write_monthly_reports(store, tmp_path, "2026-03")
    mine = tmp_path / "2026-03" / f"analytics-{REGION}-2026-03.xlsx"
    assert mine in written and mine.exists()
    assert workbook_cells(mine.read_bytes())
    again = await export_service.write_monthly_reports(store, tmp_path, "2026-03")
    assert mine not in again
    assert export_service.previous_month(datetime(2026, 1, 15, tzinfo=UTC)) == "2025-12"
