"""A campaign across the suite as `crm up` runs it: a customer registered in sales with marketing
consent reaches marketing's projection as an event, the marketer's segment and e-mail campaign
reach them through the local SMTP server, and the admin's dev outbox shows the message in their
language; a customer without consent never gets it. The e-mail's opt-out link, opened without
signing in, withdraws the consent in sales, whose event takes the customer out of the segment. (E-mail, not SMS: SMS wait out the night in
Kazakhstan, and this test runs at any hour; the SMPP path is tested in the service's own tests.)"""

from __future__ import annotations

import random
import re

import httpx

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.testing import Identities, eventually

SALES = "/api/v1/sales/customers"
MARKETING = "/api/v1/marketing"


async def test_an_email_campaign_reaches_the_consenting_customer_through_the_smtp_sink(suite: RunningSuite):
    ids = Identities(seed=random.randrange(1 << 30))
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        marketer = await sign_in(client, "marketer")
        admin = await sign_in(client, "admin")
        tag = random.randrange(1 << 30)
        willing = ids.individual(
            first_name="Dana", marketing_consent=True, language="kk", email=f"dana{tag}@example.kz"
        )
        unwilling = ids.individual(first_name="Arman", marketing_consent=False, email=f"arman{tag}@example.kz")
        created = []
        for body in (willing, unwilling):
            answer = await client.post(SALES, json=body, headers=agent)
            assert answer.status_code == 201, answer.text
            created.append(answer.json())
        segment_body = {"name": "e2e Almaty", "criteria": {"branch_codes": ["ALA-01"], "languages": ["kk"]}}
        segment = (await client.post(f"{MARKETING}/segments", json=segment_body, headers=marketer)).json()

        async def projected():
            page = await client.get(f"{MARKETING}/segments/{segment['id']}/members?limit=200", headers=marketer)
            return created[0]["id"] in {m["customer_id"] for m in page.json()["items"]}

        await eventually(projected, message="the consenting customer in the segment")
        body = {
            "name": "e2e autumn",
            "segment_id": segment["id"],
            "channel": "email",
            "message": {"kk": "Күзгі жеңілдік 20%", "ru": "Осенняя скидка 20%"},
        }
        campaign = (await client.post(f"{MARKETING}/campaigns", json=body, headers=marketer)).json()
        launched = await client.post(f"{MARKETING}/campaigns/{campaign['id']}/launch", headers=marketer)
        assert launched.status_code == 200, launched.text

        async def in_the_outbox():
            answer = await client.get("/api/v1/admin/dev-outbox", params={"to": willing["email"]}, headers=admin)
            assert answer.status_code == 200, answer.text
            return answer.json()["items"]

        items = await eventually(in_the_outbox, message="the e-mail in the dev outbox")
        assert len(items) == 1 and items[0]["channel"] == "email" and items[0]["body"].startswith("Күзгі жеңілдік 20%")
        nothing = await client.get("/api/v1/admin/dev-outbox", params={"to": unwilling["email"]}, headers=admin)
        assert nothing.json()["items"] == []
        assert (await client.get("/api/v1/admin/dev-outbox", headers=marketer)).status_code == 403

        link = re.search(r"/api/v1/marketing/opt-out/\S+", items[0]["body"]).group(0)
        page = await client.get(link)  # no login: the signed token is the authorisation
        assert page.status_code == 200 and 'lang="kk"' in page.text, page.text
        assert (await client.get(link[:-3] + "abc")).status_code == 404

        async def withdrawn_in_sales():
            answer = await client.get(f"{SALES}/{created[0]['id']}", headers=agent)
            return answer.json()["marketing_consent"] is False

        await eventually(withdrawn_in_sales, message="sales recorded the opt-out")

        async def left_the_segment():
            page = await client.get(f"{MARKETING}/segments/{segment['id']}/members?limit=200", headers=marketer)
            return created[0]["id"] not in {m["customer_id"] for m in page.json()["items"]}

        await eventually(left_the_segment, message="the opted-out customer out of the segment")
        stats = (await client.get(f"{MARKETING}/campaigns/{campaign['id']}", headers=marketer)).json()["stats"]
        assert stats["opted_out"] == 1
