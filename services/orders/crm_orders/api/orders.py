"""Orders (/api/v1/orders/orders): capture for a visible customer, state changes, item
fulfilment from OSS, and draft orders started by won opportunities."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from crm_shared.api import CurrentPrincipal, ReadSession, SalesCustomersClient, ServiceDatabase, Session
from crm_shared.concurrency import IfMatch, flush_or_conflict, required_version, version_headers
from crm_shared.csv_export import CSV_MEDIA_TYPE, csv_export
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..domain.lifecycle import OrderState
from ..events.publishers import order_state
from ..services import catalog_service, order_service
from .deps import AnswerLanguage
from .schemas import Fulfilment, HistoryEntryOut, ItemIn, OrderCreate, OrderOut, StateChange

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
ORDERS_PATH = "/api/v1/orders/orders"
Customers = SalesCustomersClient


def order_url(order_id: str) -> str:
    return f"{ORDERS_PATH}/{order_id}"


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], order_url(view["id"]))


@router.post("/orders", status_code=201, response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def create_order(
    body: OrderCreate,
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: Session,
    customers: Customers,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Asks sales (gRPC) whether the customer is there and visible to the caller, prices every
    item from the current catalogue (the order keeps those prices) and acknowledges the order."""

    async def create() -> dict[str, Any]:
        order = await order_service.capture_order(
            session, principal, customers, body.customer_id, [i.request() for i in body.items], currency=body.currency
        )
        return (await catalog_service.named_in(session, language, [order_state(order)]))[0]

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=_headers,
        flush=lambda: flush_or_conflict(session, "order"),
    )


@dataclass(frozen=True)
class OrderFilters:
    """The filters of the order list, as its export takes them too."""

    customer_id: str | None
    state: str | None
    q: str | None


async def order_filters(
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    state: OrderState | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="an order number (the first 6 to 8 characters of its id, or more) or words of the customer's name",
        ),
    ] = None,
) -> OrderFilters:
    return OrderFilters(customer_id, state, q)


Filters = Annotated[OrderFilters, Depends(order_filters)]


@router.get("/orders", response_model=Page[OrderOut], responses=OPENAPI_PROBLEMS)
async def list_orders(
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: ReadSession,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
):
    """Newest first, as far as the caller sees."""
    rows, next_cursor = await order_service.list_orders(
        session, principal, **asdict(filters), limit=limit, cursor=cursor
    )
    items = await catalog_service.named_in(session, language, [order_state(o) for o in rows])
    return {"items": items, "next_cursor": next_cursor}


EXPORT_PAGE = 500
EXPORT_COLUMNS = (
    "id", "customer_id", "customer_name", "state", "state_reason", "source", "currency", "one_off_total_tiyn",
    "recurring_total_tiyn", "offerings", "owner_id", "owner_name", "branch_code", "region_code", "created_at",
    "updated_at", "completed_at",
)  # fmt: skip


@router.get(
    "/orders/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "the orders as CSV, one line each, streamed"},
        **openapi_problems(400, 401, 403, 422),
    },
    summary="The order list as a CSV file, with the list's filters, within the caller's visibility",
)
async def export_orders(
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    filters: Filters,
    format: Annotated[Literal["csv"], Query(description="the file format (only csv)")] = "csv",
):
    async def fetch_page(cursor: str | None):
        async with db.read_only() as session:
            rows, next_cursor = await order_service.list_orders(
                session, principal, **asdict(filters), limit=EXPORT_PAGE, cursor=cursor
            )
            return [
                order_state(o) | {"offerings": " + ".join(f"{i.quantity} × {i.offering_id}" for i in o.items)}
                for o in rows
            ], next_cursor

    return await csv_export(EXPORT_COLUMNS, fetch_page, filename="orders.csv")


@router.get("/orders/{order_id}", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def get_order(
    order_id: str, principal: CurrentPrincipal, language: AnswerLanguage, session: ReadSession, response: Response
):
    order = await order_service.get_order(session, principal, order_id)
    response.headers.update(version_headers(order.version))
    return (await catalog_service.named_in(session, language, [order_state(order)]))[0]


@router.patch("/orders/{order_id}/state", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def change_state(
    order_id: str,
    body: StateChange,
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    """Submit a draft (acknowledged), start, hold, resume or cancel (reason required). Outcomes
    (completed, failed, partial) come from fulfilment; an illegal move is a 409 listing the
    allowed ones."""
    expected = required_version(if_match, body.version, "order")
    order = await order_service.change_state(
        session, principal, order_id, body.state, body.reason, expected_version=expected
    )
    response.headers.update(version_headers(order.version))
    return (await catalog_service.named_in(session, language, [order_state(order)]))[0]


@router.post("/orders/{order_id}/items", status_code=201, response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def add_item(
    order_id: str,
    body: ItemIn,
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: Session,
    customers: Customers,
    response: Response,
):
    """Add an item to a draft order (one started by a won opportunity). Asks sales (gRPC) for the
    customer: it must still be there and visible, and the draft, started from an event that
    carries no customer name, gets the customer's name."""
    order = await order_service.add_item(session, principal, customers, order_id, body.request())
    response.headers.update(version_headers(order.version))
    return (await catalog_service.named_in(session, language, [order_state(order)]))[0]


@router.post("/orders/{order_id}/items/{item_id}/fulfilment", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def report_fulfilment(
    order_id: str,
    item_id: str,
    body: Fulfilment,
    principal: CurrentPrincipal,
    language: AnswerLanguage,
    session: Session,
    response: Response,
):
    """OSS reports one item's fulfilment (API key with orders:fulfil). When every item has an
    outcome the order completes (or fails, or is partial) and the installed products change."""
    order = await order_service.report_fulfilment(session, principal, order_id, item_id, body.state, body.reason)
    response.headers.update(version_headers(order.version))
    return (await catalog_service.named_in(session, language, [order_state(order)]))[0]


@router.get("/orders/{order_id}/history", response_model=Page[HistoryEntryOut], responses=OPENAPI_PROBLEMS)
async def order_history(
    order_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    """Who created, submitted, held, cancelled or fulfilled the order, when, and what changed."""
    entries, next_cursor = await order_service.order_history(session, principal, order_id, limit=limit, cursor=cursor)
    items = [
        {
            "id": e.id,
            "at": e.at,
            "actor_id": e.actor_id,
            "actor_name": e.actor_name,
            "action": e.action,
            "changes": e.changes,
            "operation_id": e.operation_id,
        }
        for e in entries
    ]
    return {"items": items, "next_cursor": next_cursor}
