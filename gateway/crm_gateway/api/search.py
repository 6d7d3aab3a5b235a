"""GET /api/v1/search: the one search box of the call centre and the branches (the use case:
services/search_service.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from crm_shared.errors import openapi_problems

from ..services import search_service
from ..state import gateway_of
from .deps import CurrentCaller

router = APIRouter(prefix="/api/v1", tags=["search"])
MAX_QUERY_LENGTH = 200
MAX_PER_KIND = 50


class SearchItem(BaseModel):
    type: Literal["customer", "ticket", "order"]
    id: str
    title: str
    subtitle: str
    status: str | None = None
    customer_id: str | None = None


class SearchAnswer(BaseModel):
    items: list[SearchItem]
    unavailable: list[str]


@router.get(
    "/search",
    response_model=SearchAnswer,
    responses=openapi_problems(400, 401, 422, 429),
    summary="Find customers, tickets and orders by anything: name, phone, IIN/BIN, e-mail, number",
    description=(
        "`q` goes to each service's own search as the caller (their visibility, identifiers masked where the "
        "role sees them masked): customers by any part of any name in any order, case or script (Kazakh, "
        "Russian, Latin), by phone in any notation, IIN/BIN or e-mail; tickets and orders by their number "
        "(the first characters of the id, as the console shows it) or words. A service the caller may not "
        "use adds nothing; one that does not answer is named in `unavailable`."
    ),
)
async def search(
    request: Request,
    caller: CurrentCaller,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="what the search box holds")],
    limit: Annotated[int, Query(ge=1, le=MAX_PER_KIND, description="at most this many of each type")] = 10,
) -> dict[str, Any]:
    return await search_service.search(
        gateway_of(request).upstreams, caller.principal, request.state.request_id, q, limit=limit
    )
