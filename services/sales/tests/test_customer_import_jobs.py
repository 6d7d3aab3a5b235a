"""The customer CSV import itself against PostgreSQL: queued (202), run in the background by the
service's import worker in batches, followed by its job; idempotent (the same file again creates
nothing twice); a job whose worker died goes on from its last committed batch; every customer is
created as the API creates one (audit entry, outbox event); rows for a branch the caller may not
write to are errors naming branch_code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from crm_sales.config import SalesSettings
from crm_sales.db.models import Address, Customer, CustomerImport, CustomerPhone
from crm_sales.main import DEFINITION
from crm_sales.services import import_service
from crm_shared.db import utcnow
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, rest_only_settings

pytestmark = pytest.mark.integration

IMPORTS = "/api/v1/sales/customers/imports"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01, KZ-75
MANAGER = auth_headers(PRINCIPALS["branch_manager"])  # the same branch, another person
ADMIN = auth_headers(PRINCIPALS["admin"])
BATCH = 2


@pytest.fixture(scope="module")
def sales_settings(sales_database) -> SalesSettings:
    return rest_only_settings(
        SalesSettings,
        sales_database,
        import_batch_size=BATCH,
        import_concurrency=3,  # batches of a job run at the same time
        import_poll_interval_s=0.1,
    )


HEADER = "kind;iin;bin;last_name;first_name;legal_name;phone;email;branch_code;data_processing_consent;marketing_consent;city;street;building"


def wrong_check_digit(iin: str) -> str:
    return iin[:-1] + str((int(iin[-1]) + 1) % 10)


def good_rows(ids, count: int, first_name: str = "Әлия") -> list[str]:
    return [
        f"individual;{ids.iin()};;Сейітқали;{first_name}-{'ABCDEFGHIJ'[n]};;{ids.mobile()};;ALA-01;иә;no;Almaty;Abay Ave;{n + 1}"
        for n in range(count)
    ]


async def post_file(client, text: str, headers=AGENT):
    return await client.post(IMPORTS, files={"file": ("customers.csv", text.encode(), "text/csv")}, headers=headers)


async def finished(client, url: str, headers=AGENT) -> dict:
    async def done():
        job = (await client.get(url, headers=headers)).json()
        return job if job["status"] in ("completed", "failed") else None

    return await eventually(done, timeout_s=120, message="the import finished")


async def count(db, what) -> int:
    async with db.read_only() as session:
        return await session.scalar(select(func.count()).select_from(what))


async def test_an_import_runs_in_the_background_and_creates_each_customer_as_the_api_does(client, ids, db):
    mine = good_rows(ids, 3, first_name="Гүлнар")
    business_bin = ids.bin()
    text = "\n".join(
        [
            HEADER,
            *mine,
            f"individual;{wrong_check_digit(ids.iin())};;Omarova;Dana;;{ids.mobile()};;ALA-01;yes;no;;;",
            f"individual;{ids.iin()};;Bekov;Daniyar;;12345;;ALA-01;yes;no;;;",
            f"individual;{ids.iin()};;Kim;Olga;;{ids.mobile()};;KAR-01;yes;no;;;",
            f"business;;{business_bin};;;Steppe Logistics;{ids.mobile()};info@steppe.kz;;yes;yes;Almaty;Dostyk;5",
        ]
    )
    response = await post_file(client, text)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "completed") and job["rows"] == 7
    assert response.headers["location"] == f"{IMPORTS}/{job['id']}" == job["url"]

    result = await finished(client, response.headers["location"])
    assert result["status"] == "completed", result
    assert result["processed"] == 7 and result["skipped"] == 0
    bad_lines = {error["line"]: error["field"] for error in result["errors"]}
    assert bad_lines == {5: "iin", 6: "phone", 7: "branch_code"}, result["errors"]
    assert (result["created"], result["rejected"]) == (4, 3)
    assert result["error_count"] == len(result["errors"]) and result["started_at"] and result["finished_at"]

    async with db.read_only() as session:
        imported = (
            await session.scalars(
                select(Customer).where(Customer.first_name.like("Гүлнар-%"), Customer.branch_code == "ALA-01")
            )
        ).all()
        assert len(imported) == 3
        for customer in imported:
            assert customer.data_processing_consent and not customer.marketing_consent
            assert customer.owner_id == PRINCIPALS["branch_agent"].subject
            assert [a.city for a in customer.addresses] == ["Almaty"] and len(customer.phones) == 1
        business = await session.scalar(select(Customer).where(Customer.tax_id == business_bin))
        assert business.legal_name == "Steppe Logistics" and business.marketing_consent
        created_ids = [c.id for c in imported] + [business.id]
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.entity_type == "customer",
                AuditEntry.action == "created",
                AuditEntry.entity_id.in_(created_ids),
            )
        )
        events = await session.scalar(
            select(func.count()).where(
                OutboxEvent.type.like("%customer.created%"), OutboxEvent.subject.in_(created_ids)
            )
        )
        assert audited == 4 and events == 4


async def test_the_same_file_again_creates_nothing_twice(client, ids, db):
    text = "\n".join([HEADER, *good_rows(ids, 5)])
    first = await finished(client, (await post_file(client, text)).headers["location"])
    assert (first["status"], first["created"], first["skipped"]) == ("completed", 5, 0), first
    customers, phones, addresses = await count(db, Customer), await count(db, CustomerPhone), await count(db, Address)

    again = await finished(client, (await post_file(client, text)).headers["location"])
    assert (again["status"], again["created"], again["skipped"], again["rejected"]) == ("completed", 0, 5, 0), again
    assert (await count(db, Customer), await count(db, CustomerPhone), await count(db, Address)) == (
        customers,
        phones,
        addresses,
    )


async def test_a_job_whose_worker_died_goes_on_from_its_last_committed_batch(client, ids, db, sales_app):
    """A job claimed by a process that committed one batch and was then killed: once its lease has
    run out, the running worker takes the job over and imports the rest, nothing twice."""
    text = "\n".join([HEADER, *good_rows(ids, 7)])
    principal = PRINCIPALS["branch_agent"]
    now = utcnow()
    async with db.unit_of_work() as session:
        job = await import_service.start_import(session, principal, text, file_name="killed.csv", now=now)
        # claimed at once by the process that is about to die, so that the live worker leaves it
        job.status, job.worker_id, job.heartbeat_at, job.started_at = "running", "killed-process", now, now
        job.batch_size = BATCH
        job_id = job.id
    from crm_sales.api.imports import checked_rows

    rows = await import_service.load_rows(db, job_id, checked_rows)
    for batch_no in (0, 2):  # it ran two batches at the same time; the one between was rolled back when it died
        await import_service.run_batch(db, job_id, "killed-process", rows, batch_no, batch_size=BATCH, now=utcnow)
    async with db.read_only() as session:
        progress = await session.get(CustomerImport, job_id)
        assert (progress.processed, progress.created, progress.status) == (4, 4, "running")
        # ... and the process is killed: its lease runs out (it renews it at every batch)
        await session.execute(
            update(CustomerImport).where(CustomerImport.id == job_id).values(heartbeat_at=now - timedelta(days=1))
        )
        await session.commit()

    result = await finished(client, f"{IMPORTS}/{job_id}")
    assert (result["status"], result["processed"], result["created"], result["skipped"]) == ("completed", 7, 7, 0), (
        result
    )


async def test_jobs_are_seen_by_who_started_them_and_by_an_administrator(client, ids):
    response = await post_file(client, "\n".join([HEADER, *good_rows(ids, 1)]))
    url = response.headers["location"]
    await finished(client, url)
    assert (await client.get(url, headers=MANAGER)).status_code == 404
    assert (await client.get(url, headers=ADMIN)).status_code == 200
    listed = (await client.get(IMPORTS, headers=AGENT)).json()["items"]
    assert response.json()["id"] in [job["id"] for job in listed] and "errors" not in listed[0]
    assert response.json()["id"] not in [
        job["id"] for job in (await client.get(IMPORTS, headers=MANAGER)).json()["items"]
    ]
    refused = await post_file(
        client, "\n".join([HEADER, *good_rows(ids, 1)]), headers=auth_headers(PRINCIPALS["call_center_agent"])
    )
    assert refused.status_code == 403


def test_the_import_worker_is_one_of_the_services_background_jobs():
    assert any(factory.__name__ == "import_worker" for factory in DEFINITION.background)


async def test_a_phone_twice_in_the_file_is_an_error_on_its_second_line(client, ids):
    phone = ids.mobile()
    text = "\n".join(
        [
            HEADER,
            f"individual;{ids.iin()};;Bekova;Aru;;{phone};;ALA-01;yes;no;;;",
            f"individual;{ids.iin()};;Bekov;Arman;;{phone};;ALA-01;yes;no;;;",
        ]
    )
    checked = await client.post(
        IMPORTS, params={"dry_run": "true"}, content=text.encode(), headers=AGENT | {"content-type": "text/csv"}
    )
    assert checked.json()["errors"] == [{"line": 3, "field": "phone", "message": "the same as on line 2"}]
    result = await finished(client, (await post_file(client, text)).headers["location"])
    assert (result["created"], result["rejected"]) == (1, 1)
    assert result["errors"] == checked.json()["errors"]


async def test_a_worker_keeps_its_lease_between_batches_and_loses_it_to_a_takeover(client, ids, db):
    async with db.unit_of_work() as session:
        job = await import_service.start_import(
            session, PRINCIPALS["branch_agent"], "\n".join([HEADER, *good_rows(ids, 1)]), file_name=None, now=utcnow()
        )
        job.status, job.worker_id, job.heartbeat_at = "running", "slow-worker", utcnow()
        job_id = job.id
    assert await import_service.renew_lease(db, job_id, "slow-worker", now=utcnow() + timedelta(days=1))
    assert not await import_service.renew_lease(db, job_id, "another-worker", now=utcnow())
    async with db.read_only() as session:
        assert (await session.get(CustomerImport, job_id)).heartbeat_at > utcnow()  # not taken over meanwhile
    async with db.unit_of_work() as session:
        await session.execute(
            update(CustomerImport).where(CustomerImport.id == job_id).values(heartbeat_at=utcnow() - timedelta(days=1))
        )
    result = await finished(client, f"{IMPORTS}/{job_id}")  # the live worker took it over
    assert (result["status"], result["created"]) == ("completed", 1)
    assert not await import_service.renew_lease(db, job_id, "slow-worker", now=utcnow())
