"""The customer CSV import's dry run against PostgreSQL: every bad row named by line and field
(IIN check digit, phone, branch, a repeated IIN), rows already registered counted apart, the
file as multipart `file` or as a text/csv body; nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_sales.db.models import Customer
from crm_sales.services import import_service
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

IMPORTS = "/api/v1/sales/customers/imports"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
CALL_CENTER = auth_headers(PRINCIPALS["call_center_agent"])


def wrong_check_digit(iin: str) -> str:
    return iin[:-1] + str((int(iin[-1]) + 1) % 10)


async def test_a_dry_run_names_every_bad_row_by_line_and_field_and_writes_nothing(client, ids, sales_app, monkeypatch):
    monkeypatch.setattr(import_service, "LOOKUP_CHUNK", 2)  # registered IINs asked in several queries
    registered = ids.individual(first_name="Already", last_name="Registered")
    assert (await client.post("/api/v1/sales/customers", json=registered, headers=AGENT)).status_code == 201
    good, twice = ids.iin(), ids.iin()
    text = "\n".join(
        [
            "kind;iin;bin;last_name;first_name;phone;branch_code;data_processing_consent;city;street;building",
            f"individual;{good};;Сейітқали;Әлия;8 701 555 10 01;ALA-01;иә;Almaty;Abay Ave;10",
            f"individual;{wrong_check_digit(ids.iin())};;Omarova;Dana;8 701 555 10 02;ALA-01;yes;;;",
            f"individual;{ids.iin()};;Bekov;Daniyar;12345;ALA-01;yes;;;",
            f"individual;{ids.iin()};;Kim;Olga;8 701 555 10 04;XXX-99;yes;;;",
            f"individual;{twice};;Abenova;Saule;8 701 555 10 05;;no;;;",
            f"individual;{twice};;Abenova;Saule;8 701 555 10 06;;no;;;",
            f"individual;{registered['iin']};;Registered;Already;{registered['phone']};ALA-01;yes;;;",
            f"business;;{ids.bin()};;;8 701 555 10 08;KAR-01;yes;;;",
        ]
    )
    async with sales_app.state.runtime.db.read_only() as session:
        before = await session.scalar(select(func.count()).select_from(Customer))

    response = await client.post(
        IMPORTS, params={"dry_run": "true"}, content=text.encode(), headers=AGENT | {"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["new"], report["existing"]) == (8, 2, 1)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "iin"),
        (4, "phone"),
        (5, "branch_code"),
        (7, "iin"),
        (9, "legal_name"),
    ], report["errors"]
    assert "line 6" in next(e["message"] for e in report["errors"] if e["line"] == 7)

    multipart = await client.post(
        IMPORTS, params={"dry_run": "true"}, files={"file": ("customers.csv", text.encode(), "text/csv")}, headers=AGENT
    )
    assert multipart.status_code == 200 and multipart.json() == report
    async with sales_app.state.runtime.db.read_only() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == before


async def test_a_file_that_is_no_customer_csv_is_refused_naming_the_field(client):
    wrong = await client.post(
        IMPORTS, params={"dry_run": "true"}, content=b"name,age\nx,1\n", headers=AGENT | {"content-type": "text/csv"}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "file"
    real = await client.post(IMPORTS, content=b"name,age\nx,1\n", headers=AGENT | {"content-type": "text/csv"})
    assert real.status_code == 422 and real.json()["errors"][0]["field"] == "file"
    refused = await client.post(
        IMPORTS, params={"dry_run": "true"}, content=b"kind\n", headers=CALL_CENTER | {"content-type": "text/csv"}
    )
    assert refused.status_code == 403


async def test_a_file_may_be_larger_than_a_json_body(client, sales_settings):
    """An upload (text/csv, multipart) is held to max_upload_bytes, not to max_body_bytes."""
    text = "kind;iin\n" + "\n" * (sales_settings.max_body_bytes + 10)
    response = await client.post(
        IMPORTS, params={"dry_run": "true"}, content=text.encode(), headers=AGENT | {"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 0
