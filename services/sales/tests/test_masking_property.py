"""The masking rule as a property: for any person (any birth date, sex and serial, an individual
by IIN or a business by BIN, an e-mail made of the identifier or not, in any branch), no answer a
masked caller can receive from sales holds anything from which more than the last four digits
of the identifier can be derived: not the identifier, not its first eight digits, not the birth
date in any notation (crm_shared.testing.derivable_leaks).

"Every answer" is walked, not sampled: every GET path of the service's OpenAPI document (the walk
fails when a new one is not in WALK), the answers to the writes a masked API key may make, and
the gRPC CustomerService. "Masked caller" is every role that crm_shared.auth does not let see
identifiers (the walk fails when a new such role is not in MASKED_CALLERS)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import pytest
import pytest_asyncio
from google.protobuf.json_format import MessageToJson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as pb_grpc
from crm_sales.config import SalesSettings
from crm_shared.auth import UNMASKED_ROLES, Principal, Role
from crm_shared.grpc import open_channel, principal_metadata
from crm_shared.identifiers import make_bin, make_iin
from crm_shared.testing import (
    PRINCIPALS,
    TEST_INTERNAL_TOKEN_SECRET,
    Identities,
    auth_headers,
    derivable_leaks,
    rest_only_settings,
)

pytestmark = pytest.mark.integration

API = "/api/v1/sales"
ADMIN = auth_headers(PRINCIPALS["admin"])
EXAMPLES = int(os.environ.get("CRM_MASKING_EXAMPLES", "12"))

# Every caller that sees identifiers masked: the call centre, analysts, and API keys of external
# systems (national, placed in a branch, with and without write scopes).
MASKED_CALLERS: dict[str, Principal] = {
    "call_center_agent": PRINCIPALS["call_center_agent"],
    "hq_analyst": PRINCIPALS["hq_analyst"],
    "api_key_read": Principal("t-key-read", "key.read", Role.SYSTEM, scopes=("sales:read",)),
    "api_key_write": Principal(
        "t-key-write", "key.write", Role.SYSTEM, scopes=("sales:read", "sales:write", "sales:activities")
    ),
    "api_key_branch": Principal(
        "t-key-branch", "key.branch", Role.SYSTEM, region="KZ-75", branch="ALA-01", scopes=("sales:read",)
    ),
    # the partners service's roles: the channel manager sees no customer record, a partner's user
    # only those its partner brought
    "channel_manager": Principal("t-channel", "channel.manager", Role.CHANNEL_MANAGER),
    "partner": Principal("t-partner", "dealer.test", Role.PARTNER, partner_id="p-masking"),
    "marketer": Principal("t-marketer", "marketer", Role.MARKETER),
    # a portal customer (someone else than the person walked: they see their own record masked too,
    # test_customer_self_service.py)
    "customer": Principal("customer:t-other", "portal", Role.CUSTOMER, customer_id="t-other-customer"),
}
WRITER_KEY = MASKED_CALLERS["api_key_write"]


@dataclass(frozen=True)
class Person:
    kind: str
    identifier: str
    born: date | None  # individuals only; a BIN carries no birth date
    email_is_identifier: bool
    branch: str


@st.composite
def people(draw) -> Person:
    kind = draw(st.sampled_from(["individual", "business"]))
    email_is_identifier = draw(st.booleans())
    branch = draw(st.sampled_from(["ALA-01", "ALA-02", "KAR-01"]))
    if kind == "individual":
        born = draw(st.dates(date(1901, 1, 1), date(2012, 12, 31)))
        identifier = make_iin(born, draw(st.booleans()), draw(st.integers(0, 9999)))
        assume(identifier is not None)
        return Person(kind, identifier, born, email_is_identifier, branch)
    registered = draw(st.dates(date(1995, 1, 1), date(2025, 12, 31)))
    identifier = make_bin(registered, draw(st.sampled_from([4, 5, 6])), draw(st.integers(0, 99999)))
    assume(identifier is not None)
    return Person(kind, identifier, None, email_is_identifier, branch)


@pytest.fixture(scope="module")
def sales_settings(sales_database) -> SalesSettings:
    """With the gRPC server (any free port) and a look-up budget the walk does not exhaust."""
    return rest_only_settings(
        SalesSettings,
        sales_database,
        grpc_enabled=True,
        grpc_port=0,
        identifier_lookups_per_minute=100_000,
    )


@pytest_asyncio.fixture(scope="module")
async def customers_stub(sales_app):
    worker = next(w for w in sales_app.state.runtime.workers if w.name == "grpc-server")
    channel = await open_channel(f"127.0.0.1:{worker.port}")
    yield pb_grpc.CustomerServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
def phones(request) -> Identities:
    return Identities(seed=97)


def check(person: Person, who: str, what: str, text: str) -> None:
    leaks = derivable_leaks(text, person.identifier, person.born)
    assert not leaks, f"{who} reads {leaks} of {person.identifier} in {what}: {text[:2000]}"


async def record_story(client, person: Person, phones: Identities) -> dict[str, str]:
    """The person registered by an admin, with a change history, an opportunity, an activity and
    a lead; returns the ids the walk fills the paths with (None when absent)."""
    email = f"{person.identifier}@mail.kz" if person.email_is_identifier else "someone@example.kz"
    body = {"phone": phones.mobile(), "email": email, "branch_code": person.branch, "data_processing_consent": True}
    if person.kind == "individual":
        body |= {"kind": "individual", "iin": person.identifier, "first_name": "Walk", "last_name": "Maskova"}
    else:
        body |= {"kind": "business", "bin": person.identifier, "legal_name": "Walk Maskova Trade", "legal_form": "LLP"}
    created = await client.post(f"{API}/customers", json=body, headers=ADMIN)
    if created.status_code == 409:  # an earlier example (or the shrinker) registered this identifier
        query = {"iin" if person.kind == "individual" else "bin": person.identifier, "status": "any"}
        [customer] = (await client.get(f"{API}/customers", params=query, headers=ADMIN)).json()["items"]
    else:
        assert created.status_code == 201, created.text
        customer = created.json()
    url = f"{API}/customers/{customer['id']}"
    await client.patch(
        url,
        json={"marketing_consent": not customer["marketing_consent"]},
        headers=ADMIN | {"If-Match": f'"{customer["version"]}"'},
    )
    await client.post(f"{url}/phones", json={"phone": phones.mobile()}, headers=ADMIN)
    opportunity = await client.post(
        f"{API}/opportunities", json={"customer_id": customer["id"], "name": "Fibre"}, headers=ADMIN
    )
    activity = await client.post(
        f"{API}/activities",
        json={"kind": "note", "related_type": "customer", "related_id": customer["id"], "subject": "Walk"},
        headers=ADMIN,
    )
    lead = await client.post(
        f"{API}/leads",
        json={"source": "web", "name": "Walk Lead", "email": email, "interest": "internet", "owner_id": "t-admin"},
        headers=ADMIN,
    )
    # the person's row imported again (skipped: registered) by the admin: a job masked callers may not read
    kind, column = ("individual", "iin") if person.kind == "individual" else ("business", "bin")
    imported = await client.post(
        f"{API}/customers/imports",
        content=f"kind,{column},phone\n{kind},{person.identifier},{body['phone']}\n".encode(),
        headers=ADMIN | {"content-type": "text/csv"},
    )
    return {
        "customer": customer,
        "customer_id": customer["id"],
        "import_id": imported.json().get("id"),
        "opportunity_id": opportunity.json().get("id"),
        "activity_id": activity.json().get("id"),
        "lead_id": lead.json().get("id"),
        "operation_id": "00000000-0000-0000-0000-000000000000",
        "party_id": customer["id"],
        "type_name": "Individual",
    }


def walk(person: Person, story: dict) -> dict[str, list[dict]]:
    """Every GET path of sales' API with the queries a masked caller could send about the person."""
    customer = story["customer"]
    by_identifier = {"iin": person.identifier} if person.kind == "individual" else {"bin": person.identifier}
    return {
        "/api/v1/sales/customers": [
            by_identifier,
            by_identifier | {"status": "any"},
            {"phone": customer["primary_phone"]},
            {"q": customer["display_name"][:6], "limit": 200},
            {"branch_code": person.branch, "limit": 200},
        ],
        "/api/v1/sales/customers/export": [by_identifier, {"q": customer["display_name"][:6]}],
        "/api/v1/sales/customers/imports": [{}],
        "/api/v1/sales/customers/imports/{import_id}": [{}],
        "/api/v1/sales/customers/{customer_id}": [{}],
        "/api/v1/sales/customers/{customer_id}/history": [{}],
        "/api/v1/sales/customers/{customer_id}/interactions": [{}],
        "/api/v1/sales/customers/{customer_id}/personal-data": [{}],
        "/api/v1/sales/customers/{customer_id}/erasure": [{}],
        "/api/v1/sales/leads": [{"limit": 200}],
        "/api/v1/sales/leads/export": [{}],
        "/api/v1/sales/leads/{lead_id}": [{}],
        "/api/v1/sales/opportunities": [{"limit": 200}],
        "/api/v1/sales/opportunities/export": [{}],
        "/api/v1/sales/opportunities/{opportunity_id}": [{}],
        "/api/v1/sales/activities": [{"related_type": "customer", "related_id": customer["id"]}],
        "/api/v1/sales/activities/{activity_id}": [{}],
        "/api/v1/sales/reassignments/{operation_id}": [{}],
        "/api/v1/sales/stats/customers": [{}],
        "/api/v1/sales/identifier-lookups": [{}],
        "/api/v1/sales/erasure-asks": [{}, {"status": "confirmed"}],
        "/api/v1/sales/leads/{lead_id}/history": [{}],
        "/api/v1/sales/opportunities/{opportunity_id}/history": [{}],
        "/api/v1/sales/forecast": [{"group_by": group} for group in ("owner", "branch", "region", "month")],
        "/api/v1/sales/my-tasks": [{}],
        "/api/v1/sales/my-tasks/counts": [{}],
        "/api/v1/sales/overdue-tasks": [{}],
        # the TM Forum customer and party facades (TMF629, TMF632)
        "/tmf-api/customerManagement/v4/customer": [{}],
        "/tmf-api/customerManagement/v4/customer/{customer_id}": [{}],
        "/tmf-api/partyManagement/v4/individual": [{}],
        "/tmf-api/partyManagement/v4/individual/{party_id}": [{}],
        "/tmf-api/partyManagement/v4/organization": [{}],
        "/tmf-api/partyManagement/v4/organization/{party_id}": [{}],
        "/tmf-api/customerManagement/v4/schema/{type_name}.json": [{}],
        "/tmf-api/partyManagement/v4/schema/{type_name}.json": [{}],
    }


def test_every_masked_role_is_walked():
    masked_roles = {role for role in Role if role not in UNMASKED_ROLES}
    assert {p.role for p in MASKED_CALLERS.values()} == masked_roles, "add the new masked role to MASKED_CALLERS"


async def test_every_get_path_is_walked(sales_app):
    paths = {path for path, operations in sales_app.openapi()["paths"].items() if "get" in operations}
    example = Person("individual", "900515412345", date(1990, 5, 15), False, "ALA-01")
    assert paths == set(walk(example, {"customer": {"primary_phone": "", "display_name": "", "id": ""}})), (
        "a GET path is not in the masking walk"
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(person=people())
async def test_masked_callers_can_derive_nothing_beyond_the_last_four_digits(client, customers_stub, phones, person):
    story = await record_story(client, person, phones)
    customer = story["customer"]
    for who, principal in MASKED_CALLERS.items():
        headers = auth_headers(principal)
        for template, queries in walk(person, story).items():
            path = template.format(**story)
            for query in queries:
                response = await client.get(path, params=query, headers=headers)
                assert response.status_code < 500, response.text
                check(person, who, f"GET {path} {query}", response.text)

        metadata = principal_metadata(principal, TEST_INTERNAL_TOKEN_SECRET)
        rpcs = [
            ("GetCustomer", customers_stub.GetCustomer, pb.GetCustomerRequest(id=customer["id"])),
            ("BatchGetCustomers", customers_stub.BatchGetCustomers, pb.BatchGetCustomersRequest(ids=[customer["id"]])),
            (
                "SearchCustomers iin_bin",
                customers_stub.SearchCustomers,
                pb.SearchCustomersRequest(iin_bin=person.identifier),
            ),
            (
                "SearchCustomers phone",
                customers_stub.SearchCustomers,
                pb.SearchCustomersRequest(phone=customer["primary_phone"]),
            ),
            ("SearchCustomers name", customers_stub.SearchCustomers, pb.SearchCustomersRequest(name_prefix="Walk")),
        ]
        for name, rpc, request in rpcs:
            try:
                reply = await rpc(request, metadata=metadata)
            except Exception as error:  # a refusal (analysts) is an answer too
                check(person, who, f"gRPC {name} refusal", str(error))
                continue
            check(person, who, f"gRPC {name}", MessageToJson(reply))

    # What a masked API key with sales:write receives from its own writes about the person.
    key = auth_headers(WRITER_KEY)
    url = f"{API}/customers/{customer['id']}"
    version = (await client.get(url, headers=ADMIN)).json()["version"]
    writes = [
        await client.patch(url, json={"language": "ru", "version": version}, headers=key),
        await client.post(f"{url}/phones", json={"phone": phones.mobile()}, headers=key),
        await client.post(
            f"{url}/addresses",
            json={"kind": "billing", "city": "Almaty", "street": "Abay", "building": "1"},
            headers=key,
        ),
        await client.post(f"{API}/customers", json={**_copy(customer), "phone": phones.mobile()}, headers=key),
    ]
    for response in writes:
        assert response.status_code < 500, response.text
        check(person, "api_key_write", f"{response.request.method} {response.request.url.path}", response.text)


def _copy(customer: dict) -> dict:
    """A create body for the same person again (answered 409 duplicate, or 403 outside the key's scope)."""
    if customer["kind"] == "individual":
        return {
            "kind": "individual",
            "iin": customer["iin"],
            "first_name": "Again",
            "last_name": "Maskova",
            "branch_code": customer["branch_code"],
        }
    return {
        "kind": "business",
        "bin": customer["bin"],
        "legal_name": "Again Trade",
        "branch_code": customer["branch_code"],
    }
