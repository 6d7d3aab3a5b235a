"""The customer search box (GET /customers?q=) against PostgreSQL: any part of any name in any
order, script and case, phone in any notation, IIN/BIN, e-mail; the search text follows every
change of a name; the migration made the trigram index."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
CALL_CENTER = auth_headers(PRINCIPALS["call_center_agent"])


async def found(client, q: str, headers=AGENT) -> list[str]:
    response = await client.get(BASE, params={"q": q, "limit": 200}, headers=headers)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_any_part_of_any_name_in_any_script_finds_the_customer(client, ids):
    body = ids.individual(
        first_name="Әлия", last_name="Сейітқали", middle_name="Нұрланқызы", email="Aliya.Seitkali@Mail.kz"
    )
    response = await client.post(BASE, json=body, headers=AGENT)
    assert response.status_code == 201, response.text
    customer = response.json()
    other = await client.post(BASE, json=ids.individual(first_name="Dana", last_name="Omarova"), headers=AGENT)
    assert other.status_code == 201

    for q in ("Aliya", "Алия", "Әлия", "ALIYA", "Seitkali", "Сейткали", "Сейтқали", "aliya seitkali",
              "seitkali aliya", "Нурлан", "lia seit", "s aliya", "aliya.seitkali@mail.kz"):  # fmt: skip
        assert customer["id"] in await found(client, q), q
        assert other.json()["id"] not in await found(client, q), q
    assert customer["id"] not in await found(client, "aliya omarova")
    assert customer["id"] not in await found(client, "other@mail.kz")

    national = body["phone"].removeprefix("+7")
    for q in (
        f"8 {national[:3]} {national[3:6]}-{national[6:8]}-{national[8:]}",
        f"+7 ({national[:3]}) {national[3:]}",
    ):
        assert await found(client, q) == [customer["id"]], q
    assert await found(client, body["iin"]) == [customer["id"]]
    # The call centre finds by IIN too; it sees the identifier masked, and the look-up is audited.
    by_iin = await client.get(BASE, params={"q": body["iin"]}, headers=CALL_CENTER)
    assert [c["id"] for c in by_iin.json()["items"]] == [customer["id"]]
    assert body["iin"] not in by_iin.text

    renamed = await client.patch(
        f"{BASE}/{customer['id']}",
        json={"first_name": "Aigerim", "email": "a.s@mail.kz"},
        headers=AGENT | {"If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert customer["id"] in await found(client, "Айгерим Сейітқали")
    assert customer["id"] not in await found(client, "Aliya")


async def test_a_search_text_too_short_is_refused_naming_q(client):
    response = await client.get(BASE, params={"q": " - "}, headers=AGENT)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"


async def test_postgresql_searches_names_through_a_trigram_index(sales_app):
    async with sales_app.state.runtime.db.read_only() as session:
        definition = await session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_customers_search_text_trgm'")
        )
    assert "gin" in definition and "gin_trgm_ops" in definition


async def test_the_list_exports_as_csv_with_its_filters_within_visibility(client, ids):
    made = []
    for first in ("Export", "Export", "Other"):
        response = await client.post(BASE, json=ids.individual(first_name=first, last_name="Csvtestova"), headers=AGENT)
        assert response.status_code == 201, response.text
        made.append(response.json())

    def rows_of(response) -> list[dict]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.content.startswith("\ufeff".encode())
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

    exported = rows_of(
        await client.get(f"{BASE}/export", params={"q": "export csvtestova", "format": "csv"}, headers=AGENT)
    )
    assert sorted(r["id"] for r in exported) == sorted(c["id"] for c in made[:2])
    assert {r["iin"] for r in exported} == {c["iin"] for c in made[:2]}  # the branch sees IINs in full
    masked = rows_of(await client.get(f"{BASE}/export", params={"q": "csvtestova"}, headers=CALL_CENTER))
    assert {r["id"] for r in masked} == {c["id"] for c in made}
    assert all(r["iin"].startswith("********") for r in masked)
    karaganda = auth_headers(Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01"))
    assert rows_of(await client.get(f"{BASE}/export", params={"q": "csvtestova"}, headers=karaganda)) == []
    bad = await client.get(f"{BASE}/export", params={"format": "xlsx"}, headers=AGENT)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"
