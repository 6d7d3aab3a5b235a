"""Customer CSV import benchmark: a file of N customers (each with a phone, an address and consents)
checked (the dry run) and imported (the background job) by the sales service on PostgreSQL, against
a plain bulk INSERT of the same rows measured in the same run.

Set-up: a fresh PostgreSQL database for sales, migrated; the sales app in this process (its REST
API through an ASGI transport, its import worker, no broker: the outbox keeps the events), called
as an administrator. The file is generated: valid IINs, distinct mobiles, Kazakh and Russian names,
every tenth row a business by BIN, spread over the Almaty branches.

- dry run: POST /customers/imports?dry_run=true, the whole file, until the report answers;
- import: POST /customers/imports, then the job polled until it is completed (every row through
  create_customer: validation, placement, audit entry, outbox event; batches of
  CRM_SALES_IMPORT_BATCH_SIZE rows, one transaction each);
- the same file again: every row skipped (the idempotent re-run);
- baseline: the same rows as a plain multi-row INSERT into one table of the same columns, in
  transactions of the same batch size: what writing the rows costs with no rules at all.

    .venv/bin/python -m bench.bench_import [--import-rows 10000]
    .venv/bin/python -m bench.bench_import --import-rows 100000     # the issue's scale
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import Boolean, Column, MetaData, String, Table, insert

from crm_cli import services as registry
from crm_sales.config import SalesSettings
from crm_sales.main import create_app
from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_shared.testing import Identities

from .common import SummaryRow, run_from_command_line, temporary_databases

IMPORTS = "/api/v1/sales/customers/imports"
BATCH_SIZE = 500
PROGRESS_EVERY_S = 30.0
COLUMNS = (
    "kind", "iin", "bin", "last_name", "first_name", "legal_name", "phone", "email", "branch_code",
    "data_processing_consent", "marketing_consent", "city", "street", "building",
)  # fmt: skip
FIRST_NAMES = ("Әлия", "Aigerim", "Дана", "Nurlan", "Ерлан", "Saule", "Гүлнар", "Arman", "Мадина", "Timur")
LAST_NAMES = ("Сейітқали", "Omarova", "Бекова", "Kim", "Абенов", "Nurlanov", "Жұмабаев", "Smagulova", "Ким")
BRANCHES = ("ALA-01", "ALA-02")
ADMIN = Principal("bench-admin", "bench.admin", Role.ADMIN, full_name="Bench Admin")


@dataclass
class ImportOptions:
    rows: int = 10_000
    batch_size: int = BATCH_SIZE


def customer_file(count: int, seed: int = 13) -> tuple[str, list[dict[str, str]]]:
    rng = random.Random(seed)
    ids = Identities(seed)
    rows = []
    for n in range(count):
        business = n % 10 == 9
        rows.append(
            {
                "kind": "business" if business else "individual",
                "iin": "" if business else ids.iin(),
                "bin": ids.bin() if business else "",
                "last_name": "" if business else rng.choice(LAST_NAMES),
                "first_name": "" if business else rng.choice(FIRST_NAMES),
                "legal_name": f"Steppe Trade {n}" if business else "",
                "phone": ids.mobile(),
                "email": f"client{n}@example.kz" if n % 3 == 0 else "",
                "branch_code": BRANCHES[n % len(BRANCHES)],
                "data_processing_consent": "yes",
                "marketing_consent": "yes" if n % 2 else "no",
                "city": "Almaty",
                "street": "Abay Ave",
                "building": str(n % 200 + 1),
            }
        )
    text = "\n".join([";".join(COLUMNS), *(";".join(row[c] for c in COLUMNS) for row in rows)]) + "\n"
    return text, rows


async def plain_insert(db: Database, rows: list[dict[str, str]], batch_size: int) -> float:
    """Seconds to INSERT the rows, as they are, into a table of the same columns."""
    table = Table(
        "bench_plain_customers",
        MetaData(),
        *(Column(name, Boolean if name.endswith("_consent") else String(300)) for name in COLUMNS),
    )
    async with db.engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    values = [
        {name: (row[name] == "yes") if name.endswith("_consent") else row[name] for name in COLUMNS} for row in rows
    ]
    started = time.perf_counter()
    for start in range(0, len(values), batch_size):
        async with db.engine.begin() as conn:
            await conn.execute(insert(table), values[start : start + batch_size])
    return time.perf_counter() - started


async def follow(http: httpx.AsyncClient, url: str) -> dict:
    started = last_said = time.perf_counter()
    while True:
        job = (await http.get(url)).json()
        if job["status"] in ("completed", "failed"):
            return job
        if time.perf_counter() - last_said > PROGRESS_EVERY_S and job["processed"]:
            elapsed = time.perf_counter() - started
            print(f"[import]   {job['processed']} of {job['rows']} rows in {elapsed:.0f} s", flush=True)
            last_said = time.perf_counter()
        await asyncio.sleep(0.2)


async def import_file(http: httpx.AsyncClient, text: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = await http.post(IMPORTS, content=text.encode(), headers={"content-type": "text/csv"})
    response.raise_for_status()
    job = await follow(http, response.headers["location"])
    return time.perf_counter() - started, job


async def run(options: ImportOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[import] {message}", flush=True)

    text, rows = customer_file(options.rows)
    say(f"file: {options.rows} rows, {len(text.encode()) / 1e6:.1f} MB")
    async with temporary_databases() as databases:
        url = await databases.create("sales_import")
        await upgrade_async(registry.get_service("sales").migrations_path(), url)
        secret = secrets.token_urlsafe(32)
        settings = SalesSettings(
            database_url=url,
            internal_token_secret=secret,
            relay_enabled=False,
            consumers_enabled=False,
            grpc_enabled=False,
            log_json=False,
            log_level="WARNING",
            import_batch_size=options.batch_size,
            import_poll_interval_s=0.2,
        )
        app = create_app(settings)
        headers = {INTERNAL_TOKEN_HEADER: issue_internal_token(ADMIN, secret, ttl_s=24 * 3600)}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://sales", headers=headers, timeout=3600
            ) as http,
        ):
            started = time.perf_counter()
            response = await http.post(
                IMPORTS, params={"dry_run": "true"}, content=text.encode(), headers={"content-type": "text/csv"}
            )
            dry_s = time.perf_counter() - started
            response.raise_for_status()
            report = response.json()
            say(
                f"dry run: {dry_s:.1f} s; new {report['new']}, existing {report['existing']}, errors {len(report['errors'])}"
            )

            import_s, job = await import_file(http, text)
            say(
                f"import: {import_s:.1f} s; {job['status']}, created {job['created']}, skipped {job['skipped']}, "
                f"rejected {job['rejected']}"
            )
            again_s, again = await import_file(http, text)
            say(f"the same file again: {again_s:.1f} s; created {again['created']}, skipped {again['skipped']}")
            baseline_s = await plain_insert(app.state.runtime.db, rows, options.batch_size)
            say(f"baseline, plain INSERT of the same rows: {baseline_s:.1f} s")

    n = options.rows

    def rate(seconds: float) -> str:
        return f"{seconds:.1f} s, {n / seconds:,.0f} rows/s"

    baseline = f"plain INSERT {rate(baseline_s)}"
    return [
        SummaryRow(f"import dry run, {n:,} rows", rate(dry_s), baseline, dry_s / baseline_s),
        SummaryRow(
            f"import, {n:,} rows",
            rate(import_s),
            baseline,
            import_s / baseline_s,
            note=f"created {job['created']}, skipped {job['skipped']}, rejected {job['rejected']}; ratio = time / baseline time",
        ),
        SummaryRow(f"import again (all skipped), {n:,} rows", rate(again_s), baseline, again_s / baseline_s),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Own flag names (--import-*), so that run_all can take them beside the others'."""
    defaults = ImportOptions()
    parser.add_argument("--import-rows", type=int, default=defaults.rows, help="rows in the file (100000: the target)")
    parser.add_argument("--import-batch-size", type=int, default=defaults.batch_size, help="rows per transaction")


def options_from(args: argparse.Namespace) -> ImportOptions:
    return ImportOptions(rows=args.import_rows, batch_size=args.import_batch_size)


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
