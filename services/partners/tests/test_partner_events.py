"""A partner's events reach the broker through the outbox relay, and the service's own
consumer applies each of them once: the app with its relay and consumer running, the real
Kafka-protocol broker and PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_partners.config import PartnersSettings
from crm_partners.events.publishers import CREATED, TOPIC, UPDATED
from crm_shared.kafka import ensure_topics
from crm_shared.models import InboxRecord, OutboxEvent
from crm_shared.outbox import as_cloud_event
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, group_caught_up, publish_events, read_topic

pytestmark = pytest.mark.integration

COLLECTION = "/api/v1/partners/partners"
COUNTS = "/api/v1/partners/partner-counts"
CONSUMER = "branch-counts"
CONSUMER_GROUP = f"partners.{CONSUMER}"  # <service_name>.<consumer name>
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01, KZ-75
ADMIN = auth_headers(PRINCIPALS["admin"])
ANALYST = auth_headers(PRINCIPALS["hq_analyst"])


@pytest_asyncio.fixture(scope="module")
async def settings(database_url, kafka_bootstrap) -> PartnersSettings:
    """The relay and the consumer on, the gRPC server off. The topic is made first, with the
    catalogue's partitions, as `crm topics --create` makes it."""
    partitions = next(topic for topic in contracts.topics() if topic["name"] == TOPIC).get("partitions", 1)
    await ensure_topics(kafka_bootstrap, [(TOPIC, partitions)])
    return PartnersSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        grpc_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


def ce_headers(record) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers or ()}


async def test_changes_are_published_in_order_as_cloud_events_that_keep_their_contract(client, kafka_bootstrap):
    registered = (await client.post(COLLECTION, json={"name": "Published"}, headers=AGENT)).json()
    changed = await client.patch(
        f"{COLLECTION}/{registered['id']}", json={"notes": "changed"}, headers=AGENT | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text

    def about_it(records):
        return [record for record in records if record.key == registered["id"].encode()]

    records = about_it(await read_topic(kafka_bootstrap, TOPIC, lambda so_far: len(about_it(so_far)) >= 2))
    assert [ce_headers(record)["ce_type"] for record in records] == [CREATED, UPDATED]
    for record in records:
        headers = ce_headers(record)
        assert headers["ce_source"] == "/crm/partners" and headers["ce_subject"] == registered["id"]
        assert (headers["ce_region"], headers["ce_branch"]) == ("KZ-75", "ALA-01")
        assert headers["ce_dataschema"] == f"urn:qazaq-crm:schema:{headers['ce_type']}:1"
        contracts.validate(headers["ce_type"], orjson.loads(record.value))
    assert [orjson.loads(record.value)["version"] for record in records] == [1, 2]


async def branch_count(client, branch_code: str, headers=ANALYST) -> int | None:
    counts = (await client.get(COUNTS, headers=headers)).json()
    return next((row["partners"] for row in counts if row["branch_code"] == branch_code), None)


async def test_the_branch_counts_take_each_partner_once_however_often_its_event_arrives(
    app, client, settings, kafka_bootstrap
):
    # KAR-01: a branch no other test of this module writes to.
    registered = [
        (await client.post(COLLECTION, json=body, headers=ADMIN)).json()
        for body in (
            {"name": "Karaganda 1", "branch_code": "KAR-01", "region_code": "KZ-35"},
            {"name": "Karaganda 2", "branch_code": "KAR-01", "region_code": "KZ-35"},
        )
    ]

    async def both_counted() -> bool:
        return await branch_count(client, "KAR-01") == 2

    await eventually(both_counted, message="KAR-01 counts its two partners")

    # The first one's created event delivered again, as a relay re-send or a replay would.
    db = app.state.runtime.db
    async with db.read_only() as session:
        outbox_row = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.subject == registered[0]["id"], OutboxEvent.type == CREATED)
        )
    await publish_events(settings, TOPIC, [as_cloud_event(outbox_row)])
    await eventually(lambda: group_caught_up(kafka_bootstrap, CONSUMER_GROUP, TOPIC), message="consumer caught up")

    assert await branch_count(client, "KAR-01") == 2
    async with db.read_only() as session:
        applied = list(await session.scalars(select(InboxRecord).where(InboxRecord.event_id == outbox_row.event_id)))
    assert [record.consumer for record in applied] == [CONSUMER]
    # the counts carry no personal data, yet keep to the caller's scope for every role but analysts
    assert await branch_count(client, "KAR-01", headers=AGENT) is None
