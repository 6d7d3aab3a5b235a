"""Customer CSV import: the dry run's report of what an import would do with each row, and the
import itself, a job run in the background in batches (one transaction each) by whichever replica
claims it.

Each row goes through ``create_customer``, the API's own path (validation, placement, audit, outbox
event). A customer already registered with the row's IIN/BIN is skipped, so running the same file
again creates nothing twice; a job whose worker died (its lease ran out) is claimed again and goes on
after its last committed batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, new_id
from crm_shared.errors import Problem, not_found

from ..access import require_customer_writer
from ..db.models import Customer, CustomerImport, CustomerImportBatch
from ..db.pipeline_models import BranchDirectoryEntry
from ..domain.imports import read_rows
from .customer_service import NewCustomer, NewIndividual, create_customer, placement
from .staff_directory_service import own_name

IMPORTS_PATH = "/api/v1/sales/customers/imports"
LOOKUP_CHUNK = 5000
MAX_KEPT_ERRORS = 1000  # a job keeps the first errors; error_count counts them all
WORKER_NAME = "customer-import-worker"  # background.ImportWorker, woken when a job is queued
QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"

RowError = dict[str, Any]  # {line, field, message}
# The create rules applied to the file's rows (the API's request schema, given by main): the rows
# they accept as new customers by line, and the errors of the others.
RowChecker = Callable[[Sequence[tuple[int, dict[str, str]]]], tuple[list[tuple[int, NewCustomer]], list[RowError]]]


def import_url(job_id: str) -> str:
    return f"{IMPORTS_PATH}/{job_id}"


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0  # would be registered
    existing: int = 0  # already registered (by IIN/BIN): an import leaves them as they are
    errors: list[RowError] = field(default_factory=list)

    def refuse(self, line: int, field_name: str, message: str) -> None:
        self.errors.append({"line": line, "field": field_name, "message": message})


def _tax_id(new: NewCustomer) -> str:
    return new.iin if isinstance(new, NewIndividual) else new.bin


def _tax_field(new: NewCustomer) -> str:
    return "iin" if isinstance(new, NewIndividual) else "bin"


def _problem_error(line: int, problem: Problem, default_field: str) -> RowError:
    first = (problem.errors or [{"field": default_field, "message": problem.detail}])[0]
    return {
        "line": line,
        "field": first.get("field") or default_field,
        "message": first.get("message") or problem.detail,
    }


def first_lines(rows: Iterable[tuple[int, NewCustomer]]) -> dict[str, int]:
    """The line on which each IIN/BIN, and each phone, first appears in the file: a later new
    customer with it is an error (as a create with a phone already registered is)."""
    lines: dict[str, int] = {}
    for line, new in rows:
        lines.setdefault(_tax_id(new), line)
        lines.setdefault(new.phone, line)
    return lines


def _repeated(first_line: dict[str, int], line: int, new: NewCustomer, *, tax_id_only: bool = False) -> RowError | None:
    """The error of a row whose IIN/BIN (or, unless ``tax_id_only``, phone) an earlier line has."""
    checks = [(_tax_field(new), _tax_id(new))] + ([] if tax_id_only else [("phone", new.phone)])
    for field_name, value in checks:
        if first_line[value] != line:
            return {"line": line, "field": field_name, "message": f"the same as on line {first_line[value]}"}
    return None


class _Placements:
    """Whether the caller may place a customer in each branch, asked once per branch."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.refusals: dict[str | None, Problem | None] = {}

    async def refusal(self, session: AsyncSession, branch_code: str | None) -> Problem | None:
        if branch_code not in self.refusals:
            try:
                await placement(session, self.principal, branch_code)
                self.refusals[branch_code] = None
            except Problem as problem:
                self.refusals[branch_code] = problem
        return self.refusals[branch_code]


async def _registered(session: AsyncSession, tax_ids: Sequence[str]) -> set[str]:
    """The IINs/BINs among ``tax_ids`` already registered (asked in chunks: a query's parameters are bounded)."""
    found: set[str] = set()
    for start in range(0, len(tax_ids), LOOKUP_CHUNK):
        chunk = tax_ids[start : start + LOOKUP_CHUNK]
        found.update(await session.scalars(select(Customer.tax_id).where(Customer.tax_id.in_(chunk))))
    return found


# --- dry run -------------------------------------------------------------------------------------


async def check_rows(
    session: AsyncSession, principal: Principal, report: ImportReport, rows: Sequence[tuple[int, NewCustomer]]
) -> ImportReport:
    """Rows the create rules accepted (``report`` holds the others' errors already): placed in a
    branch the caller may write to, not twice in the file; counted as new or already registered."""
    require_customer_writer(principal)
    existing = await _registered(session, [_tax_id(new) for _, new in rows])
    placements = _Placements(principal)
    first_line = first_lines(rows)
    for line, new in rows:
        refusal = await placements.refusal(session, new.branch_code)
        if refusal is not None:
            report.errors.append(_problem_error(line, refusal, "branch_code"))
            continue
        repeated = _repeated(first_line, line, new, tax_id_only=True)
        if repeated is None and _tax_id(new) in existing:
            report.existing += 1
            continue
        repeated = repeated or _repeated(first_line, line, new)
        if repeated is not None:
            report.errors.append(repeated)
        else:
            report.new += 1
    report.errors.sort(key=lambda error: error["line"])
    return report


# --- jobs ----------------------------------------------------------------------------------------


def _principal_record(principal: Principal) -> dict[str, Any]:
    record = asdict(principal)
    record["role"] = principal.role.value
    record["scopes"] = list(principal.scopes)
    return record


def _principal_of(job: CustomerImport) -> Principal:
    record = dict(job.principal)
    record["role"] = Role(record["role"])
    record["scopes"] = tuple(record.get("scopes") or ())
    return Principal(**record)


async def start_import(
    session: AsyncSession, principal: Principal, content: str, *, file_name: str | None, now: datetime
) -> CustomerImport:
    """Queues the file for the background worker. A file that is not a customer CSV at all is
    refused here (FileRuleError); its rows are checked as they are imported."""
    require_customer_writer(principal)
    rows = read_rows(content)
    job = CustomerImport(
        id=new_id(),
        owner_id=principal.subject,
        principal=_principal_record(principal),
        file_name=file_name,
        content=content,
        status=QUEUED,
        rows=len(rows),
        processed=0,
        created=0,
        skipped=0,
        rejected=0,
        error_count=0,
        errors=[],
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job


def _own_jobs(principal: Principal):
    """A job is seen by who started it, and by an administrator."""
    require_customer_writer(principal)
    return True if principal.role is Role.ADMIN else CustomerImport.owner_id == principal.subject


async def get_import(session: AsyncSession, principal: Principal, job_id: str) -> CustomerImport:
    job = await session.scalar(select(CustomerImport).where(CustomerImport.id == job_id, _own_jobs(principal)))
    if job is None:
        raise not_found("import", job_id)
    return job


async def list_imports(session: AsyncSession, principal: Principal, *, limit: int) -> list[CustomerImport]:
    """The caller's jobs, newest first."""
    stmt = (
        select(CustomerImport)
        .where(_own_jobs(principal))
        .order_by(CustomerImport.created_at.desc(), CustomerImport.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))


def import_view(job: CustomerImport, *, with_errors: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job.id,
        "url": import_url(job.id),
        "status": job.status,
        "file_name": job.file_name,
        "rows": job.rows,
        "processed": job.processed,
        "created": job.created,
        "skipped": job.skipped,
        "rejected": job.rejected,
        "error_count": job.error_count,
        "failure": job.failure,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
    }
    if with_errors:
        view["errors"] = job.errors
        view["errors_truncated"] = job.error_count > len(job.errors)
    return view


# --- the background worker's steps -----------------------------------------------------------------


async def claim_next(
    db: Database, worker_id: str, *, now: datetime, lease: timedelta, batch_size: int
) -> tuple[str, int] | None:
    """Takes the oldest queued job, or a running one whose worker stopped renewing its lease (a
    killed process): that one goes on with the batches not committed yet. Gives the job's id and
    its batch size (the first claim's: batches keep their numbers); None when there is no work."""
    async with db.unit_of_work() as session:
        stmt = (
            select(CustomerImport)
            .where(
                or_(
                    CustomerImport.status == QUEUED,
                    (CustomerImport.status == RUNNING) & (CustomerImport.heartbeat_at < now - lease),
                )
            )
            .order_by(CustomerImport.created_at, CustomerImport.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = await session.scalar(stmt)
        if job is None:
            return None
        job.status = RUNNING
        job.worker_id = worker_id
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.updated_at = now
        job.batch_size = job.batch_size or batch_size
        return job.id, job.batch_size


@dataclass
class JobRows:
    """A claimed job's file, read and checked once: the rows in file order, the new customers the
    create rules accepted and the errors of the others, by line."""

    lines: list[int]
    accepted: dict[int, NewCustomer]
    errors: dict[int, list[RowError]]
    first_line: dict[str, int]


async def load_rows(db: Database, job_id: str, check: RowChecker) -> JobRows:
    async with db.reads() as session:
        content = await session.scalar(select(CustomerImport.content).where(CustomerImport.id == job_id))
    rows = read_rows(content or "")
    accepted, errors = check(rows)
    by_line: dict[int, list[RowError]] = {}
    for error in errors:
        by_line.setdefault(error["line"], []).append(error)
    return JobRows(
        lines=[line for line, _ in rows],
        accepted={line: new for line, new in accepted if line not in by_line},
        errors=by_line,
        first_line=first_lines(accepted),
    )


class LeaseLost(Exception):
    """The job is no longer this worker's (its lease ran out and another worker took it over)."""


async def committed_batches(db: Database, job_id: str) -> set[int]:
    async with db.reads() as session:
        stmt = select(CustomerImportBatch.batch_no).where(CustomerImportBatch.job_id == job_id)
        return set(await session.scalars(stmt))


async def run_batch(
    db: Database,
    job_id: str,
    worker_id: str,
    rows: JobRows,
    batch_no: int,
    *,
    batch_size: int,
    now: Callable[[], datetime],
) -> None:
    """Imports rows ``batch_no * batch_size`` onwards in one transaction, which also records the
    batch and adds its counts and errors to the job (completed with its last batch). Batches of a
    job may run at the same time, each in its own transaction; the job's row is locked only at the
    end, for the progress. Raises LeaseLost when the job is no longer this worker's.

    A row the create rules refuse changes nothing, so rows need no savepoint of their own; only
    when the database refuses one (an IIN/BIN registered by someone else meanwhile) is the batch
    run again, each row then in a savepoint."""
    try:
        await _run_batch(db, job_id, worker_id, rows, batch_no, batch_size=batch_size, now=now, savepoints=False)
    except (Problem, IntegrityError):
        await _run_batch(db, job_id, worker_id, rows, batch_no, batch_size=batch_size, now=now, savepoints=True)


async def _run_batch(
    db: Database,
    job_id: str,
    worker_id: str,
    rows: JobRows,
    batch_no: int,
    *,
    batch_size: int,
    now: Callable[[], datetime],
    savepoints: bool,
) -> None:
    async with db.unit_of_work() as session:
        job = await session.get(CustomerImport, job_id)
        if job is None or job.status != RUNNING or job.worker_id != worker_id:
            raise LeaseLost(job_id)
        if await session.get(CustomerImportBatch, (job_id, batch_no)) is not None:
            return  # committed before this worker died
        principal = _principal_of(job)
        batch = rows.lines[batch_no * batch_size : (batch_no + 1) * batch_size]
        candidates = [rows.accepted[line] for line in batch if line in rows.accepted]
        registered = await _registered(session, [_tax_id(new) for new in candidates])
        importer = _RowImporter(session, principal, rows, registered, savepoints=savepoints)
        errors: list[RowError] = []
        created = skipped = rejected = 0
        for line in batch:
            row_errors = await importer.import_row(line)
            if row_errors is None:
                created += 1
            elif not row_errors:
                skipped += 1
            else:
                rejected += 1
                errors.extend(row_errors)
        # the progress, under the job row's lock (held until this transaction commits; taken before
        # the batch's row is written, whose key share on the job would otherwise deadlock with a
        # concurrent batch's)
        await session.refresh(job, with_for_update=True)
        if job.status != RUNNING or job.worker_id != worker_id:
            raise LeaseLost(job_id)
        moment = now()
        session.add(
            CustomerImportBatch(
                job_id=job_id,
                batch_no=batch_no,
                rows=len(batch),
                created=created,
                skipped=skipped,
                rejected=rejected,
                committed_at=moment,
            )
        )
        job.created += created
        job.skipped += skipped
        job.rejected += rejected
        job.processed += len(batch)
        job.error_count += len(errors)
        room = MAX_KEPT_ERRORS - len(job.errors)
        if room > 0 and errors:
            job.errors = sorted([*job.errors, *errors[:room]], key=lambda error: error["line"])
        job.heartbeat_at = moment
        job.updated_at = moment
        if job.processed >= job.rows:
            job.status = COMPLETED
            job.finished_at = moment
            job.worker_id = None


async def renew_lease(db: Database, job_id: str, worker_id: str, *, now: datetime) -> bool:
    """This worker is still at the job (a batch may take longer than the lease); False once it
    is not this worker's any more."""
    async with db.unit_of_work() as session:
        renewed = await session.execute(
            update(CustomerImport)
            .where(CustomerImport.id == job_id, CustomerImport.worker_id == worker_id)
            .values(heartbeat_at=now)
        )
        return bool(renewed.rowcount)


async def complete_if_empty(db: Database, job_id: str, worker_id: str, *, now: datetime) -> None:
    """A file without data rows has no batch to complete it."""
    async with db.unit_of_work() as session:
        job = await session.get(CustomerImport, job_id, with_for_update=True)
        if job is not None and job.worker_id == worker_id and job.rows == 0:
            job.status, job.finished_at, job.updated_at, job.worker_id = COMPLETED, now, now, None


class _RowImporter:
    """One batch's rows, each created through ``create_customer``, owned by who started the job."""

    def __init__(
        self, session: AsyncSession, principal: Principal, rows: JobRows, registered: set[str], *, savepoints: bool
    ) -> None:
        self.session = session
        self.principal = principal
        self.rows = rows
        self.registered = registered
        self.savepoints = savepoints
        self.placements = _Placements(principal)
        self.owner_name: str | None = None
        # Held for the batch: the session's identity map keeps only what is referenced, and each
        # create_customer looks its branch up again (placement).
        self.branches: list[BranchDirectoryEntry] | None = None

    async def import_row(self, line: int) -> list[RowError] | None:
        """None: the customer was created; []: skipped (already registered); else the row's errors."""
        rows, session = self.rows, self.session
        if line in rows.errors:
            return rows.errors[line]
        new = rows.accepted[line]
        refusal = await self.placements.refusal(session, new.branch_code)
        if refusal is not None:
            return [_problem_error(line, refusal, "branch_code")]
        repeated = _repeated(rows.first_line, line, new, tax_id_only=True)
        if repeated is None and _tax_id(new) in self.registered:
            return []
        repeated = repeated or _repeated(rows.first_line, line, new)
        if repeated is not None:
            return [repeated]
        if self.owner_name is None:
            self.owner_name = await own_name(session, self.principal)
            self.branches = list(await session.scalars(select(BranchDirectoryEntry)))
        owner = {"owner_id": self.principal.subject, "owner_name": self.owner_name}
        try:
            if self.savepoints:
                async with session.begin_nested():
                    await create_customer(session, self.principal, new, **owner)
            else:
                await create_customer(session, self.principal, new, **owner)
        except Problem as problem:
            if problem.status == 409 and not problem.errors and not self.savepoints:
                raise  # the database refused the row (crm_shared.concurrency): the batch goes again with savepoints
            session.add_all(problem.kept_records)  # e.g. that a duplicate check told of an unseen customer
            return [_problem_error(line, problem, _tax_field(new))]
        except IntegrityError:
            if not self.savepoints:
                raise
            return [
                {"line": line, "field": _tax_field(new), "message": "refused by the database; import the row again"}
            ]
        return None


async def fail(db: Database, job_id: str, worker_id: str, reason: str, *, now: datetime) -> None:
    """Stops a job that cannot go on (its file no longer reads, a defect): it says why."""
    async with db.unit_of_work() as session:
        job = await session.get(CustomerImport, job_id, with_for_update=True)
        if job is None or job.worker_id != worker_id:
            return
        job.status = FAILED
        job.failure = reason
        job.finished_at = now
        job.updated_at = now
        job.worker_id = None
