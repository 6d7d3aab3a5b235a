"""POST /customers/imports: a customer CSV file checked row by row (the dry run). The file comes
as the multipart field `file` or as a `text/csv` body; each row is checked by the rules of a
customer create (IIN/BIN check digits, phone, names, e-mail, consents) and placed in a branch the
caller may write to; the report names every bad row by line and field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter, ValidationError

from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.errors import field_problem, openapi_problems

from ..domain.imports import COLUMNS, FileRuleError, create_body, read_rows
from ..services import import_service
from .customer_schemas import CustomerCreate, new_customer

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])
MAX_FILE_BYTES = 50 * 1024 * 1024
_CREATE = TypeAdapter(CustomerCreate)


async def file_text(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise field_problem("file", "send the CSV file as the multipart field `file`")
        data = await upload.read()
    elif content_type.startswith(("text/csv", "text/plain")):
        data = await request.body()
    else:
        raise field_problem("file", "send the CSV file as multipart/form-data (field `file`) or as text/csv", 400)
    if len(data) > MAX_FILE_BYTES:
        raise field_problem("file", f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise field_problem("file", "must be UTF-8 text") from None


@router.post(
    "/customers/imports",
    responses=openapi_problems(400, 401, 403, 422),
    summary="Check a customer CSV file row by row (dry run): every bad row by line and field",
    description=(
        f"Columns (first line, any order, `,` or `;`): {', '.join(COLUMNS)}. A row is checked as a customer "
        "create would check it; a customer already registered with the row's IIN/BIN is counted as "
        "`existing` (an import leaves it as it is). Answers `{rows, new, existing, errors: [{line, field, "
        "message}]}`. Only the dry run is available yet: `dry_run=true` is required."
    ),
)
async def check_import(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    dry_run: Annotated[bool, Query(description="true: check the file and change nothing")] = False,
):
    if not dry_run:
        raise field_problem("dry_run", "only the dry run is available yet: send dry_run=true")
    try:
        rows = read_rows(await file_text(request))
    except FileRuleError as exc:
        raise field_problem("file", str(exc)) from None
    report = import_service.ImportReport(rows=len(rows))
    accepted = []
    for line, row in rows:
        try:
            accepted.append((line, new_customer(_CREATE.validate_python(create_body(row)))))
        except ValidationError as exc:
            for error in exc.errors():
                location = [str(part) for part in error["loc"] if part not in ("individual", "business")]
                field = location[0] if location else "row"
                if field == "addresses" and len(location) >= 3:
                    field = location[2]  # the address cells are columns of their own
                report.refuse(line, field, error["msg"])
    await import_service.check_rows(session, principal, report, accepted)
    return {"rows": report.rows, "new": report.new, "existing": report.existing, "errors": report.errors}
