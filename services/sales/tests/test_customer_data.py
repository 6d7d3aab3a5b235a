"""The migrations on PostgreSQL and SQLite (schema equal to the models), the customer API on
the embedded SQLite default, and the demo/bulk seeds."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from crm_contracts.events import validate
from crm_sales.config import SalesSettings
from crm_sales.db import models  # noqa: F401
from crm_sales.db.base import SalesBase
from crm_sales.db.models import Customer, CustomerPhone
from crm_sales.db.pipeline_models import Activity, Lead, Opportunity
from crm_sales.domain.pipeline import LeadStatus, Stage
from crm_sales.main import create_app
from crm_sales.seed import (
    CONVERTED_CUSTOMER_IIN,
    CUSTOMER_EVENTS_TOPIC,
    DEMO_ACTIVITIES,
    DEMO_LEADS,
    DEMO_OPPORTUNITIES,
    branch_customer_ids,
    customer_event_payloads,
    sample_customers,
    sample_phones,
    seed_bulk,
    seed_customer_events,
    seed_demo,
    taken_identifiers,
)
from crm_shared.db import Database
from crm_shared.identifiers import parse_bin, parse_iin
from crm_shared.migrations import upgrade_async
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, Identities, auth_headers, rest_only_settings, schema_differences

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
DEMO_OWNERS = {
    "user-almaty-agent",
    "user-almaty-manager",
    "user-karaganda-agent",
    "user-karaganda-manager",
    "user-admin",
}


async def _migrated(url: str) -> str:
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sales.db'}"


async def test_the_migrations_build_the_models_schema_on_postgresql(make_database):
    url = await _migrated(await make_database("sales_schema"))
    assert await schema_differences(url, SalesBase) == []


async def test_the_migrations_build_the_models_schema_on_sqlite(sqlite_url):
    await _migrated(sqlite_url)
    assert await schema_differences(sqlite_url, SalesBase) == []


async def test_the_customer_api_works_on_the_embedded_sqlite_database(sqlite_url):
    await upgrade_async(MIGRATIONS, sqlite_url)
    settings = rest_only_settings(SalesSettings, sqlite_url)
    app = create_app(settings)
    ids = Identities(seed=11)
    agent = auth_headers(PRINCIPALS["branch_agent"])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sales") as client:
            created = await client.post(
                "/api/v1/sales/customers",
                headers=agent,
                json=ids.individual(last_name="Omarova", phone="8 777 100 20 30"),
            )
            assert created.status_code == 201, created.text
            customer_id = created.json()["id"]
            second = await client.post(
                "/api/v1/sales/customers", headers=agent, json=ids.business(legal_name="Omarova_x Trade")
            )
            assert second.status_code == 201
            by_phone = await client.get("/api/v1/sales/customers", params={"phone": "+77771002030"}, headers=agent)
            assert [c["id"] for c in by_phone.json()["items"]] == [customer_id]
            # Any part of any name, on SQLite too ("_" separates words; "x" is spelt "ks" in any script).
            literal = await client.get("/api/v1/sales/customers", params={"q": "omarova_x"}, headers=agent)
            assert [c["id"] for c in literal.json()["items"]] == [second.json()["id"]]
            page = await client.get("/api/v1/sales/customers", params={"q": "omar", "limit": 1}, headers=agent)
            rest = await client.get(
                "/api/v1/sales/customers", params={"q": "omar", "cursor": page.json()["next_cursor"]}, headers=agent
            )
            assert [c["id"] for c in page.json()["items"] + rest.json()["items"]] == [customer_id, second.json()["id"]]
            patched = await client.patch(
                f"/api/v1/sales/customers/{customer_id}", json={"language": "ru"}, headers=agent | {"If-Match": '"1"'}
            )
            assert patched.status_code == 200 and patched.json()["version"] == 2
            stale = await client.patch(
                f"/api/v1/sales/customers/{customer_id}", json={"language": "en"}, headers=agent | {"If-Match": '"1"'}
            )
            assert stale.status_code == 412


async def test_demo_seed_creates_the_documented_customers_and_pipeline_once(make_database):
    url = await make_database("sales_seed")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    stories = len(DEMO_LEADS) + len(DEMO_OPPORTUNITIES) + len(DEMO_ACTIVITIES)
    conversions = sum(lead.status == LeadStatus.CONVERTED for lead in DEMO_LEADS)
    try:
        first = await seed_demo(db)
        assert first == {
            "created": 300,
            "existing": 0,
            "skipped": 0,
            "leads": len(DEMO_LEADS),
            "opportunities": len(DEMO_OPPORTUNITIES) + conversions,
            "activities": len(DEMO_ACTIVITIES),
            "customers_by_conversion": 1,
            "stories_existing": 0,
            "stories_skipped": 0,
        }
        second = await seed_demo(db)
        assert second == {
            "created": 0,
            "existing": 300,
            "skipped": 0,
            "leads": 0,
            "opportunities": 0,
            "activities": 0,
            "customers_by_conversion": 0,
            "stories_existing": stories,
            "stories_skipped": 0,
        }

        async with db.read_only() as session:
            aigerim = await session.scalar(
                select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == "+77011234567")
            )
            assert (aigerim.first_name, aigerim.middle_name, aigerim.last_name) == ("Aigerim", "Nurlanovna", "Seitkali")
            assert (aigerim.branch_code, aigerim.owner_id, aigerim.owner_name) == (
                "ALA-01",
                "user-almaty-agent",
                "Dana Nurlanovna",  # by name, not by sign-in name
            )
            steel = await session.scalar(select(Customer).where(Customer.legal_name == "Karaganda Steel Service"))
            assert (steel.kind, steel.branch_code, steel.region_code) == ("business", "KAR-01", "KZ-35")
            assert [c.name for c in steel.contacts] == ["Serik Akhmetov"]

            everyone = list(await session.scalars(select(Customer)))
            customers = [c for c in everyone if c.tax_id != CONVERTED_CUSTOMER_IIN]
            assert len(customers) == 300 and len(everyone) == 301
            assert {c.owner_id for c in customers} == DEMO_OWNERS
            assert len({c.branch_code for c in customers}) >= 10
            assert sum(c.kind == "business" for c in customers) >= 30
            assert any(not c.last_name.isascii() for c in customers if c.last_name)  # Russian names in Cyrillic
            for customer in customers:
                (parse_iin if customer.kind == "individual" else parse_bin)(customer.tax_id)
                assert customer.primary_phone[:5] in {
                    "+7700",
                    "+7701",
                    "+7702",
                    "+7705",
                    "+7707",
                    "+7708",
                    "+7747",
                    "+7771",
                    "+7775",
                    "+7776",
                    "+7777",
                    "+7778",
                    "+7721",
                    "+7717",
                }, customer.primary_phone
                owner_branch = {
                    "user-almaty-agent": "ALA-01",
                    "user-almaty-manager": "ALA-01",
                    "user-karaganda-agent": "KAR-01",
                    "user-karaganda-manager": "KAR-01",
                }
                assert owner_branch.get(customer.owner_id, customer.branch_code) == customer.branch_code

            # The lead conversion registered a customer for the lead's owner, though her manager converted it.
            converted = next(c for c in everyone if c.tax_id == CONVERTED_CUSTOMER_IIN)
            assert (converted.owner_id, converted.branch_code) == ("user-almaty-agent", "ALA-01")
            registered = await session.scalar(select(AuditEntry).where(AuditEntry.entity_id == converted.id))
            assert (registered.action, registered.actor_id) == ("created", "user-almaty-manager")

            leads = list(await session.scalars(select(Lead)))
            opportunities = list(await session.scalars(select(Opportunity)))
            activities = list(await session.scalars(select(Activity)))
            assert {lead.status for lead in leads} == set(LeadStatus)
            assert {o.stage for o in opportunities} == set(Stage)
            assert {lead.owner_id for lead in leads} == {
                "user-almaty-agent",
                "user-almaty-manager",
                "user-karaganda-agent",
                "user-karaganda-manager",
            }
            assert {"user-admin", "user-karaganda-regional"} <= {o.owner_id for o in opportunities}
            assert len({o.branch_code for o in opportunities}) >= 6
            places = {c.id: (c.region_code, c.branch_code) for c in everyone}
            for opportunity in opportunities:
                assert (opportunity.region_code, opportunity.branch_code) == places[opportunity.customer_id]
                assert isinstance(opportunity.amount_tiyn, int) and opportunity.amount_tiyn > 0
                closed = opportunity.stage in (Stage.CLOSED_WON, Stage.CLOSED_LOST)
                assert (opportunity.closed_at is not None) == closed == bool(opportunity.close_reason)
            for lead in leads:
                converted_lead = lead.status == LeadStatus.CONVERTED
                assert (lead.customer_id is not None) == (lead.opportunity_id is not None) == converted_lead
                assert bool(lead.disqualify_reason) == (lead.status == LeadStatus.DISQUALIFIED)
            assert {"meeting", "note", "task"} <= {a.kind for a in activities}
            assert {a.related_type for a in activities} == {"customer"}
            assert {a.related_id for a in activities} <= set(places)
            assert "user-callcenter" in {a.owner_id for a in activities}
            assert any(a.done_at is None and a.due_at is not None for a in activities)  # still to come

            events = list(await session.scalars(select(OutboxEvent)))
            for event in events:
                validate(event.type, event.data)
            types = {e.type for e in events}
            assert sum(e.type == "crm.sales.customer.created" for e in events) == 301
            assert {
                "crm.sales.lead.created",
                "crm.sales.lead.updated",
                "crm.sales.lead.converted",
                "crm.sales.opportunity.created",
                "crm.sales.opportunity.updated",
                "crm.sales.opportunity.won",
                "crm.sales.opportunity.lost",
                "crm.sales.activity.created",
            } <= types
            created = set(await session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "created")))
            assert {r.id for r in [*everyone, *leads, *opportunities, *activities]} <= created
    finally:
        await db.dispose()


async def test_bulk_seed_inserts_rows_without_events(make_database):
    url = await make_database("sales_bulk")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    try:
        assert await seed_bulk(db, 2500, seed=3, chunk=1000) == 2500
        assert await seed_bulk(db, 500, seed=3) == 500  # the same seed again: new, distinct identifiers
        async with db.read_only() as session:
            assert await session.scalar(select(func.count(func.distinct(Customer.tax_id)))) == 3000
            assert await session.scalar(select(func.count()).select_from(CustomerPhone)) == 3000
            assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
            sample = list(await session.scalars(select(Customer).limit(50)))
            for customer in sample:
                (parse_iin if customer.kind == "individual" else parse_bin)(customer.tax_id)
                assert customer.name_key and customer.version == 1
    finally:
        await db.dispose()


async def test_what_benchmarks_read_of_the_bulk_seed(make_database):
    url = await make_database("sales_bench_reads")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    try:
        await seed_bulk(db, 600, seed=5)
        async with db.read_only() as session:
            phones = {(p.customer_id, p.e164) for p in await session.scalars(select(CustomerPhone))}
            customers = {c.id: c for c in await session.scalars(select(Customer))}
        sample = await sample_phones(db, 100)
        assert len(sample) == len({s.e164 for s in sample}) == 100
        assert {(s.customer_id, s.e164) for s in sample} <= phones
        assert len(await sample_phones(db, 1000)) == 600
        assert await taken_identifiers(db) == {c.tax_id for c in customers.values()} | {e164 for _, e164 in phones}
        almaty = await branch_customer_ids(db, "ALA-01")
        assert almaty and sorted(almaty) == sorted(i for i, c in customers.items() if c.branch_code == "ALA-01")
        assert await branch_customer_ids(db, "NOPE-01") == []
        rows = await sample_customers(db, 50)
        assert len({r.id for r in rows}) == 50
        for row in rows:
            customer = customers[row.id]
            assert (row.kind, row.first_name, row.last_name, row.legal_name) == (
                customer.kind,
                customer.first_name,
                customer.last_name,
                customer.legal_name,
            )
            assert (row.branch_code, row.region_code) == (customer.branch_code, customer.region_code)
    finally:
        await db.dispose()


def test_customer_event_payloads_follow_the_contract():
    payloads = customer_event_payloads(40)
    assert len({p["id"] for p in payloads}) == 40
    for payload in payloads:
        validate("crm.sales.customer.created", payload)
    again = customer_event_payloads(40)
    assert [p["iin"] for p in again] == [p["iin"] for p in payloads]  # the same customers for the same seed


async def test_seed_customer_events_fills_the_outbox_only(make_database):
    url = await make_database("sales_bench_events")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    try:
        assert await seed_customer_events(db, 250, batch=100) == 250
        async with db.read_only() as session:
            events = list(await session.scalars(select(OutboxEvent)))
            assert await session.scalar(select(func.count()).select_from(Customer)) == 0
        assert len(events) == len({e.subject for e in events}) == 250
        assert {(e.topic, e.type, e.sent_at) for e in events} == {
            (CUSTOMER_EVENTS_TOPIC, "crm.sales.customer.created", None)
        }
        assert all(e.data["id"] == e.subject and e.key == e.subject for e in events)
    finally:
        await db.dispose()
