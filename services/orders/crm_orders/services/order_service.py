"""Order capture, state changes, fulfilment and completion: the one place these happen, used by
the REST API, the TM Forum facade and the won-opportunity consumer.

Every function works inside the caller's unit of work; its events go to the outbox in the same
transaction, so an order is never half-created and never completed without its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import history, record_change
from crm_shared.auth import Principal, Role, Scope, can_write, visibility_clause
from crm_shared.clients.sales import SalesCustomers
from crm_shared.concurrency import check_version, flush_or_conflict
from crm_shared.customer_identity import refuse_erased, refuse_unless_in_use
from crm_shared.db import new_id, utcnow
from crm_shared.errors import field_problem, not_found
from crm_shared.models import AuditEntry
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import get_visible, get_writable, mark_changed
from crm_shared.search import search_clause

from ..access import FULFIL, READ, require_order_writer, require_reader, require_scope, require_system_scope
from ..db.models import InstalledProduct, Offering, Order, OrderItem
from ..domain.catalog import CURRENCY, PricedLine, totals, why_not_sellable
from ..domain.lifecycle import (
    ItemAction,
    ItemState,
    OrderState,
    check_draft,
    check_fulfilment_reportable,
    check_item_transition,
    check_request,
    check_transition,
    outcome_of,
)
from ..events.publishers import publish_installed_product, publish_order
from .customer_identity_service import home_of

MAX_ITEMS = 50
# Each unit of an added item becomes an installed product when the order completes.
MAX_QUANTITY = 100


@dataclass
class ItemRequest:
    action: str
    offering_id: str | None = None
    quantity: int = 1
    installed_product_id: str | None = None
    characteristics: dict[str, str] = field(default_factory=dict)
    service_address: str = ""


@dataclass(frozen=True)
class Placement:
    """Whose order it is and where it belongs (the customer's branch and region)."""

    customer_id: str
    customer_name: str
    customer_status: str
    branch_code: str
    region_code: str


@dataclass(frozen=True)
class WonOpportunity:
    """What a won opportunity from sales says about the draft order it starts."""

    id: str
    customer_id: str
    branch_code: str
    region_code: str
    owner_id: str | None
    owner_name: str


# --- reading ----------------------------------------------------------------------------------


async def get_order(session: AsyncSession, principal: Principal, order_id: str, *, what: str = "order") -> Order:
    """``what`` is the record type as the caller's API names it (``productOrder`` in TMF622)."""
    require_reader(principal)
    return await get_visible(session, principal, Order, order_id, what=what)


def _cursor_time(after: list) -> datetime:
    try:
        if len(after) == 2 and all(isinstance(v, str) for v in after):
            return datetime.fromisoformat(after[0])
    except ValueError:
        pass
    raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    *,
    customer_id: str | None,
    state: str | None,
    limit: int,
    cursor: str | None,
    q: str | None = None,
) -> tuple[list[Order], str | None]:
    """Newest first, as far as the caller sees: (a page of orders, the cursor of the next one).
    ``q``: an order number or words of the customer's name (crm_shared.search)."""
    require_reader(principal)
    stmt = select(Order).where(visibility_clause(principal, Order))
    if customer_id:
        stmt = stmt.where(Order.customer_id == customer_id)
    if state:
        stmt = stmt.where(Order.state == state)
    if q is not None:
        stmt = stmt.where(search_clause(q, Order.id, (Order.customer_name,)))
    after = decode_cursor(cursor)
    if after:
        created = _cursor_time(after)
        stmt = stmt.where(or_(Order.created_at < created, and_(Order.created_at == created, Order.id < after[1])))
    rows = list(await session.scalars(stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])


async def list_orders_at_offset(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str | None,
    customer_id: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Order]]:
    """(how many orders the caller sees with these filters, the slice at offset): TMF630 paging."""
    require_reader(principal)
    stmt = select(Order).where(visibility_clause(principal, Order))
    if state:
        stmt = stmt.where(Order.state == state)
    if customer_id:
        stmt = stmt.where(Order.customer_id == customer_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(await session.scalars(stmt.order_by(Order.created_at.desc(), Order.id).offset(offset).limit(limit)))
    return total or 0, rows


async def order_stats(session: AsyncSession, principal: Principal) -> list[dict[str, object]]:
    """Counts and totals by region, branch and state, no personal data: analysts see the whole
    country, everyone else their own scope."""
    require_scope(principal, READ)
    clause = true() if principal.scope is Scope.NONE else visibility_clause(principal, Order)
    rows = await session.execute(
        select(
            Order.region_code,
            Order.branch_code,
            Order.state,
            func.count(),
            func.coalesce(func.sum(Order.one_off_total_tiyn), 0),
            func.coalesce(func.sum(Order.recurring_total_tiyn), 0),
        )
        .where(clause)
        .group_by(Order.region_code, Order.branch_code, Order.state)
        .order_by(Order.region_code, Order.branch_code, Order.state)
    )
    return [
        {
            "region_code": r,
            "branch_code": b,
            "state": s,
            "orders": n,
            "one_off_total_tiyn": int(o),
            "recurring_total_tiyn": int(m),
        }
        for r, b, s, n, o, m in rows
    ]


# --- capture ----------------------------------------------------------------------------------


async def _installed_offering_version(session: AsyncSession, product: InstalledProduct) -> int | None:
    """The offering version ``product`` is on: the one of the completed item that last made it
    what it is (product.order_id names that order). None when no such item is found."""
    items = await session.scalars(
        select(OrderItem).where(
            OrderItem.order_id == product.order_id,
            OrderItem.offering_id == product.offering_id,
            OrderItem.action.in_([ItemAction.ADD, ItemAction.MODIFY]),
            OrderItem.state == ItemState.COMPLETED,
        )
    )
    return next((i.offering_version for i in items if product.id in (i.result_product_ids or [])), None)


async def _priced_item(
    session: AsyncSession, customer_id: str, region_code: str, request: ItemRequest, position: int, today: date
) -> OrderItem:
    where = f"items[{position}]"
    if request.quantity <= 0:
        raise field_problem(f"{where}.quantity", "must be at least 1")
    if request.quantity > MAX_QUANTITY:
        raise field_problem(f"{where}.quantity", f"must be at most {MAX_QUANTITY}")
    product: InstalledProduct | None = None
    if request.action in (ItemAction.MODIFY, ItemAction.DELETE):
        if not request.installed_product_id:
            raise field_problem(f"{where}.installed_product_id", f"required for action {request.action}")
        product = await session.get(InstalledProduct, request.installed_product_id)
        if product is None or product.customer_id != customer_id:
            raise field_problem(f"{where}.installed_product_id", "is not an installed product of this customer", 404)
        if product.status == "terminated":
            raise field_problem(f"{where}.installed_product_id", "is terminated", 409)
        if request.quantity != 1:
            raise field_problem(f"{where}.quantity", f"must be 1 for action {request.action}")
    offering_id = request.offering_id or (product.offering_id if product else None)
    if not offering_id:
        raise field_problem(f"{where}.offering_id", "required for action add")
    offering = await session.get(Offering, offering_id)
    if offering is None:
        raise field_problem(f"{where}.offering_id", f"unknown product offering {offering_id[:64]}", 404)
    if request.action != ItemAction.DELETE:  # a retired product can still be disconnected
        reason = why_not_sellable(
            status=offering.status,
            region_codes=list(offering.region_codes or []),
            valid_from=offering.valid_from,
            valid_to=offering.valid_to,
            region_code=region_code,
            today=today,
        )
        if reason:
            raise field_problem(f"{where}.offering_id", f"offering {offering.id} {reason}")
        if offering.currency != CURRENCY:
            raise field_problem(f"{where}.offering_id", f"offering {offering.id} is priced in {offering.currency}")
    if product is not None and request.action == ItemAction.MODIFY and offering.product_line != product.product_line:
        raise field_problem(
            f"{where}.offering_id", f"a {product.product_line} product cannot become a {offering.product_line} one"
        )
    # A modified product keeps what was configured on it, except what the new offering defines.
    characteristics = dict(product.characteristics or {}) if product is not None else {}
    characteristics |= dict(offering.characteristics or {}) | request.characteristics
    return OrderItem(
        id=new_id(),
        position=position,
        action=request.action,
        state=ItemState.ACKNOWLEDGED,
        offering_id=offering.id,
        offering_version=offering.version,
        offering_name=offering.name,
        product_line=offering.product_line,
        quantity=request.quantity,
        one_off_price_tiyn=offering.one_off_price_tiyn if request.action != ItemAction.DELETE else 0,
        recurring_price_tiyn=offering.recurring_price_tiyn if request.action != ItemAction.DELETE else 0,
        characteristics=characteristics,
        service_address=request.service_address or (product.service_address if product else ""),
        installed_product_id=product.id if product else None,
        result_product_ids=[],
        # what the product is now: the offering a change replaces, or the one a disconnection ends
        replaced_offering_id=product.offering_id if product else None,
        replaced_offering_version=await _installed_offering_version(session, product) if product else None,
        replaced_offering_name=product.offering_name if product else None,
    )


def _recompute_totals(order: Order) -> None:
    order.one_off_total_tiyn, order.recurring_total_tiyn = totals(
        [PricedLine(i.quantity, i.one_off_price_tiyn, i.recurring_price_tiyn) for i in order.items]
    )


async def capture_order(
    session: AsyncSession,
    principal: Principal,
    customers: SalesCustomers,
    customer_id: str,
    items: list[ItemRequest],
    *,
    currency: str = CURRENCY,
    source: str = "api",
) -> Order:
    """A new order for a customer the caller may see and write: asks sales (gRPC) whether the
    customer is there and visible, prices every item from the current catalogue (the order keeps
    those prices) and acknowledges the order."""
    require_order_writer(principal)
    customer = await customers.get(principal, customer_id, field="customer_id")
    refuse_unless_in_use(customer)  # merged: 409 naming the survivor; erased: 409
    if not can_write(principal, customer.region_code, customer.branch_code):
        raise not_found("customer", customer_id, "customer_id")
    # sales may have merged or erased it since it answered: the news may be here already
    home = await home_of(session, customer.id)
    if home.moved:
        refuse_unless_in_use(replace(customer, status="merged", merged_into_id=home.customer_id))
    if home.erased:
        refuse_erased(customer.id)
    placement = Placement(
        customer.id, customer.display_name, customer.status, customer.branch_code, customer.region_code
    )
    return await _place_order(session, principal, placement, items, currency=currency, source=source)


async def _place_order(
    session: AsyncSession,
    principal: Principal,
    placement: Placement,
    items: list[ItemRequest],
    *,
    currency: str = CURRENCY,
    source: str,
    state: OrderState = OrderState.ACKNOWLEDGED,
    opportunity_id: str | None = None,
    owner_id: str | None = None,
    owner_name: str | None = None,
) -> Order:
    """Every item is validated before anything is written."""
    if currency != CURRENCY:
        raise field_problem("currency", f"orders are in {CURRENCY}; {currency[:8]} is not accepted")
    if state != OrderState.DRAFT and not items:
        raise field_problem("items", "at least one item is required")
    if len(items) > MAX_ITEMS:
        raise field_problem("items", f"at most {MAX_ITEMS} items")
    today = utcnow().date()
    priced = [
        await _priced_item(session, placement.customer_id, placement.region_code, request, position, today)
        for position, request in enumerate(items)
    ]
    targets = [i.installed_product_id for i in priced if i.installed_product_id]
    if len(targets) != len(set(targets)):
        raise field_problem("items", "an installed product may appear in one item only")
    now = utcnow()
    order = Order(
        id=new_id(),
        customer_id=placement.customer_id,
        customer_name=placement.customer_name,
        state=state,
        source=source,
        opportunity_id=opportunity_id,
        currency=CURRENCY,
        owner_id=owner_id or principal.subject,
        owner_name=owner_name or principal.display_name,
        branch_code=placement.branch_code,
        region_code=placement.region_code,
        version=1,
        created_at=now,
        updated_at=now,
        items=priced,
    )
    _recompute_totals(order)
    session.add(order)
    record_change(
        session,
        principal,
        entity_type="order",
        entity_id=order.id,
        action="created",
        changes={"state": [None, order.state], "items": [None, len(priced)]},
    )
    await publish_order(session, "created", order)
    return order


async def draft_from_opportunity(session: AsyncSession, opportunity: WonOpportunity) -> Order | None:
    """A draft order for a won opportunity (once per opportunity), placed like the opportunity,
    with no items yet: staff add them and submit it."""
    if await session.scalar(select(Order.id).where(Order.opportunity_id == opportunity.id)) is not None:
        return None
    system = Principal("orders:opportunity-consumer", "orders", Role.SYSTEM)
    # A customer merged away meanwhile: the draft is the survivor's.
    home = await home_of(session, opportunity.customer_id)
    # The event names no customer; the first item added asks sales for the name.
    placement = Placement(home.customer_id, "", "active", opportunity.branch_code, opportunity.region_code)
    return await _place_order(
        session,
        system,
        placement,
        [],
        source="opportunity",
        state=OrderState.DRAFT,
        opportunity_id=opportunity.id,
        owner_id=opportunity.owner_id or system.subject,
        owner_name=opportunity.owner_name,
    )


async def add_item(
    session: AsyncSession, principal: Principal, customers: SalesCustomers, order_id: str, request: ItemRequest
) -> Order:
    """An item added to a draft order (one started by a won opportunity). Sales is asked for the
    customer: it must still be there and visible, and the draft, started from an event that
    carries no customer name, gets the customer's name."""
    order = await writable_order(session, principal, order_id)
    customer = await customers.get(principal, order.customer_id, field="customer_id")
    if not order.customer_name:
        order.customer_name = customer.display_name
    check_draft(order.state)
    item = await _priced_item(session, order.customer_id, order.region_code, request, len(order.items), utcnow().date())
    order.items.append(item)
    _recompute_totals(order)
    mark_changed(order)
    record_change(
        session,
        principal,
        entity_type="order",
        entity_id=order.id,
        action="item_added",
        changes={"items": [len(order.items) - 1, len(order.items)]},
    )
    await publish_order(session, "state_changed", order)
    await flush_or_conflict(session, "order")
    return order


# --- state changes ----------------------------------------------------------------------------


async def writable_order(session: AsyncSession, principal: Principal, order_id: str) -> Order:
    require_order_writer(principal)
    return await get_writable(session, principal, Order, order_id, what="order")


async def change_state(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    requested: str,
    reason: str | None,
    *,
    expected_version: int | None = None,
) -> Order:
    """A client's state change (acknowledge a draft, start, hold, resume, cancel); outcomes
    (completed, failed, partial) come from fulfilment. ``expected_version`` None: unconditional."""
    order = await writable_order(session, principal, order_id)
    check_version("order", order.version, expected_version)
    target = check_request(order.state, requested, reason=reason, item_states=[i.state for i in order.items])
    before = order.state
    order.state = target
    order.state_reason = reason.strip() if reason else None
    mark_changed(order)
    record_change(
        session,
        principal,
        entity_type="order",
        entity_id=order.id,
        action="state_changed",
        changes={"state": [before, target.value]},
    )
    await publish_order(session, "state_changed", order)
    await flush_or_conflict(session, "order")
    return order


async def report_fulfilment(
    session: AsyncSession, principal: Principal, order_id: str, item_id: str, requested: str, reason: str | None
) -> Order:
    """OSS reports one item's fulfilment (an API key with orders:fulfil); the order moves to
    in_progress with the first report and to its outcome with the last one, and then the
    customer's installed products change."""
    require_system_scope(principal, FULFIL, "fulfilment")
    order = await get_writable(session, principal, Order, order_id, what="order")
    item = next((i for i in order.items if i.id == item_id), None)
    if item is None:
        raise not_found("order item", item_id[:64])
    check_fulfilment_reportable(order.state)
    target = check_item_transition(item.state, requested)
    before = order.state
    item.state = target
    item.state_reason = reason.strip() if reason else None
    if order.state == OrderState.ACKNOWLEDGED:
        order.state = check_transition(order.state, OrderState.IN_PROGRESS)
    outcome = outcome_of([i.state for i in order.items])
    now = utcnow()
    if outcome is not None:
        order.state = check_transition(order.state, outcome)
        order.completed_at = now
        await _apply_to_inventory(session, order, now)
    mark_changed(order, now)
    record_change(
        session,
        principal,
        entity_type="order",
        entity_id=order.id,
        action="item_fulfilment",
        changes={f"items[{item.position}].state": [None, target.value], "state": [before, order.state]},
    )
    if outcome in (OrderState.COMPLETED, OrderState.PARTIAL):
        await publish_order(session, "completed", order)
    else:
        await publish_order(session, "state_changed", order)
    await flush_or_conflict(session, "order")
    return order


async def _apply_to_inventory(session: AsyncSession, order: Order, now: datetime) -> None:
    """The completed items create, change or terminate the customer's installed products."""
    for item in order.items:
        if item.state != ItemState.COMPLETED:
            continue
        if item.action == ItemAction.ADD:
            created = []
            for _ in range(item.quantity):
                product = InstalledProduct(
                    id=new_id(),
                    customer_id=order.customer_id,
                    offering_id=item.offering_id,
                    offering_name=item.offering_name,
                    product_line=item.product_line,
                    status="active",
                    characteristics=dict(item.characteristics or {}),
                    recurring_price_tiyn=item.recurring_price_tiyn,
                    service_address=item.service_address,
                    branch_code=order.branch_code,
                    region_code=order.region_code,
                    order_id=order.id,
                    activated_at=now,
                    version=1,
                    updated_at=now,
                )
                session.add(product)
                await publish_installed_product(session, "created", product)
                created.append(product.id)
            item.result_product_ids = created
            continue
        product = await session.get(InstalledProduct, item.installed_product_id, with_for_update=True)
        if product is None or product.status == "terminated":
            continue  # terminated meanwhile by another order: nothing left to change
        if item.action == ItemAction.MODIFY:
            product.offering_id, product.offering_name = item.offering_id, item.offering_name
            product.characteristics = dict(item.characteristics or {})
            product.recurring_price_tiyn = item.recurring_price_tiyn
            product.service_address = item.service_address or product.service_address
            action = "changed"
        else:
            product.status, product.terminated_at = "terminated", now
            action = "terminated"
        product.order_id = order.id
        mark_changed(product, now)
        await publish_installed_product(session, action, product)
        item.result_product_ids = [product.id]


async def order_history(
    session: AsyncSession, principal: Principal, order_id: str, *, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """One page of a visible order's audit entries (who did what, when), oldest first."""
    order = await get_order(session, principal, order_id)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    entries = await history(session, "order", order.id, limit=limit + 1, after_id=after[0] if after else None)
    next_cursor = encode_cursor([entries[limit - 1].id]) if len(entries) > limit else None
    return entries[:limit], next_cursor
