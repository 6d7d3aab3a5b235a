"""Orders (/api/v1/orders/orders): capture for a visible customer, state changes, item
fulfilment from OSS, and draft orders started by won opportunities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import and_, or_, select

from crm_shared.auth import can_write, visibility_clause
from crm_shared.concurrency import IfMatch, check_version, flush_or_conflict, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS, field_problem, not_found
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from crm_shared.records import get_visible, get_writable

from .. import order_service as service
from ..db.models import Order
from ..domain.lifecycle import ItemAction, OrderState
from .access import FULFIL, require_order_writer, require_reader, require_system_scope
from .deps import CurrentPrincipal, Customers, Session

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
ORDERS_PATH = "/api/v1/orders/orders"
Text = Annotated[str, Field(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    action: ItemAction = ItemAction.ADD
    offering_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    quantity: StrictInt = Field(1, description="1 to 100; 1 for modify and delete")
    installed_product_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="the customer's installed product a modify or delete item works on"
    )
    characteristics: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = {}
    service_address: Annotated[str, Field(max_length=500)] = ""

    def request(self) -> service.ItemRequest:
        return service.ItemRequest(
            action=self.action,
            offering_id=self.offering_id,
            quantity=self.quantity,
            installed_product_id=self.installed_product_id,
            characteristics=dict(self.characteristics),
            service_address=self.service_address,
        )


class OrderCreate(Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    currency: Annotated[str, Field(min_length=1, max_length=8)] = "KZT"
    items: Annotated[list[ItemIn], Field(min_length=1)]


class StateChange(Strict):
    state: Literal["acknowledged", "in_progress", "held", "cancelled", "completed", "failed", "partial"]
    reason: Text | None = None
    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")


class Fulfilment(Strict):
    state: Literal["in_progress", "completed", "failed"]
    reason: Text | None = None


class ItemOut(BaseModel):
    id: str
    position: int
    action: str
    state: str
    state_reason: str | None
    offering_id: str
    offering_version: int
    offering_name: str
    product_line: str
    quantity: int
    one_off_price_tiyn: int
    recurring_price_tiyn: int
    characteristics: dict[str, str]
    service_address: str
    installed_product_id: str | None
    result_product_ids: list[str]
    # modify / delete: what the installed product was when the order was taken; None for add items
    # (and for items taken before this was recorded)
    replaced_offering_id: str | None = Field(
        description="the offering a tariff change replaces, or the one a disconnection ends"
    )
    replaced_offering_version: int | None = Field(description="the version of that offering the product was on")
    replaced_offering_name: str | None = Field(description="that offering's name as the product had it")


class OrderOut(BaseModel):
    id: str
    customer_id: str
    customer_name: str
    state: str
    state_reason: str | None
    source: str
    opportunity_id: str | None
    currency: str
    one_off_total_tiyn: int
    recurring_total_tiyn: int
    items: list[ItemOut]
    allowed_transitions: list[str]
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def _cursor_time(after: list) -> datetime:
    try:
        if len(after) == 2 and all(isinstance(v, str) for v in after):
            return datetime.fromisoformat(after[0])
    except ValueError:
        pass
    raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)


def order_url(order_id: str) -> str:
    return f"{ORDERS_PATH}/{order_id}"


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], order_url(view["id"]))


async def writable_order(session, principal, order_id: str) -> Order:
    require_order_writer(principal)
    return await get_writable(session, principal, Order, order_id, what="order")


async def capture(session, principal, customers, body: OrderCreate, source: str = "api") -> Order:
    require_order_writer(principal)
    customer = await customers.visible_customer(principal, body.customer_id, field="customer_id")
    if not can_write(principal, customer.region_code, customer.branch_code):
        raise not_found("customer", body.customer_id, "customer_id")
    return await service.create_order(
        session, principal, customer, [i.request() for i in body.items], currency=body.currency, source=source
    )


@router.post("/orders", status_code=201, response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def create_order(
    body: OrderCreate,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Asks sales (gRPC) whether the customer is there and visible to the caller, prices every
    item from the current catalogue (the order keeps those prices) and acknowledges the order."""

    async def create() -> dict[str, Any]:
        return service.order_state(await capture(session, principal, customers, body))

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


@router.get("/orders", response_model=Page[OrderOut], responses=OPENAPI_PROBLEMS)
async def list_orders(
    principal: CurrentPrincipal,
    session: Session,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    state: OrderState | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
):
    """Newest first, as far as the caller sees."""
    require_reader(principal)
    stmt = select(Order).where(visibility_clause(principal, Order))
    if customer_id:
        stmt = stmt.where(Order.customer_id == customer_id)
    if state:
        stmt = stmt.where(Order.state == state)
    after = decode_cursor(cursor)
    if after:
        created = _cursor_time(after)
        stmt = stmt.where(or_(Order.created_at < created, and_(Order.created_at == created, Order.id < after[1])))
    rows = list(await session.scalars(stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])
    return {"items": [service.order_state(o) for o in rows], "next_cursor": next_cursor}


@router.get("/orders/{order_id}", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def get_order(order_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    require_reader(principal)
    order = await get_visible(session, principal, Order, order_id, what="order")
    response.headers.update(version_headers(order.version))
    return service.order_state(order)


@router.patch("/orders/{order_id}/state", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def change_state(
    order_id: str,
    body: StateChange,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    """Submit a draft (acknowledged), start, hold, resume or cancel (reason required). Outcomes
    (completed, failed, partial) come from fulfilment; an illegal move is a 409 listing the
    allowed ones."""
    expected = required_version(if_match, body.version, "order")
    order = await writable_order(session, principal, order_id)
    check_version("order", order.version, expected)
    await service.request_state(session, principal, order, body.state, body.reason)
    await flush_or_conflict(session, "order")
    response.headers.update(version_headers(order.version))
    return service.order_state(order)


@router.post("/orders/{order_id}/items", status_code=201, response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def add_item(
    order_id: str, body: ItemIn, principal: CurrentPrincipal, session: Session, customers: Customers, response: Response
):
    """Add an item to a draft order (one started by a won opportunity). Asks sales (gRPC) for the
    customer: it must still be there and visible, and the draft, started from an event that
    carries no customer name, gets the customer's name."""
    order = await writable_order(session, principal, order_id)
    customer = await customers.visible_customer(principal, order.customer_id, field="customer_id")
    if not order.customer_name:
        order.customer_name = customer.display_name
    await service.add_draft_item(session, principal, order, body.request())
    await flush_or_conflict(session, "order")
    response.headers.update(version_headers(order.version))
    return service.order_state(order)


@router.post("/orders/{order_id}/items/{item_id}/fulfilment", response_model=OrderOut, responses=OPENAPI_PROBLEMS)
async def report_fulfilment(
    order_id: str, item_id: str, body: Fulfilment, principal: CurrentPrincipal, session: Session, response: Response
):
    """OSS reports one item's fulfilment (API key with orders:fulfil). When every item has an
    outcome the order completes (or fails, or is partial) and the installed products change."""
    require_system_scope(principal, FULFIL, "fulfilment")
    order = await get_writable(session, principal, Order, order_id, what="order")
    item = next((i for i in order.items if i.id == item_id), None)
    if item is None:
        raise not_found("order item", item_id[:64])
    await service.report_item(session, principal, order, item, body.state, body.reason)
    await flush_or_conflict(session, "order")
    response.headers.update(version_headers(order.version))
    return service.order_state(order)
