"""End to end: a branch migrating from a spreadsheet, through the gateway with the whole suite
started as `make run` starts it. A branch agent checks a customer CSV file (the dry run names the
bad rows by line and field), imports it (202 and a job followed to its end), imports it again
(nothing created twice); the imported customers are in the list and its CSV export, and the other
services learn them from sales' events (the call centre opens a ticket for one); an agent of
another branch does not see the job."""

from __future__ import annotations

import csv
import io
import zlib

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

IMPORTS = "/api/v1/sales/customers/imports"


async def followed(client, url: str, headers) -> dict:
    async def finished():
        job = (await client.get(url, headers=headers)).json()
        return job if job["status"] in ("completed", "failed") else None

    return await eventually(finished, timeout_s=180, interval_s=0.5, message="the import finished")


async def test_a_branch_imports_a_customer_file_once_and_the_suite_learns_the_customers(suite: RunningSuite):
    ids = Identities(seed=zlib.crc32(b"e2e-import"))
    iins = [ids.iin() for _ in range(3)]
    wrong = ids.iin()
    wrong = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
    text = "\n".join(
        [
            "kind,iin,last_name,first_name,phone,branch_code,data_processing_consent,marketing_consent,city,street,building",
            *(
                f"individual,{iin},Тұрсынбекова,Импорт{'АБВ'[n]},{ids.mobile()},ALA-01,yes,no,Almaty,Abay Ave,{n + 1}"
                for n, iin in enumerate(iins)
            ),
            f"individual,{wrong},Omarova,Dana,{ids.mobile()},ALA-01,yes,no,,,",
            f"individual,{ids.iin()},Kim,Olga,{ids.mobile()},KAR-01,yes,no,,,",
        ]
    ).encode()
    upload = {"file": ("migration.csv", text, "text/csv")}
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        agent = await sign_in(client, "almaty.agent")
        callcenter = await sign_in(client, "callcenter")
        elsewhere = await sign_in(client, "karaganda.agent")

        checked = await client.post(IMPORTS, params={"dry_run": "true"}, files=upload, headers=agent)
        assert checked.status_code == 200, checked.text
        report = checked.json()
        assert (report["rows"], report["new"]) == (5, 3)
        assert [(e["line"], e["field"]) for e in report["errors"]] == [(5, "iin"), (6, "branch_code")]

        started = await client.post(IMPORTS, files=upload, headers=agent)
        assert started.status_code == 202, started.text
        url = started.headers["location"]
        job = await followed(client, url, agent)
        assert (job["status"], job["created"], job["skipped"], job["rejected"]) == ("completed", 3, 0, 2), job
        assert [(e["line"], e["field"]) for e in job["errors"]] == [(5, "iin"), (6, "branch_code")]
        assert (await client.get(url, headers=elsewhere)).status_code == 404

        again = await followed(
            client, (await client.post(IMPORTS, files=upload, headers=agent)).headers["location"], agent
        )
        assert (again["created"], again["skipped"]) == (0, 3), again

        listed = await client.get("/api/v1/sales/customers", params={"q": "Тұрсынбекова Импорт"}, headers=agent)
        assert listed.status_code == 200
        imported = [c for c in listed.json()["items"] if c["last_name"] == "Тұрсынбекова"]
        assert len(imported) == 3, listed.json()
        export = await client.get(
            "/api/v1/sales/customers/export", params={"format": "csv", "q": "Тұрсынбекова"}, headers=agent
        )
        assert export.status_code == 200
        rows = list(csv.DictReader(io.StringIO(export.text.removeprefix("\ufeff"))))
        assert sorted(row["iin"] for row in rows if row["iin"] in iins) == sorted(iins)

        async def ticket_for_imported():
            response = await client.post(
                "/api/v1/tickets/tickets",
                json={
                    "customer_id": imported[0]["id"],
                    "name": "Нет интернета",
                    "description": "After migration",
                    "category": "internet",
                    "priority": "medium",
                },  # fmt: skip
                headers=callcenter,
            )
            return response.json() if response.status_code == 201 else None

        assert await eventually(ticket_for_imported, message="tickets learned the imported customer")
