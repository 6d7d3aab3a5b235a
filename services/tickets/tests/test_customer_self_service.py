"""A customer principal (Role.CUSTOMER, the self-service portal) straight against the tickets
service: they open, read, note and rate their own tickets only; another customer's ticket is a 404
whatever the route, and the staff's work (changes, transitions, assignment) is refused."""

from __future__ import annotations

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
AGENT = auth_headers(PRINCIPALS["branch_agent"])


def as_customer(customer_id: str) -> dict[str, str]:
    return auth_headers(Principal(f"customer:{customer_id}", "portal customer", Role.CUSTOMER, customer_id=customer_id))


async def open_as(client, headers, customer_id: str, name: str = "No internet") -> dict:
    body = {"customer_id": customer_id, "name": name, "description": "since morning", "category": "internet"}
    response = await client.post(f"{T}/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_customer_sees_opens_notes_and_rates_only_their_own_tickets(client, make_customer):
    alia, bolat = await make_customer(first_name="Alia"), await make_customer(first_name="Bolat")
    me, other = as_customer(alia["id"]), as_customer(bolat["id"])
    by_staff = await open_as(client, AGENT, bolat["id"], "Bolat's TV")
    mine = await open_as(client, me, alia["id"])
    assert (mine["customer_id"], mine["channel"], mine["priority"]) == (alia["id"], "self_service", "medium")
    assert mine["rating"] is None

    # someone else's customer id when opening: sales answers 404 for the customer principal
    refused = await client.post(
        f"{T}/tickets",
        json={"customer_id": bolat["id"], "name": "x", "description": "y", "category": "tv"},
        headers=me,
    )
    assert refused.status_code == 404 and refused.json()["errors"][0]["field"] == "customer_id", refused.text
    internal = await client.post(
        f"{T}/tickets",
        json={"customer_id": alia["id"], "name": "x", "description": "y", "category": "tv", "note": "psst"},
        headers=me,
    )
    assert internal.status_code == 403, internal.text

    # lists: their own only, whatever the filter
    listed = (await client.get(f"{T}/tickets", headers=me)).json()["items"]
    assert [t["id"] for t in listed] == [mine["id"]]
    assert (await client.get(f"{T}/tickets", params={"customer_id": bolat["id"]}, headers=me)).json()["items"] == []

    # every route that takes a ticket id: another's is a 404, as is a made-up one
    for ticket_id in (by_staff["id"], "00000000-0000-0000-0000-000000000000"):
        assert (await client.get(f"{T}/tickets/{ticket_id}", headers=me)).status_code == 404
        assert (await client.get(f"{T}/tickets/{ticket_id}/history", headers=me)).status_code == 404
        noted = await client.post(f"{T}/tickets/{ticket_id}/notes", json={"text": "hi"}, headers=me)
        assert noted.status_code == 404, noted.text
        rated = await client.post(f"{T}/tickets/{ticket_id}/rating", json={"score": 1}, headers=me)
        assert rated.status_code == 404, rated.text
    assert (await client.get(f"{T}/tickets/{mine['id']}", headers=other)).status_code == 404

    # staff work is not the customer's
    staff_only = [
        ("PATCH", f"{T}/tickets/{mine['id']}", {"priority": "critical", "version": mine["version"]}),
        ("POST", f"{T}/tickets/{mine['id']}/transitions", {"status": "resolved", "reason": "me"}),
        ("POST", f"{T}/tickets/{mine['id']}/assignment", {"assignee_id": "x"}),
    ]
    for method, path, body in staff_only:
        answer = await client.request(method, path, json=body, headers=me)
        assert answer.status_code == 403, (path, answer.text)

    # a note from the customer is for the branch and for them (never internal)
    note = await client.post(
        f"{T}/tickets/{mine['id']}/notes", json={"text": "at home after 6", "visibility": "internal"}, headers=me
    )
    assert note.status_code == 201 and note.json()["visibility"] == "customer", note.text

    # rated once, after it is resolved; the branch sees the rating in the ticket
    early = await client.post(f"{T}/tickets/{mine['id']}/rating", json={"score": 5}, headers=me)
    assert early.status_code == 409, early.text
    resolved = await client.post(
        f"{T}/tickets/{mine['id']}/transitions", json={"status": "resolved", "reason": "fixed"}, headers=AGENT
    )
    assert resolved.status_code == 200, resolved.text
    assert (await client.post(f"{T}/tickets/{mine['id']}/rating", json={"score": 6}, headers=me)).status_code == 422
    staff_rating = await client.post(f"{T}/tickets/{mine['id']}/rating", json={"score": 5}, headers=AGENT)
    assert staff_rating.status_code == 403, staff_rating.text
    rated = await client.post(f"{T}/tickets/{mine['id']}/rating", json={"score": 4, "comment": "quick"}, headers=me)
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"]["score"] == 4
    again = await client.post(f"{T}/tickets/{mine['id']}/rating", json={"score": 1}, headers=me)
    assert again.status_code == 409, again.text
    seen_by_branch = (await client.get(f"{T}/tickets/{mine['id']}", headers=AGENT)).json()
    assert seen_by_branch["rating"] == {
        "score": 4,
        "comment": "quick",
        "rated_at": seen_by_branch["rating"]["rated_at"],
    }
