"""GET /api/v1/sales/customers/{id}/personal-data: sales' own records of the person, and what
orders and tickets answer over their PersonalDataService (here two stand-in gRPC servers speaking
the real contracts, so that answers, refusals, silence and slowness can be chosen; the real
services are exported end to end in tests/e2e/test_personal_data.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import grpc
import httpx
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2 as orders_pb
from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2_grpc as orders_grpc
from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2 as tickets_pb
from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2_grpc as tickets_grpc
from crm_sales.config import SalesSettings
from crm_sales.main import create_app
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port
from crm_shared.grpc import GrpcServerWorker, current_principal
from crm_shared.settings import ServiceSettings
from crm_shared.testing import PRINCIPALS, auth_headers, rest_only_settings

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])
PRIVACY = auth_headers(PRINCIPALS["privacy_officer"])


class StandIn:
    """One service's PersonalDataService: answers ``documents[customer_id]`` (default: nothing
    held), or fails as told; remembers who asked."""

    def __init__(self, pb, service: str) -> None:
        self.pb = pb
        self.service = service
        self.documents: dict[str, dict] = {}
        self.callers: list[Principal] = []
        self.failure: grpc.StatusCode | None = None
        self.delay_s = 0.0

    async def ExportCustomerData(self, request, context):
        self.callers.append(current_principal())
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failure is not None:
            await context.abort(self.failure, f"{self.service} says no")
        document = self.documents.get(request.customer_id, {"records": []})
        stamp = Timestamp()
        stamp.FromDatetime(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
        return self.pb.ExportCustomerDataResponse(
            customer_id=request.customer_id,
            document_json=json.dumps(document),
            generated_at=stamp,
            record_counts={"records": len(document.get("records", []))},
        )


@pytest_asyncio.fixture(scope="module")
async def stand_ins():
    orders, tickets = StandIn(orders_pb, "orders"), StandIn(tickets_pb, "tickets")

    def register(server):
        orders_grpc.add_PersonalDataServiceServicer_to_server(orders, server)
        tickets_grpc.add_PersonalDataServiceServicer_to_server(tickets, server)

    worker = GrpcServerWorker(ServiceSettings(grpc_port=0, log_json=False), register)
    await worker.start()
    yield {"orders": orders, "tickets": tickets, "target": f"127.0.0.1:{worker.port}"}
    await worker.stop()


@pytest.fixture(autouse=True)
def healthy(stand_ins):
    for stand_in in (stand_ins["orders"], stand_ins["tickets"]):
        stand_in.failure, stand_in.delay_s = None, 0.0
        stand_in.callers.clear()


@pytest.fixture(scope="module")
def sales_settings(sales_database, stand_ins) -> SalesSettings:
    return rest_only_settings(
        SalesSettings,
        sales_database,
        orders_grpc_target=stand_ins["target"],
        tickets_grpc_target=stand_ins["target"],
        orders_grpc_timeout_s=1.0,
        tickets_grpc_timeout_s=1.0,
    )


async def test_the_document_holds_sales_records_and_every_services_answer(client, ids, stand_ins):
    created = await client.post(
        BASE, json=ids.individual(data_processing_consent=True, email="aigerim@example.kz"), headers=AGENT
    )
    customer = created.json()
    url = f"{BASE}/{customer['id']}"
    await client.patch(url, json={"marketing_consent": True, "version": 1}, headers=AGENT)
    await client.patch(url, json={"marketing_consent": False, "version": 2}, headers=AGENT)
    opportunity = await client.post(
        "/api/v1/sales/opportunities", json={"customer_id": customer["id"], "name": "Fibre 300"}, headers=AGENT
    )
    assert opportunity.status_code == 201, opportunity.text
    call = await client.post(
        "/api/v1/sales/activities",
        json={"kind": "note", "related_type": "customer", "related_id": customer["id"], "subject": "Asked about TV"},
        headers=AGENT,
    )
    assert call.status_code == 201, call.text
    lead = await client.post(
        "/api/v1/sales/leads",
        json={"source": "web", "name": "Aigerim", "email": "aigerim@example.kz", "interest": "tv"},
        headers=AGENT,
    )
    assert lead.status_code == 201, lead.text
    looked_up = await client.get(
        BASE, params={"iin": customer["iin"]}, headers=auth_headers(PRINCIPALS["call_center_agent"])
    )
    assert looked_up.status_code == 200
    stand_ins["orders"].documents[customer["id"]] = {"records": [{"order": 1, "amount_tiyn": 9_007_199_254_740_993}]}
    stand_ins["tickets"].documents[customer["id"]] = {"records": [{"ticket": "No internet", "notes": ["internal"]}]}

    response = await client.get(f"{url}/personal-data", headers=PRIVACY)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="personal-data-{customer["id"]}.json"'
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["format"] == "qazaq-crm.personal-data/1"
    assert document["generated_by"] == {"id": "t-privacy", "name": "privacy.officer", "role": "privacy_officer"}
    assert (
        document["customer"]["iin"] == customer["iin"] and document["customer"]["birth_date"] == customer["birth_date"]
    )
    consents = {c["purpose"]: c for c in document["consents"]}
    assert consents["data_processing"]["given"] is True and consents["data_processing"]["given_at"]
    assert [h["given"] for h in consents["marketing"]["history"]] == [False, True, False]
    assert [h["action"] for h in document["history"]] == ["created", "updated", "updated"]
    assert [(a["action"], a["actor_id"]) for a in document["access_log"]] == [("iin_lookup", "t-callcenter")]
    assert [o["name"] for o in document["sales"]["opportunities"]] == ["Fibre 300"]
    assert [a["subject"] for a in document["sales"]["activities"]] == ["Asked about TV"]
    assert [(le["id"], le["matched_by"]) for le in document["sales"]["leads"]] == [(lead.json()["id"], "email")]
    # The other services' documents, unchanged (an integer beyond a double's precision survives).
    assert document["orders"] == {"records": [{"order": 1, "amount_tiyn": 9_007_199_254_740_993}]}
    assert document["tickets"]["records"][0]["ticket"] == "No internet"
    assert set(document["services"]) == {"sales", "orders", "tickets"}
    assert all(s["status"] == "complete" for s in document["services"].values())
    assert document["services"]["orders"]["record_counts"] == {"records": 1}
    # Each service was asked as the privacy officer, so that it checks the role itself.
    assert [p.role for p in stand_ins["orders"].callers] == [Role.PRIVACY_OFFICER]
    assert [p.subject for p in stand_ins["tickets"].callers] == ["t-privacy"]

    again = (await client.get(f"{url}/personal-data", headers=auth_headers(PRINCIPALS["admin"]))).json()
    assert [(a["action"], a["actor_id"]) for a in again["access_log"]][-1] == ("personal_data_exported", "t-privacy")
    assert again["access_log"][-1]["changes"]["services"] == [None, ["sales", "orders", "tickets"]]


@pytest.mark.parametrize(
    "role", ["branch_agent", "branch_manager", "regional_manager", "call_center_agent", "hq_analyst"]
)
async def test_only_privacy_officers_and_admins_export(client, ids, stand_ins, role):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    response = await client.get(f"{BASE}/{customer['id']}/personal-data", headers=auth_headers(PRINCIPALS[role]))
    assert response.status_code == 403
    assert customer["iin"] not in response.text
    assert stand_ins["orders"].callers == [] and stand_ins["tickets"].callers == []
    key = Principal("t-key", "key", Role.SYSTEM, scopes=("sales:read", "sales:write"))
    assert (await client.get(f"{BASE}/{customer['id']}/personal-data", headers=auth_headers(key))).status_code == 403


async def test_an_unknown_customer_is_a_404(client):
    response = await client.get(f"{BASE}/00000000-0000-0000-0000-000000000000/personal-data", headers=PRIVACY)
    assert response.status_code == 404


@pytest.mark.parametrize("failure", ["down", "slow"])
async def test_a_service_that_does_not_answer_is_a_503_naming_it(client, ids, stand_ins, failure):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    if failure == "down":
        stand_ins["tickets"].failure = grpc.StatusCode.UNAVAILABLE
    else:
        stand_ins["tickets"].delay_s = 1.5  # beyond the 1 s deadline of this module
    response = await client.get(f"{BASE}/{customer['id']}/personal-data", headers=PRIVACY)
    assert response.status_code == 503, response.text
    problem = response.json()
    assert problem["service"] == "tickets" and problem["services"] == ["tickets"]
    assert "tickets" in problem["detail"] and "incomplete" in problem["detail"]
    assert response.headers["retry-after"] == "5"
    assert customer["iin"] not in response.text
    # Nothing was exported, so nothing is audited as exported.
    stand_ins["tickets"].failure, stand_ins["tickets"].delay_s = None, 0.0
    document = (await client.get(f"{BASE}/{customer['id']}/personal-data", headers=PRIVACY)).json()
    assert [a["action"] for a in document["access_log"]] == []


async def test_both_silent_services_are_named(client, ids, stand_ins):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    stand_ins["orders"].failure = stand_ins["tickets"].failure = grpc.StatusCode.DEADLINE_EXCEEDED
    response = await client.get(f"{BASE}/{customer['id']}/personal-data", headers=PRIVACY)
    assert response.status_code == 503 and response.json()["services"] == ["orders", "tickets"]


async def test_a_service_that_refuses_the_caller_is_a_403(client, ids, stand_ins):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    stand_ins["orders"].failure = grpc.StatusCode.PERMISSION_DENIED
    response = await client.get(f"{BASE}/{customer['id']}/personal-data", headers=PRIVACY)
    assert response.status_code == 403 and response.json()["service"] == "orders"


async def test_services_that_are_not_there_at_all_are_a_503(sales_database, ids):
    nowhere = f"127.0.0.1:{free_port()}"
    settings = rest_only_settings(
        SalesSettings,
        sales_database,
        orders_grpc_target=nowhere,
        tickets_grpc_target=nowhere,
        orders_grpc_timeout_s=1.0,
        tickets_grpc_timeout_s=1.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sales") as client:
            ready = await client.get("/readyz")  # sales starts first: its readiness never waits for them
            assert ready.status_code == 200, ready.text
            customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
            response = await client.get(f"{BASE}/{customer['id']}/personal-data", headers=PRIVACY)
    assert response.status_code == 503 and response.json()["services"] == ["orders", "tickets"]


async def test_the_audit_of_identifier_look_ups_is_for_privacy_officers(client, ids):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    caller = Principal("t-cc-audit", "cc.audit", Role.CALL_CENTER_AGENT)
    await client.get(BASE, params={"iin": customer["iin"]}, headers=auth_headers(caller))
    listed = await client.get("/api/v1/sales/identifier-lookups", params={"caller_id": "t-cc-audit"}, headers=PRIVACY)
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["items"]
    assert (entry["caller_name"], entry["field"], entry["found_customer_ids"], entry["refused"], entry["via"]) == (
        "cc.audit",
        "iin",
        [customer["id"]],
        False,
        "rest",
    )
    assert entry["query"] == "********" + customer["iin"][-4:]
    refused = await client.get("/api/v1/sales/identifier-lookups", headers=auth_headers(PRINCIPALS["branch_manager"]))
    assert refused.status_code == 403
