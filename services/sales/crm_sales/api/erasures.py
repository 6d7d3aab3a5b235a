"""Erasure of a customer's personal data on request (/api/v1/sales/customers/{id}/erasure):
privacy officers (and admins) destroy a person's data across the suite and follow each service's
confirmation. The use cases are crm_sales.services.erasure_service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.timefmt import iso

from ..services import erasure_service
from .erasure_schemas import ErasureAskCreate, ErasureCreate, ErasureOut

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


def _ask_view(ask) -> dict[str, Any]:
    return {
        "id": ask.id,
        "customer_id": ask.customer_id,
        "reason": ask.reason,
        "status": ask.status,
        "asked_at": iso(ask.asked_at),
        "confirmed_at": iso(ask.confirmed_at),
    }


@router.post(
    "/customers/{customer_id}/erasure-asks",
    status_code=201,
    responses=OPENAPI_PROBLEMS,
    summary="The customer asks that their own personal data be destroyed (the self-service portal); "
    "pending until a privacy officer erases it; 200 with the pending ask when asked again",
)
async def ask_erasure(
    customer_id: str, body: ErasureAskCreate, principal: CurrentPrincipal, session: Session, response: Response
):
    ask, created = await erasure_service.ask_erasure(session, principal, customer_id, body.reason)
    if not created:
        response.status_code = 200
    return _ask_view(ask)


@router.get(
    "/erasure-asks",
    responses=OPENAPI_PROBLEMS,
    summary="Customers' own erasure requests for privacy officers to answer (oldest first); erasing the "
    "customer (POST /customers/{id}/erasure) confirms them",
)
async def erasure_asks(
    principal: CurrentPrincipal,
    session: ReadSession,
    status: Literal["pending", "confirmed"] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    return {"items": [_ask_view(a) for a in await erasure_service.erasure_asks(session, principal, status, limit)]}
