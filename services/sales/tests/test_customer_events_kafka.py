"""Customer events reach Kafka: the sales app with its outbox relay and the real broker."""

from __future__ import annotations

import orjson
import pytest

from crm_contracts.events import validate
from crm_sales.config import SalesSettings
from crm_sales.events.publishers import CUSTOMER_TOPIC as TOPIC
from crm_shared.kafka import ensure_topics
from crm_shared.testing import PRINCIPALS, auth_headers, read_topic

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"


@pytest.fixture(scope="module")
def sales_settings(sales_database, kafka_bootstrap) -> SalesSettings:
    return SalesSettings(
        database_url=sales_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        relay_enabled=True,
        consumers_enabled=False,
        grpc_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


def _headers(record) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers or ()}


async def test_customer_changes_are_published_in_order_as_cloud_events(client, ids, kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, [(TOPIC, 3)])
    agent = auth_headers(PRINCIPALS["branch_agent"])
    created = await client.post(BASE, json=ids.individual(), headers=agent)
    assert created.status_code == 201
    customer = created.json()
    url = f"{BASE}/{customer['id']}"
    assert (await client.patch(url, json={"language": "ru", "version": 1}, headers=agent)).status_code == 200
    assert (await client.post(f"{url}/phones", json={"phone": ids.mobile()}, headers=agent)).status_code == 201

    def about_customer(records):
        return [r for r in records if r.key == customer["id"].encode()]

    records = about_customer(await read_topic(kafka_bootstrap, TOPIC, lambda rs: len(about_customer(rs)) >= 3))
    assert [_headers(r)["ce_type"] for r in records] == [
        "crm.sales.customer.created",
        "crm.sales.customer.updated",
        "crm.sales.customer.phone_added",
    ]
    assert len({r.partition for r in records}) == 1  # one key, one partition: per-customer order
    for record in records:
        headers = _headers(record)
        assert headers["ce_source"] == "/crm/sales" and headers["ce_subject"] == customer["id"]
        assert headers["ce_region"] == "KZ-75" and headers["ce_branch"] == "ALA-01"
        assert headers["ce_dataschema"] == f"urn:qazaq-crm:schema:{headers['ce_type']}:1"
        assert "traceparent" in headers
        data = orjson.loads(record.value)
        validate(headers["ce_type"], data)
    versions = [orjson.loads(r.value)["version"] for r in records]
    assert versions == [1, 2, 3]
    assert orjson.loads(records[1].value)["changes"] == {"language": ["kk", "ru"]}
