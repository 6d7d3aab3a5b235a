"""POST /customers/imports: a customer CSV file checked row by row (``dry_run=true``) or imported
in the background (202 and a job to follow at GET /customers/imports/{id}). The file comes as the
multipart field `file` or as a `text/csv` body; each row is checked by the rules of a customer
create (IIN/BIN check digits, phone, names, e-mail, consents) and placed in a branch the caller may
write to; the report names every bad row by line and field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.app import runtime_of
from crm_shared.errors import field_problem, openapi_problems

from ..domain.imports import COLUMNS, FileRuleError, create_body, read_rows
from ..services import import_service
from ..services.customer_service import NewCustomer
from .customer_schemas import CustomerCreate, new_customer

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])
MAX_FILE_BYTES = 50 * 1024 * 1024
_CREATE = TypeAdapter(CustomerCreate)


async def file_text(request: Request) -> tuple[str, str | None]:
    """The file's text and, from a multipart upload, its name."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise field_problem("file", "send the CSV file as the multipart field `file`")
        data, name = await upload.read(), upload.filename
    elif content_type.startswith(("text/csv", "text/plain")):
        data, name = await request.body(), None
    else:
        raise field_problem("file", "send the CSV file as multipart/form-data (field `file`) or as text/csv", 400)
    if len(data) > MAX_FILE_BYTES:
        raise field_problem("file", f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError:
        raise field_problem("file", "must be UTF-8 text") from None


def checked_rows(
    rows: Sequence[tuple[int, dict[str, str]]],
) -> tuple[list[tuple[int, NewCustomer]], list[dict]]:
    """The rows the create rules accept, as new customers, and the errors of the others (by line
    and column): the dry run's check, and the import worker's (main gives it this function)."""
    accepted, errors = [], []
    for line, row in rows:
        try:
            accepted.append((line, new_customer(_CREATE.validate_python(create_body(row)))))
        except ValidationError as exc:
            for error in exc.errors():
                location = [str(part) for part in error["loc"] if part not in ("individual", "business")]
                field = location[0] if location else "row"
                if field == "addresses" and len(location) >= 3:
                    field = location[2]  # the address cells are columns of their own
                errors.append({"line": line, "field": field, "message": error["msg"]})
    return accepted, errors


@router.post(
    "/customers/imports",
    status_code=202,
    responses=openapi_problems(400, 401, 403, 422),
    summary="Import a customer CSV file in the background, or check it row by row (dry run)",
    description=(
        f"Columns (first line, any order, `,` or `;`): {', '.join(COLUMNS)}. With `dry_run=true` (200) each "
        "row is checked as a customer create would check it and nothing is written; a customer already "
        "registered with the row's IIN/BIN is counted as `existing`, an IIN/BIN or phone repeated in the file is an error "
        "on its later line: `{rows, new, existing, errors: [{line, "
        "field, message}]}`. Without it (202) the file is queued and imported in the background, in batches: "
        "follow the job at the `Location` (`status` queued, running, completed or failed; `processed`, "
        "`created`, `skipped` (already registered, left as they are), `rejected`, `errors`). Running the "
        "same file again creates nothing twice."
    ),
)
async def import_customers(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    dry_run: Annotated[bool, Query(description="true: check the file and change nothing")] = False,
):
    content, file_name = await file_text(request)
    try:
        if not dry_run:
            job = await import_service.start_import(session, principal, content, file_name=file_name, now=now)
            view = import_service.import_view(job)
            await session.commit()
            _wake_import_worker(request)
            return JSONResponse(
                jsonable_encoder(view), status_code=202, headers={"Location": import_service.import_url(job.id)}
            )
        rows = read_rows(content)
    except FileRuleError as exc:
        raise field_problem("file", str(exc)) from None
    accepted, errors = checked_rows(rows)
    report = import_service.ImportReport(rows=len(rows), errors=errors)
    await import_service.check_rows(session, principal, report, accepted)
    result = {"rows": report.rows, "new": report.new, "existing": report.existing, "errors": report.errors}
    return JSONResponse(jsonable_encoder(result), status_code=200)


def _wake_import_worker(request: Request) -> None:
    """The job is picked up at once when this replica runs a worker (the others poll)."""
    for worker in runtime_of(request).workers:
        if worker.name == import_service.WORKER_NAME:
            worker.wake()  # type: ignore[attr-defined]


@router.get(
    "/customers/imports",
    responses=openapi_problems(401, 403, 422),
    summary="The caller's customer imports, newest first (without their errors)",
)
async def list_customer_imports(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    jobs = await import_service.list_imports(session, principal, limit=limit)
    return {"items": [import_service.import_view(job, with_errors=False) for job in jobs]}


@router.get(
    "/customers/imports/{import_id}",
    responses=openapi_problems(401, 403, 404),
    summary="A customer import's progress and result, with the errors by line (the first 1000; error_count counts all)",
)
async def get_customer_import(
    principal: CurrentPrincipal,
    session: ReadSession,
    import_id: Annotated[str, Path(max_length=36)],
):
    return import_service.import_view(await import_service.get_import(session, principal, import_id))
