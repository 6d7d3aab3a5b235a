"""User events leave the gateway's outbox for Kafka through the shared relay (real broker)."""

from __future__ import annotations

import pytest

from crm_contracts.events import validate
from crm_shared.envelope import CloudEvent
from crm_shared.kafka import ensure_topics
from crm_shared.testing import read_topic

from .conftest import running_gateway

pytestmark = pytest.mark.integration
USER_TOPIC = "crm.gateway.user.v1"


async def test_a_created_user_is_published_as_a_cloud_event(gateway_database, kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, [(USER_TOPIC, 3)])
    async with running_gateway(
        gateway_database, seed=True, relay_enabled=True, kafka_bootstrap_servers=kafka_bootstrap
    ) as gw:
        admin = await gw.login("admin")
        created = await gw.client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": "kafka.agent",
                "full_name": "Kafka Agent",
                "password": "long-enough-1",
                "role": "branch_agent",
                "branch_code": "AST-01",
                "email": "kafka.agent@qazaq-telecom.kz",
            },
        )
        assert created.status_code == 201
        user_id = created.json()["id"]

        # No consumer group (no rebalance to wait for), every partition the topic has from the start:
        # on the session's shared broker the topic may have been made before this test, by a client
        # that asked for it (Tansu then creates it with 4 partitions, not the catalogue's 3).
        seen: dict[str, CloudEvent] = {}
        decoded = 0

        def found(records) -> bool:
            nonlocal decoded
            for record in records[decoded:]:
                event = CloudEvent.from_kafka(record.headers, record.value)
                seen[event.subject] = event
            decoded = len(records)
            return user_id in seen and "user-admin" in seen

        await read_topic(kafka_bootstrap, USER_TOPIC, until=found, timeout_s=120)

    event = seen[user_id]
    assert (event.type, event.source, event.dataschema) == (
        "crm.gateway.user.created",
        "/crm/gateway",
        "urn:qazaq-crm:schema:crm.gateway.user.created:1",
    )
    assert event.data == {
        "id": user_id,
        "username": "kafka.agent",
        "full_name": "Kafka Agent",
        "role": "branch_agent",
        "region_code": "KZ-71",
        "branch_code": "AST-01",
        "active": True,
        "email": "kafka.agent@qazaq-telecom.kz",  # sales' staff directory: where task reminders go
        "language": "ru",
    }
    validate(event.type, event.data)
    assert seen["user-admin"].data["role"] == "admin"  # the demo seed's events travel the same way
