"""crm.tickets.v1.PersonalDataService: everything the tickets service holds about one customer
(tickets with every note, internal ones too, status history, attachments; interactions; linked
incidents), for privacy officers and administrators only; and what the privacy officer may do
with tickets otherwise (read, never work them)."""

from __future__ import annotations

import json

import grpc
import pytest
import pytest_asyncio

from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2 as pb
from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2_grpc as pb_grpc
from crm_shared.grpc import field_violations, open_channel, principal_metadata
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, auth_headers

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
CALL_CENTER = auth_headers(PRINCIPALS["call_center_agent"])
PRIVACY = auth_headers(PRINCIPALS["privacy_officer"])


def meta(role: str):
    return principal_metadata(PRINCIPALS[role], TEST_INTERNAL_TOKEN_SECRET)


@pytest_asyncio.fixture(scope="module")
async def stub(tickets_app):
    worker = next(w for w in tickets_app.state.runtime.workers if w.name == "grpc-server")
    channel = await open_channel(f"127.0.0.1:{worker.port}")
    yield pb_grpc.PersonalDataServiceStub(channel)
    await channel.close()


async def post(client, path: str, body: dict, headers=CALL_CENTER) -> dict:
    response = await client.post(f"{T}{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_the_export_holds_every_ticket_note_and_call_of_the_customer(client, stub, make_customer):
    customer, someone_else = await make_customer(), await make_customer()
    call = await post(client, "/interactions", {"customer_id": customer["id"], "summary": "Calls about the router"})
    ticket = await post(
        client,
        "/tickets",
        {
            "customer_id": customer["id"],
            "name": "No internet",
            "description": "Red light",
            "category": "internet",
            "interaction_id": call["id"],
        },
    )
    await post(client, f"/tickets/{ticket['id']}/notes", {"text": "Router restarted", "visibility": "customer"})
    await post(client, f"/tickets/{ticket['id']}/notes", {"text": "Customer was rude", "visibility": "internal"})
    await post(client, f"/tickets/{ticket['id']}/transitions", {"status": "acknowledged"})
    await post(client, f"/interactions/{call['id']}/end", {"outcome": "ticket_opened", "ticket_id": ticket["id"]})
    await post(
        client,
        "/tickets",
        {"customer_id": someone_else["id"], "name": "TV", "description": "No signal", "category": "tv"},
    )

    reply = await stub.ExportCustomerData(
        pb.ExportCustomerDataRequest(customer_id=customer["id"]), metadata=meta("privacy_officer")
    )
    document = json.loads(reply.document_json)
    assert reply.customer_id == customer["id"] and reply.HasField("generated_at")
    [exported] = document["tickets"]
    assert (exported["id"], exported["status"], exported["customer_id"]) == (
        ticket["id"],
        "acknowledged",
        customer["id"],
    )
    assert [(n["text"], n["visibility"]) for n in exported["notes"]] == [
        ("Router restarted", "customer"),
        ("Customer was rude", "internal"),
    ]
    assert [(s["from_status"], s["to_status"]) for s in exported["status_history"]][-1] == ("new", "acknowledged")
    assert exported["history"] and exported["history"][0]["action"] == "created"
    assert [(i["id"], i["outcome"], i["ticket_id"]) for i in document["interactions"]] == [
        (call["id"], "ticket_opened", ticket["id"])
    ]
    assert someone_else["id"] not in reply.document_json
    counts = dict(reply.record_counts)
    assert (counts["tickets"], counts["notes"], counts["interactions"]) == (1, 2, 1)

    nothing = await stub.ExportCustomerData(
        pb.ExportCustomerDataRequest(customer_id="00000000-0000-0000-0000-000000000000"), metadata=meta("admin")
    )
    assert json.loads(nothing.document_json) == {
        "tickets": [],
        "interactions": [],
        "incidents": [],
        "installed_products": [],
    }


@pytest.mark.parametrize("role", ["branch_agent", "regional_manager", "call_center_agent", "hq_analyst"])
async def test_only_privacy_officers_and_admins_export(stub, role):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ExportCustomerData(pb.ExportCustomerDataRequest(customer_id="x"), metadata=meta(role))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_export_without_a_customer_names_the_field(stub):
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.ExportCustomerData(pb.ExportCustomerDataRequest(), metadata=meta("privacy_officer"))
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v["field"] for v in field_violations(missing.value)] == ["customer_id"]


async def test_the_privacy_officer_reads_tickets_and_works_none(client, make_customer):
    customer = await make_customer()
    ticket = await post(
        client,
        "/tickets",
        {"customer_id": customer["id"], "name": "No internet", "description": "Red light", "category": "internet"},
    )
    assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=PRIVACY)).status_code == 200
    listed = await client.get(f"{T}/tickets", params={"customer_id": customer["id"]}, headers=PRIVACY)
    assert [t["id"] for t in listed.json()["items"]] == [ticket["id"]]
    calls = await client.get(f"{T}/interactions", params={"customer_id": customer["id"]}, headers=PRIVACY)
    assert calls.status_code == 200
    refused = [
        await client.post(
            f"{T}/tickets",
            json={"customer_id": customer["id"], "name": "x", "description": "y", "category": "internet"},
            headers=PRIVACY,
        ),
        await client.post(f"{T}/tickets/{ticket['id']}/notes", json={"text": "hi"}, headers=PRIVACY),
        await client.post(f"{T}/tickets/{ticket['id']}/transitions", json={"status": "acknowledged"}, headers=PRIVACY),
        await client.post(f"{T}/interactions", json={"customer_id": customer["id"]}, headers=PRIVACY),
        await client.post(
            f"{T}/incidents",
            json={"title": "Down", "description": "x", "region_code": "KZ-75", "categories": ["internet"]},
            headers=PRIVACY,
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
