"""A customer principal (Role.CUSTOMER, the self-service portal) straight against sales: their own
record only (another customer's, by any route, is a 404, as is a made-up id), identifiers masked,
and of their own record they change e-mail, language and consents, nothing else."""

from __future__ import annotations

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])


def as_customer(customer_id: str) -> dict[str, str]:
    return auth_headers(Principal(f"customer:{customer_id}", "portal", Role.CUSTOMER, customer_id=customer_id))


async def register(client, body) -> dict:
    response = await client.post(BASE, json=body, headers=AGENT)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_customer_reads_and_changes_only_their_own_record(client, ids):
    iin = ids.iin()
    alia = await register(client, ids.individual(first_name="Alia", iin=iin, marketing_consent=True))
    bolat = await register(client, ids.individual(first_name="Bolat"))
    me = as_customer(alia["id"])

    own = await client.get(f"{BASE}/{alia['id']}", headers=me)
    assert own.status_code == 200, own.text
    assert own.json()["iin"].endswith(iin[-4:]) and iin not in own.text  # masked, like the call centre's view

    for path in (
        f"{BASE}/{bolat['id']}",
        f"{BASE}/{bolat['id']}/history",
        f"{BASE}/00000000-0000-0000-0000-000000000000",
    ):
        assert (await client.get(path, headers=me)).status_code == 404, path
    listed = (await client.get(BASE, headers=me, params={"phone": bolat["primary_phone"]})).json()["items"]
    assert listed == []
    everyone = (await client.get(BASE, headers=me, params={"limit": 100})).json()["items"]
    assert [c["id"] for c in everyone] == [alia["id"]]

    patched = await client.patch(
        f"{BASE}/{alia['id']}",
        headers=me,
        json={"marketing_consent": False, "language": "en", "email": "alia@example.kz", "version": alia["version"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["marketing_consent"], patched.json()["language"]) == (False, "en")

    for body in ({"first_name": "Someone"}, {"status": "inactive"}, {"primary_phone": ids.mobile()}):
        refused = await client.patch(
            f"{BASE}/{alia['id']}", headers=me, json=body | {"version": patched.json()["version"]}
        )
        assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == next(iter(body)), refused.text
    other = await client.patch(
        f"{BASE}/{bolat['id']}", headers=me, json={"language": "en", "version": bolat["version"]}
    )
    assert other.status_code == 404, other.text
    for method, path, body in (
        ("POST", f"{BASE}/{alia['id']}/contacts", {"name": "Someone Else"}),
        ("POST", BASE, ids.individual()),
        ("POST", f"{BASE}/{alia['id']}/merge", {"duplicate_id": bolat["id"]}),
    ):
        answer = await client.request(method, path, headers=me, json=body)
        assert answer.status_code == 403, (path, answer.text)

    # a phone (the portal confirmed it with a code sent to it first): their own record only
    added = await client.post(f"{BASE}/{alia['id']}/phones", headers=me, json={"phone": ids.mobile()})
    assert added.status_code == 201, added.text
    assert (
        await client.post(f"{BASE}/{bolat['id']}/phones", headers=me, json={"phone": ids.mobile()})
    ).status_code == 404

    history = (await client.get(f"{BASE}/{alia['id']}/history", headers=AGENT)).json()["items"]
    assert any(e["actor_id"] == f"customer:{alia['id']}" and "marketing_consent" in e["changes"] for e in history)


async def test_a_customer_asks_for_erasure_and_a_privacy_officer_answers_it(client, ids):
    carol = await register(client, ids.individual(first_name="Karlygash"))
    dana = await register(client, ids.individual(first_name="Dana"))
    me = as_customer(carol["id"])
    officer = auth_headers(PRINCIPALS["privacy_officer"])

    asked = await client.post(f"{BASE}/{carol['id']}/erasure-asks", headers=me, json={"reason": "I left"})
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    again = await client.post(f"{BASE}/{carol['id']}/erasure-asks", headers=me, json={})
    assert again.status_code == 200 and again.json()["id"] == asked.json()["id"], again.text
    # not for anyone else, and not for staff (they erase, or not)
    assert (await client.post(f"{BASE}/{dana['id']}/erasure-asks", headers=me, json={})).status_code == 404
    assert (await client.post(f"{BASE}/{carol['id']}/erasure-asks", headers=officer, json={})).status_code == 403
    assert (await client.get("/api/v1/sales/erasure-asks", headers=me)).status_code == 403
    assert (await client.post(f"{BASE}/{carol['id']}/erasure", headers=me, json={"reason": "me"})).status_code == 403

    pending = (await client.get("/api/v1/sales/erasure-asks", headers=officer)).json()["items"]
    assert asked.json()["id"] in [a["id"] for a in pending]
    erased = await client.post(f"{BASE}/{carol['id']}/erasure", headers=officer, json={"reason": "DSR via the portal"})
    assert erased.status_code == 201, erased.text
    confirmed = (await client.get("/api/v1/sales/erasure-asks", headers=officer, params={"status": "confirmed"})).json()
    assert asked.json()["id"] in [a["id"] for a in confirmed["items"]]
    assert asked.json()["id"] not in [
        a["id"] for a in (await client.get("/api/v1/sales/erasure-asks", headers=officer)).json()["items"]
    ]
