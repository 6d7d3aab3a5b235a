"""Commissions (/api/v1/partners/partners/{id}/commissions), monthly statements (JSON, CSV, PDF)
and disputes. A partner user sees only its own partner's: another's is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..domain.statement_documents import StatementRow, statement_csv, statement_pdf
from ..events.publishers import dispute_view, line_view
from ..services import commission_service
from .schemas import CommissionLineOut, DisputeCreate, DisputeOut, DisputeResolution, StatementOut

router = APIRouter(prefix="/api/v1/partners", tags=["commissions"])


@router.get(
    "/partners/{partner_id}/commissions",
    response_model=Page[CommissionLineOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="A partner's commission lines, newest first",
)
async def list_commissions(
    partner_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    rows, next_cursor = await commission_service.list_lines(session, principal, partner_id, limit=limit, cursor=cursor)
    return {"items": [line_view(row) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/partners/{partner_id}/statements/{period}",
    response_model=StatementOut,
    responses=OPENAPI_PROBLEMS | {200: {"content": {"text/csv": {}, "application/pdf": {}}}},
    summary="A month's statement (yyyy-mm): totals and the lines behind them; ?format=csv|pdf to download",
)
async def get_statement(
    partner_id: str,
    period: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    format: Annotated[str, Query(pattern="^(json|csv|pdf)$")] = "json",
):
    found = await commission_service.statement(session, principal, partner_id, period)
    totals: dict[str, int] = found["totals"].__dict__
    if format == "json":
        return {**found, "totals": totals, "lines": [line_view(line) for line in found["lines"]]}
    rows = [
        StatementRow(
            line.id,
            line.accrued_at.isoformat(),
            line.kind,
            line.status,
            line.order_id or "",
            line.customer_id,
            line.offering_id or "",
            line.amount_tiyn,
        )
        for line in found["lines"]
    ]
    name = f"statement-{partner_id}-{period}"
    if format == "csv":
        return Response(
            statement_csv(rows, totals),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    title = f"Qazaq CRM commission statement {period}, partner {partner_id}"
    return Response(
        statement_pdf(title, rows, totals),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.post(
    "/disputes",
    status_code=201,
    response_model=DisputeOut,
    responses=OPENAPI_PROBLEMS,
    summary="Dispute a month's statement or one of its lines (a partner user)",
)
async def open_dispute(body: DisputeCreate, principal: CurrentPrincipal, session: Session, now: Now):
    dispute = await commission_service.open_dispute(
        session, principal, period=body.period, line_id=body.line_id, text=body.text, now=now
    )
    return dispute_view(dispute)


@router.get(
    "/disputes",
    response_model=list[DisputeOut],
    responses=OPENAPI_PROBLEMS,
    summary="Disputes, newest first (a partner user: its own)",
)
async def list_disputes(
    principal: CurrentPrincipal, session: ReadSession, status: Annotated[str | None, Query(max_length=16)] = None
) -> list[dict[str, Any]]:
    return [dispute_view(d) for d in await commission_service.list_disputes(session, principal, status)]


@router.post(
    "/disputes/{dispute_id}/resolution",
    response_model=DisputeOut,
    responses=OPENAPI_PROBLEMS,
    summary="Resolve a dispute (channel manager)",
)
async def resolve_dispute(
    dispute_id: str, body: DisputeResolution, principal: CurrentPrincipal, session: Session, now: Now
):
    return dispute_view(await commission_service.resolve_dispute(session, principal, dispute_id, body.resolution, now))
