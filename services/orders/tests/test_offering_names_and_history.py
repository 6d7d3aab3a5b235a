"""Offerings in three languages (the catalogue carries kk/ru/en names; orders and installed
products name their offerings in the caller's Accept-Language) and an order's audit history (who
did what, when), as visible as the order itself."""

from __future__ import annotations

import pytest

from crm_orders.domain.catalog import answer_language
from crm_orders.seed import DEMO_CATALOGUE
from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/orders/orders"
AGENT = PRINCIPALS["branch_agent"]
NAMED_AGENT = Principal(
    AGENT.subject, AGENT.username, AGENT.role, region=AGENT.region, branch=AGENT.branch, full_name="Dana Nurlanovna"
)
KARAGANDA = Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")


@pytest.mark.parametrize(
    ("header", "language"),
    [("kk", "kk"), ("ru-RU,ru;q=0.9", "ru"), ("de, kk;q=0.5", "kk"), ("", "en"), (None, "en"), ("fr", "en")],
)
def test_the_answer_language_is_the_first_of_ours_the_caller_asks_for(header, language):
    assert answer_language(header) == language


async def test_every_offering_has_its_name_in_three_languages(client):
    response = await client.get("/api/v1/orders/offerings", headers=auth_headers(AGENT))
    assert response.status_code == 200, response.text
    offerings = {o["id"]: o for o in response.json()}
    assert set(offerings) >= {d.id for d in DEMO_CATALOGUE}
    for offering in offerings.values():
        assert set(offering["names"]) == {"kk", "ru", "en"} and all(offering["names"].values())
    assert offerings["mob-unlim"]["names"] == {
        "kk": "Мобильді Шексіз",
        "ru": "Мобильный Безлимитный",
        "en": "Mobile Unlimited",
    }


async def test_an_administrator_renames_an_offering_in_one_language(client):
    admin = auth_headers(PRINCIPALS["admin"])
    current = (await client.get("/api/v1/orders/offerings/tv-kids", headers=admin)).json()
    names = current["names"] | {"kk": "IPTV Балаларға"}
    response = await client.patch(
        "/api/v1/orders/offerings/tv-kids", json={"names": names, "version": current["version"]}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["names"]["kk"] == "IPTV Балаларға"
    incomplete = await client.patch(
        "/api/v1/orders/offerings/tv-kids",
        json={"names": {"kk": "x", "ru": "y"}, "version": response.json()["version"]},
        headers=admin,
    )
    assert incomplete.status_code == 422 and incomplete.json()["errors"][0]["field"].startswith("names")


async def test_orders_name_their_offerings_in_the_callers_language_and_keep_their_history(client, customers):
    created = await client.post(
        ORDERS,
        json={"customer_id": customers["almaty"], "items": [{"offering_id": "mob-unlim"}]},
        headers=auth_headers(NAMED_AGENT) | {"Accept-Language": "ru"},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["items"][0]["offering_name"] == "Мобильный Безлимитный"
    assert order["owner_name"] == "Dana Nurlanovna"  # by name, not by sign-in name
    for language, name in (("kk", "Мобильді Шексіз"), ("en", "Mobile Unlimited")):
        again = await client.get(f"{ORDERS}/{order['id']}", headers=auth_headers(AGENT) | {"Accept-Language": language})
        assert again.json()["items"][0]["offering_name"] == name
    listed = await client.get(
        ORDERS, params={"customer_id": customers["almaty"]}, headers=auth_headers(AGENT) | {"Accept-Language": "kk"}
    )
    assert "Мобильді Шексіз" in {i["offering_name"] for o in listed.json()["items"] for i in o["items"]}

    cancelled = await client.patch(
        f"{ORDERS}/{order['id']}/state",
        json={"state": "cancelled", "reason": "changed her mind", "version": order["version"]},
        headers=auth_headers(PRINCIPALS["branch_manager"]),
    )
    assert cancelled.status_code == 200, cancelled.text
    history = await client.get(f"{ORDERS}/{order['id']}/history", headers=auth_headers(AGENT))
    assert history.status_code == 200, history.text
    entries = history.json()["items"]
    assert entries[0]["action"] == "created" and entries[0]["actor_name"] == "Dana Nurlanovna"
    assert entries[-1]["actor_id"] == PRINCIPALS["branch_manager"].subject
    page = await client.get(f"{ORDERS}/{order['id']}/history", params={"limit": 1}, headers=auth_headers(AGENT))
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]

    hidden = await client.get(f"{ORDERS}/{order['id']}/history", headers=auth_headers(KARAGANDA))
    assert hidden.status_code == 404
    analyst = await client.get(f"{ORDERS}/{order['id']}/history", headers=auth_headers(PRINCIPALS["hq_analyst"]))
    assert analyst.status_code == 403
    bad = await client.get(f"{ORDERS}/{order['id']}/history", params={"cursor": "x"}, headers=auth_headers(AGENT))
    assert bad.status_code == 400
