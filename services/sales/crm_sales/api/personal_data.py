"""The subject-access export (GET /customers/{id}/personal-data) and the audit of look-ups by
IIN/BIN, for privacy officers and administrators. The use cases are
crm_sales.services.personal_data_service and access_audit_service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from crm_shared.api import CurrentPrincipal, Now, ReadSession, ServiceDatabase, client
from crm_shared.clients.orders import OrdersPersonalData
from crm_shared.clients.tickets import TicketsPersonalData
from crm_shared.errors import OPENAPI_PROBLEMS, field_problem, openapi_problems
from crm_shared.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from crm_shared.timefmt import iso

from ..access import require_privacy_officer
from ..services import access_audit_service, personal_data_service

router = APIRouter(prefix="/api/v1/sales", tags=["personal data"])

OrdersExport = Annotated[OrdersPersonalData, Depends(client(OrdersPersonalData))]
TicketsExport = Annotated[TicketsPersonalData, Depends(client(TicketsPersonalData))]


@router.get(
    "/customers/{customer_id}/personal-data",
    responses=OPENAPI_PROBLEMS | openapi_problems(503),
    summary="Everything the suite holds about a person, as one JSON document (privacy officers, admins)",
    description="The customer (identifiers unmasked), its consents and their history, its change history, "
    "who looked it up by IIN or hit it as a duplicate, the records merged into it, its leads, opportunities "
    "and activities, and what every other service holds (orders: orders, products, invoices; tickets: "
    "tickets with notes, interactions), gathered over gRPC as the caller. A service that does not answer "
    "makes it a 503 naming that service, never a partial document. Each export is audited. Sent as a "
    "download (`Content-Disposition: attachment`).",
)
async def export_personal_data(
    customer_id: str,
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    orders: OrdersExport,
    tickets: TicketsExport,
    now: Now,
):
    document = await personal_data_service.export_personal_data(db, principal, customer_id, [orders, tickets], now=now)
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="personal-data-{document["customer"]["id"]}.json"',
            "Cache-Control": "no-store",
        },
    )


def _lookup_view(entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "caller_id": entry.actor_id,
        "caller_name": entry.actor_name,
        "field": entry.action.removesuffix("_lookup"),
        "query": entry.changes.get("query", [None, None])[1],
        "found_customer_ids": entry.changes.get("found", [None, []])[1],
        "via": entry.changes.get("via", [None, None])[1],
        "refused": entry.entity_type == access_audit_service.REFUSED_LOOKUP,
    }


@router.get(
    "/identifier-lookups",
    responses=OPENAPI_PROBLEMS,
    summary="The audit of look-ups by IIN/BIN by callers who see identifiers masked (privacy officers, admins)",
    description="Newest first: who, when, the identifier asked (masked to its last four digits), which "
    "customers were found, over REST or gRPC, and whether the caller's budget refused it.",
)
async def identifier_lookups(
    principal: CurrentPrincipal,
    session: ReadSession,
    caller_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    require_privacy_officer(principal, "the audit of look-ups by IIN/BIN")
    before = decode_cursor(cursor)
    if before is not None and (len(before) != 1 or not isinstance(before[0], int)):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    entries = await access_audit_service.identifier_lookups(
        session, caller_id=caller_id, limit=limit + 1, before_id=before[0] if before else None
    )
    next_cursor = encode_cursor([entries[limit - 1].id]) if len(entries) > limit else None
    return {"items": [_lookup_view(e) for e in entries[:limit]], "next_cursor": next_cursor}
