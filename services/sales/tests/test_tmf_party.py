"""TMF632 Party (individual with IIN, organization with BIN) and TMF629 Customer: create where
the caller may write (an API key with sales:write), read by the href, list with fields,
offset/limit and 206; identifiers masked for callers that see them masked; record visibility
as the REST API applies it."""

from __future__ import annotations

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

PARTIES = "/tmf-api/partyManagement/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
ADMIN = auth_headers(PRINCIPALS["admin"])
BILLING = auth_headers(Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("sales:read",)))
KARAGANDA = Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")


def individual_body(iin: str, phone: str) -> dict:
    return {
        "@type": "Individual",
        "givenName": "Aigerim",
        "familyName": "Bekova",
        "individualIdentification": [{"identificationType": "iin", "identificationId": iin}],
        "contactMedium": [
            {"mediumType": "mobile", "preferred": True, "characteristic": {"phoneNumber": phone}},
            {"mediumType": "email", "characteristic": {"emailAddress": "aigerim@example.kz"}},
        ],
    }


async def test_individual_and_organization_create_read_list(client, ids):
    iin = ids.iin()
    created = await client.post(f"{PARTIES}/individual", headers=AGENT, json=individual_body(iin, ids.mobile()))
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["@type"] == "Individual" and person["@baseType"] == "Party"
    assert person["individualIdentification"][0] == {
        "identificationType": "IIN",
        "identificationId": iin,
        "issuingAuthority": "Republic of Kazakhstan",
    }
    assert created.headers["location"] == person["href"]
    assert (await client.get(person["href"], headers=AGENT)).json() == person
    assert (await client.get(person["@schemaLocation"], headers=AGENT)).status_code == 200

    # an API key sees the IIN masked, no birth date
    masked = (await client.get(person["href"], headers=BILLING)).json()
    assert masked["individualIdentification"][0]["identificationId"] == "********" + iin[-4:]
    assert iin not in str(masked), masked
    assert "birthDate" not in masked

    # the same person as a TMF629 customer, whose engagedParty resolves
    as_customer = (await client.get(f"{CUSTOMERS}/{person['id']}", headers=BILLING)).json()
    assert as_customer["@type"] == "Customer" and as_customer["engagedParty"]["href"] == person["href"]
    assert (await client.get(as_customer["engagedParty"]["href"], headers=BILLING)).status_code == 200

    bin_ = ids.bin()
    org = await client.post(
        f"{PARTIES}/organization",
        headers=AGENT,
        json={
            "name": "Dala Logistics LLP",
            "organizationType": "LLP",
            "organizationIdentification": [{"identificationType": "BIN", "identificationId": bin_}],
            "contactMedium": [{"mediumType": "phone", "characteristic": {"phoneNumber": ids.mobile()}}],
        },
    )
    assert org.status_code == 201, org.text
    assert org.json()["organizationIdentification"][0]["identificationId"] == bin_
    # an organization is not an individual
    assert (await client.get(f"{PARTIES}/individual/{org.json()['id']}", headers=AGENT)).status_code == 404

    page = await client.get(f"{PARTIES}/individual", headers=AGENT, params={"limit": 1, "fields": "familyName"})
    assert page.status_code in (200, 206) and page.headers["X-Result-Count"] == "1"
    assert set(page.json()[0]) <= {"id", "href", "@type", "@baseType", "@schemaLocation", "familyName"}
    everyone = await client.get(CUSTOMERS, headers=ADMIN, params={"limit": 200, "status": "Active"})
    assert {person["id"], org.json()["id"]} <= {c["id"] for c in everyone.json()}


async def test_refusals(client, ids):
    # a read-only key may not create
    refused = await client.post(f"{PARTIES}/individual", headers=BILLING, json=individual_body(ids.iin(), ids.mobile()))
    assert refused.status_code == 403
    no_phone = individual_body(ids.iin(), ids.mobile())
    no_phone["contactMedium"] = [{"mediumType": "email", "characteristic": {"emailAddress": "x@example.kz"}}]
    missing = await client.post(f"{PARTIES}/individual", headers=AGENT, json=no_phone)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "contactMedium"
    bad_iin = await client.post(
        f"{PARTIES}/individual", headers=AGENT, json=individual_body("123456789012", ids.mobile())
    )
    assert bad_iin.status_code == 422
    passport = individual_body(ids.iin(), ids.mobile())
    passport["individualIdentification"] = [{"identificationType": "passport", "identificationId": "N1234567"}]
    no_iin = await client.post(f"{PARTIES}/individual", headers=AGENT, json=passport)
    assert no_iin.status_code == 422 and no_iin.json()["errors"][0]["field"] == "individualIdentification"
    assert (await client.get(CUSTOMERS)).status_code == 401
    assert (await client.get(CUSTOMERS, headers=AGENT, params={"fields": "secret"})).status_code == 400


@pytest.mark.parametrize(
    ("who", "sees"), [("admin", True), ("branch_agent", True), (KARAGANDA, False), ("hq_analyst", None)]
)
async def test_visibility(client, ids, who, sees):
    created = await client.post(f"{PARTIES}/individual", headers=AGENT, json=individual_body(ids.iin(), ids.mobile()))
    principal = PRINCIPALS[who] if isinstance(who, str) else who
    got = await client.get(f"{CUSTOMERS}/{created.json()['id']}", headers=auth_headers(principal))
    assert got.status_code == {True: 200, False: 404, None: 403}[sees], got.text
