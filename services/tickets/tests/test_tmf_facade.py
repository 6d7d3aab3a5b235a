"""The TMF621 facade: create, get, list with filters and field selection, PATCH; bodies
validated against the service's own OpenAPI document; bad input is a 4xx, never a 500."""

from __future__ import annotations

import jsonschema
import pytest
from referencing import Registry, Resource

from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration
BASE = "/tmf-api/troubleTicket/v4/troubleTicket"


@pytest.fixture(scope="module")
def validator(tickets_app):
    document = tickets_app.openapi()
    registry = Registry().with_resource("urn:openapi", Resource.opaque(document))
    schema = {"$ref": "urn:openapi#/components/schemas/TroubleTicket"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


async def test_tmf_create_get_list_patch(client, make_customer, validator):
    headers = auth_headers(PRINCIPALS["call_center_agent"])
    customer = await make_customer()
    created = await client.post(
        BASE,
        headers=headers,
        json={
            "name": "TV has no signal",
            "description": "All channels black",
            "severity": "major",
            "ticketType": "tv",
            "priority": "2",
            "channel": {"name": "phone"},
            "@type": "TroubleTicket",
            "relatedParty": [{"id": customer["id"], "role": "customer", "@referredType": "Customer"}],
            "note": [{"text": "customer tried another HDMI port"}],
        },
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    validator.validate(ticket)
    assert ticket["href"] == f"{BASE}/{ticket['id']}" and ticket["@type"] == "TroubleTicket"
    assert ticket["status"] == "new" and ticket["priority"] == "high" and ticket["ticketType"] == "tv"
    assert ticket["relatedParty"][0]["id"] == customer["id"] and ticket["note"][0]["text"].startswith("customer")

    got = await client.get(f"{BASE}/{ticket['id']}", headers=headers)
    validator.validate(got.json())
    listed = await client.get(
        BASE,
        headers=headers,
        params={
            "ticketType": "tv",
            "severity": "major",
            "creationDate.gte": ticket["creationDate"],
            "fields": "status,name",
            "limit": 5,
        },
    )
    assert listed.status_code == 200, listed.text
    assert {"id", "href", "@type", "status", "name"} == set(listed.json()[0])
    assert int(listed.headers["X-Total-Count"]) >= 1

    patched = await client.patch(
        f"{BASE}/{ticket['id']}",
        headers=headers,
        json={"status": "inProgress", "statusChangeReason": "technician assigned"},
    )
    assert patched.status_code == 200, patched.text
    validator.validate(patched.json())
    assert [h["status"] for h in patched.json()["statusChangeHistory"]] == ["new", "inProgress"]
    illegal = await client.patch(f"{BASE}/{ticket['id']}", headers=headers, json={"status": "closed"})
    assert illegal.status_code == 409 and "resolved" in illegal.json()["allowed_transitions"]


async def test_tmf_bad_input_is_a_4xx(client, make_customer):
    headers = auth_headers(PRINCIPALS["call_center_agent"])
    customer = await make_customer()
    missing = await client.post(
        BASE,
        headers=headers,
        json={"description": "d", "severity": "minor", "ticketType": "tv", "relatedParty": [{"id": customer["id"]}]},
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "name"
    unknown = await client.post(
        BASE,
        headers=headers,
        json={
            "name": "n",
            "description": "d",
            "severity": "minor",
            "ticketType": "tv",
            "relatedParty": [{"id": "00000000-0000-4000-8000-000000000000", "role": "customer"}],
        },
    )
    # unknown (or invisible) to the caller in sales: 404 naming the field (crm_shared.clients.sales)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "relatedParty.id"
    bad_date = await client.get(BASE, headers=headers, params={"creationDate.gt": "yesterday"})
    assert bad_date.status_code == 400 and bad_date.json()["errors"][0]["field"] == "creationDate.gt"
    bad_field = await client.get(BASE, headers=headers, params={"fields": "secret"})
    assert bad_field.status_code == 400
    huge_offset = await client.get(BASE, headers=headers, params={"offset": "99999999999999999999"})
    assert huge_offset.status_code == 422 and huge_offset.json()["errors"][0]["field"] == "offset"
