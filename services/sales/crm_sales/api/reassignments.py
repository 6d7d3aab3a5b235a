"""Bulk reassignment (/api/v1/sales/reassignments): everything a person owns in the caller's
scope moves to a new owner, as one audited operation. The use cases are
crm_sales.services.reassignment_service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, ReadSession, Session
from crm_shared.concurrency import flush_or_conflict
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.timefmt import iso

from ..access import require_reassigner
from ..db.pipeline_models import Reassignment
from ..services import reassignment_service
from .reassignment_schemas import (
    ReassignmentCreate,
    ReassignmentOut,
    ReassignmentPreviewOut,
    ReassignmentPreviewRequest,
)

router = APIRouter(prefix="/api/v1/sales", tags=["reassignments"])


async def _operation_view(session: AsyncSession, operation: Reassignment) -> dict[str, Any]:
    moved = await reassignment_service.moved_records(session, operation)
    return {
        "id": operation.id,
        "from_owner_id": operation.from_owner_id,
        "to_owner_id": operation.to_owner_id,
        "to_owner_name": operation.to_owner_name,
        "to_branch_code": operation.to_branch_code,
        "to_region_code": operation.to_region_code,
        "reason": operation.reason,
        "actor_id": operation.actor_id,
        "actor_name": operation.actor_name,
        "actor_role": operation.actor_role,
        "scope": operation.scope,
        "at": iso(operation.at),
        "counts": operation.counts,
        "moved": [{"entity_type": e.entity_type, "entity_id": e.entity_id, "changes": e.changes} for e in moved],
    }


@router.post(
    "/reassignments",
    status_code=201,
    response_model=ReassignmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="Move everything a person owns in your scope to a new owner (one transaction, one operation)",
)
async def create_reassignment(
    body: ReassignmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_reassigner(principal)

    async def create() -> dict:
        operation = await reassignment_service.reassign(
            session, principal, body.from_owner_id, body.to_owner_id, body.reason
        )
        return await _operation_view(session, operation)

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda view: {"Location": reassignment_service.reassignment_url(view["id"])},
        flush=lambda: flush_or_conflict(session, reassignment_service.ENTITY),
    )


@router.get(
    "/reassignments/{operation_id}",
    response_model=ReassignmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="A reassignment and every record it moved",
)
async def get_reassignment(operation_id: str, principal: CurrentPrincipal, session: Session):
    operation = await reassignment_service.get_reassignment(session, principal, operation_id)
    return await _operation_view(session, operation)


@router.post(
    "/reassignments/preview",
    response_model=ReassignmentPreviewOut,
    responses=OPENAPI_PROBLEMS,
    summary="What a reassignment would move (counts and a sample by name), changing nothing",
)
async def preview_reassignment(body: ReassignmentPreviewRequest, principal: CurrentPrincipal, session: ReadSession):
    return await reassignment_service.preview(session, principal, body.from_owner_id, body.to_owner_id)
