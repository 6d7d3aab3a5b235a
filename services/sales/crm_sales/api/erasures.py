"""Erasure of a customer's personal data on request (/api/v1/sales/customers/{id}/erasure):
privacy officers (and admins) destroy a person's data across the suite and follow each service's
confirmation. The use cases are crm_sales.services.erasure_service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from crm_shared.api import CurrentPrincipal, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.timefmt import iso

from ..services import erasure_service
from .erasure_schemas import ErasureCreate, ErasureOut

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])


def _view(report: erasure_service.ErasureReport) -> dict[str, Any]:
    request = report.request
    return {
        "id": request.id,
        "customer_id": request.customer_id,
        "customer_ids": list(request.customer_ids or []),
        "status": report.status.value,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_by_name": request.requested_by_name,
        "requested_at": iso(request.requested_at),
        "completed_at": iso(report.completed_at),
        "services": {
            service: {
                "confirmed_at": iso(confirmation["confirmed_at"]) if confirmation else None,
                "records": confirmation["records"] if confirmation else None,
            }
            for service, confirmation in report.services.items()
        },
    }


@router.post(
    "/customers/{customer_id}/erasure",
    status_code=201,
    response_model=ErasureOut,
    responses=OPENAPI_PROBLEMS,
    summary="Erase the customer's personal data in every service (privacy officers); 200 with the "
    "first request when it was asked before",
)
async def request_erasure(
    customer_id: str, body: ErasureCreate, principal: CurrentPrincipal, session: Session, response: Response
):
    request, created = await erasure_service.request_erasure(session, principal, customer_id, body.reason)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/sales/customers/{request.customer_id}/erasure"
    return _view(erasure_service.report_of(request))


@router.get(
    "/customers/{customer_id}/erasure",
    response_model=ErasureOut,
    responses=OPENAPI_PROBLEMS,
    summary="Where the erasure of the customer's personal data stands: each service's confirmation",
)
async def erasure(customer_id: str, principal: CurrentPrincipal, session: ReadSession):
    return _view(await erasure_service.erasure_report(session, principal, customer_id))
