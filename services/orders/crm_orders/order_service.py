"""Order capture, state changes, fulfilment and completion: the one place these happen, used by
the REST API, the TM Forum facade and the won-opportunity consumer.

Every function works inside the caller's unit of work; its events go to the outbox in the same
transaction, so an order is never half-created and never completed without its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal
from crm_shared.db import new_id, utcnow
from crm_shared.errors import Problem, conflict, field_problem
from crm_shared.outbox import EventWriter
from crm_shared.records import mark_changed

from .customers import CustomerRef
from .db.models import InstalledProduct, Offering, Order, OrderItem
from .domain.catalog import CURRENCY, PricedLine, ProductLine, totals, why_not_sellable
from .domain.lifecycle import (
    FINAL_STATES,
    IllegalTransition,
    ItemAction,
    ItemState,
    OrderState,
    check_item_transition,
    check_transition,
    outcome_of,
    requestable_from,
)

EVENTS = EventWriter("orders")
MAX_ITEMS = 50
# Each unit of an added item becomes an installed product when the order completes.
MAX_QUANTITY = 100


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- full states (API bodies and event payloads) ------------------------------------------------


def item_state(item: OrderItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "position": item.position,
        "action": item.action,
        "state": item.state,
        "state_reason": item.state_reason,
        "offering_id": item.offering_id,
        "offering_version": item.offering_version,
        "offering_name": item.offering_name,
        "product_line": item.product_line,
        "quantity": item.quantity,
        "one_off_price_tiyn": item.one_off_price_tiyn,
        "recurring_price_tiyn": item.recurring_price_tiyn,
        "characteristics": dict(item.characteristics or {}),
        "service_address": item.service_address,
        "installed_product_id": item.installed_product_id,
        "result_product_ids": list(item.result_product_ids or []),
        "replaced_offering_id": item.replaced_offering_id,
        "replaced_offering_version": item.replaced_offering_version,
        "replaced_offering_name": item.replaced_offering_name,
    }


def order_state(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "customer_name": order.customer_name,
        "state": order.state,
        "state_reason": order.state_reason,
        "source": order.source,
        "opportunity_id": order.opportunity_id,
        "currency": order.currency,
        "one_off_total_tiyn": order.one_off_total_tiyn,
        "recurring_total_tiyn": order.recurring_total_tiyn,
        "items": [item_state(i) for i in order.items],
        "allowed_transitions": list(requestable_from(order.state)),
        "owner_id": order.owner_id,
        "owner_name": order.owner_name,
        "branch_code": order.branch_code,
        "region_code": order.region_code,
        "version": order.version,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "completed_at": iso(order.completed_at),
    }


def installed_product_state(product: InstalledProduct) -> dict[str, Any]:
    return {
        "id": product.id,
        "customer_id": product.customer_id,
        "offering_id": product.offering_id,
        "offering_name": product.offering_name,
        "product_line": product.product_line,
        "status": product.status,
        "characteristics": dict(product.characteristics or {}),
        "recurring_price_tiyn": product.recurring_price_tiyn,
        "service_address": product.service_address,
        "branch_code": product.branch_code,
        "region_code": product.region_code,
        "order_id": product.order_id,
        "version": product.version,
        "activated_at": iso(product.activated_at),
        "terminated_at": iso(product.terminated_at),
        "updated_at": iso(product.updated_at),
    }


async def record_order_event(session: AsyncSession, action: str, order: Order) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="order",
        action=action,
        subject=order.id,
        data=order_state(order),
        region=order.region_code,
        branch=order.branch_code,
    )


async def record_product_event(session: AsyncSession, action: str, product: InstalledProduct) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="installed_product",
        action=action,
        subject=product.id,
        data=installed_product_state(product),
        region=product.region_code,
        branch=product.branch_code,
    )


# --- capture ----------------------------------------------------------------------------------


@dataclass
class ItemRequest:
    action: str
    offering_id: str | None = None
    quantity: int = 1
    installed_product_id: str | None = None
    characteristics: dict[str, str] = field(default_factory=dict)
    service_address: str = ""


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


async def create_order(
    session: AsyncSession,
    principal: Principal,
    customer: CustomerRef,
    items: list[ItemRequest],
    *,
    currency: str = CURRENCY,
    source: str = "api",
    state: OrderState = OrderState.ACKNOWLEDGED,
    opportunity_id: str | None = None,
    owner_id: str | None = None,
    owner_name: str | None = None,
) -> Order:
    """A new order for ``customer`` (already checked visible and writable), priced from the
    current catalogue; every item is validated before anything is written."""
    if currency != CURRENCY:
        raise field_problem("currency", f"orders are in {CURRENCY}; {currency[:8]} is not accepted")
    if customer.status == "merged":
        raise field_problem("customer_id", "was merged into another customer; order for the survivor", 409)
    if state != OrderState.DRAFT and not items:
        raise field_problem("items", "at least one item is required")
    if len(items) > MAX_ITEMS:
        raise field_problem("items", f"at most {MAX_ITEMS} items")
    today = utcnow().date()
    priced = [
        await _priced_item(session, customer.id, customer.region_code, request, position, today)
        for position, request in enumerate(items)
    ]
    targets = [i.installed_product_id for i in priced if i.installed_product_id]
    if len(targets) != len(set(targets)):
        raise field_problem("items", "an installed product may appear in one item only")
    now = utcnow()
    order = Order(
        id=new_id(),
        customer_id=customer.id,
        customer_name=customer.display_name,
        state=state,
        source=source,
        opportunity_id=opportunity_id,
        currency=CURRENCY,
        owner_id=owner_id or principal.subject,
        owner_name=owner_name or principal.username,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
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
    await record_order_event(session, "created", order)
    return order


async def add_draft_item(session: AsyncSession, principal: Principal, order: Order, request: ItemRequest) -> OrderItem:
    if order.state != OrderState.DRAFT:
        raise conflict(f"items are added to draft orders only; this order is {order.state}", state=order.state)
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
    await record_order_event(session, "state_changed", order)
    return item


# --- state changes ----------------------------------------------------------------------------


def transition_problem(exc: IllegalTransition, allowed: list[str] | None = None) -> Problem:
    return conflict(
        str(exc),
        current_state=exc.current,
        requested_state=exc.requested,
        allowed_transitions=allowed if allowed is not None else exc.allowed,
    )


async def request_state(
    session: AsyncSession, principal: Principal, order: Order, requested: str, reason: str | None
) -> Order:
    """A client's state change (acknowledge a draft, start, hold, resume, cancel)."""
    allowed = list(requestable_from(order.state))
    if requested not in allowed:
        exc = IllegalTransition("the order", order.state, requested, tuple(allowed))
        if (
            requested in (OrderState.COMPLETED, OrderState.FAILED, OrderState.PARTIAL)
            and order.state not in FINAL_STATES
        ):
            raise conflict(
                f"{exc}; {requested} is reached when every item's fulfilment is reported",
                current_state=order.state,
                requested_state=requested,
                allowed_transitions=allowed,
            )
        raise transition_problem(exc, allowed)
    target = check_transition(order.state, requested)
    if target == OrderState.CANCELLED and not (reason or "").strip():
        raise field_problem("reason", "a cancelled order needs a reason")
    if target == OrderState.ACKNOWLEDGED and not order.items:
        raise field_problem("items", "an order without items cannot be submitted")
    if target == OrderState.CANCELLED and any(i.state in (ItemState.COMPLETED,) for i in order.items):
        raise conflict(
            "items of this order are already completed; it cannot be cancelled any more",
            current_state=order.state,
            allowed_transitions=[s for s in allowed if s != "cancelled"],
        )
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
    await record_order_event(session, "state_changed", order)
    return order


async def report_item(
    session: AsyncSession, principal: Principal, order: Order, item: OrderItem, requested: str, reason: str | None
) -> Order:
    """Fulfilment of one item reported by OSS; the order moves to in_progress with the first
    report and to its outcome with the last one."""
    if order.state not in (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS):
        raise conflict(
            f"fulfilment is reported for acknowledged or in-progress orders; this order is {order.state}",
            current_state=order.state,
        )
    try:
        target = check_item_transition(item.state, requested)
    except IllegalTransition as exc:
        raise transition_problem(exc) from None
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
        await record_order_event(session, "completed", order)
    else:
        await record_order_event(session, "state_changed", order)
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
                await record_product_event(session, "created", product)
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
        await record_product_event(session, action, product)
        item.result_product_ids = [product.id]


def product_line_of(value: str | None) -> str | None:
    return value if value in {p.value for p in ProductLine} else None


async def draft_from_opportunity(session: AsyncSession, data: dict[str, Any]) -> Order | None:
    """A draft order for a won opportunity (once per opportunity), placed like the opportunity,
    with no items yet: staff add them and submit it."""
    opportunity_id = str(data["id"])
    if await session.scalar(select(Order.id).where(Order.opportunity_id == opportunity_id)) is not None:
        return None
    from crm_shared.auth import Role

    system = Principal("orders:opportunity-consumer", "orders", Role.SYSTEM)
    customer = CustomerRef(
        id=str(data["customer_id"]),
        display_name="",
        status="active",
        branch_code=str(data["branch_code"]),
        region_code=str(data["region_code"]),
    )
    return await create_order(
        session,
        system,
        customer,
        [],
        source="opportunity",
        state=OrderState.DRAFT,
        opportunity_id=opportunity_id,
        owner_id=str(data.get("owner_id") or system.subject),
        owner_name=str(data.get("owner_name") or ""),
    )
