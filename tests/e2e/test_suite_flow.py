"""End to end: the whole suite started the way `make run` starts it (`crm up --seed`), on
PostgreSQL databases and the real broker, driven only through the gateway.

almaty.agent creates a customer; callcenter finds it by a phone typed another way (IIN
masked); karaganda.agent cannot see it; a plain Kafka consumer reads its event; one trace
runs from the gateway request through the sales service and Kafka to the consumer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import date

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.identifiers import make_iin

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def fresh_identity() -> tuple[str, str, str]:
    rnd = random.Random()
    iin = None
    while iin is None:
        iin = make_iin(date(1985, rnd.randint(1, 12), rnd.randint(1, 28)), rnd.random() < 0.5, rnd.randint(1, 9999))
    digits = f"{rnd.randint(0, 9999999):07d}"
    return iin, f"8 (701) {digits[:3]}-{digits[3:5]}-{digits[5:]}", f"+7701{digits}"


async def test_customer_flow_across_roles_kafka_and_tracing(suite: RunningSuite):
    iin, typed_phone, e164 = fresh_identity()
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok", health

        # branch staff register a customer; the branch defaults to the agent's
        agent = await sign_in(client, "almaty.agent")
        created = await client.post(
            "/api/v1/sales/customers",
            headers=agent,
            json={"kind": "individual", "iin": iin, "first_name": "Dana", "last_name": "Omarova", "phone": typed_phone},
        )
        assert created.status_code == 201, created.text
        customer = created.json()
        customer_id = customer["id"]
        assert customer["branch_code"] == "ALA-01" and customer["iin"] == iin
        trace_request_id = created.headers["x-request-id"]

        # the call centre finds the caller by the number typed differently; IIN masked
        callcenter = await sign_in(client, "callcenter")
        found = await client.get(
            "/api/v1/sales/customers", headers=callcenter, params={"phone": f"+7 701 {e164[5:8]} {e164[8:]}"}
        )
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        assert [c["id"] for c in items] == [customer_id]
        assert items[0]["iin"] != iin and items[0]["iin"].endswith(iin[-4:])

        # another region's agent: not found, by id or by search
        karaganda = await sign_in(client, "karaganda.agent")
        assert (await client.get(f"/api/v1/sales/customers/{customer_id}", headers=karaganda)).status_code == 404
        hidden = await client.get("/api/v1/sales/customers", headers=karaganda, params={"phone": e164})
        assert hidden.status_code == 200 and hidden.json()["items"] == []

        # no token, no data
        assert (await client.get(f"/api/v1/sales/customers/{customer_id}")).status_code == 401

    event = await read_customer_event(suite, customer_id)
    assert event["headers"]["ce_type"] == "crm.sales.customer.created"
    assert event["headers"]["ce_subject"] == customer_id
    assert event["headers"]["ce_branch"] == "ALA-01"
    assert event["key"] == customer_id
    assert event["value"]["id"] == customer_id or event["value"].get("customer", {}).get("id") == customer_id

    trace = await find_trace(suite, event["headers"]["traceparent"].split("-")[1])
    services = {span["service"] for span in trace}
    assert {"gateway", "sales"} <= services, services
    names = [span["name"] for span in trace]
    assert any(n.startswith("publish crm.sales.customer.v1") for n in names), names
    assert any(n.startswith("process crm.sales.customer.v1") for n in names), names
    assert any(span["service"] == "gateway" and span["parent_id"] is None for span in trace), (
        "the trace starts at the gateway request"
    )
    assert trace_request_id


async def read_customer_event(suite: RunningSuite, customer_id: str) -> dict:
    consumer = AIOKafkaConsumer(
        "crm.sales.customer.v1",
        bootstrap_servers=f"127.0.0.1:{suite.broker_port}",
        group_id=f"e2e-{customer_id}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                for msg in messages:
                    headers = {k: v.decode() for k, v in msg.headers}
                    if headers.get("ce_subject") == customer_id and headers.get("ce_type", "").endswith(".created"):
                        return {"headers": headers, "key": msg.key.decode(), "value": json.loads(msg.value)}
        raise AssertionError(f"no created event for {customer_id} on crm.sales.customer.v1")
    finally:
        await consumer.stop()


async def find_trace(suite: RunningSuite, trace_id: str) -> list[dict]:
    """The spans of one trace from var/traces.jsonl, once the consumer's span has been exported."""
    path = suite.var_dir / "traces.jsonl"
    deadline = time.monotonic() + 30
    spans: list[dict] = []
    while time.monotonic() < deadline:
        if path.exists():
            # Complete lines only (a process may be appending one), split at newlines only:
            # str.splitlines also breaks at U+2028 or U+0085 inside a span's strings.
            text = path.read_text()
            lines = filter(None, text[: text.rfind("\n") + 1].split("\n"))
            spans = [s for s in map(json.loads, lines) if s["trace_id"] == trace_id]
            if any(s["name"].startswith("process crm.sales.customer.v1") for s in spans):
                return spans
        await asyncio.sleep(0.5)
    raise AssertionError(f"trace {trace_id} never reached a consumer; spans seen: {[s['name'] for s in spans]}")
