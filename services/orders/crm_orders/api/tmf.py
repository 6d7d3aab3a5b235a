"""TM Forum facades (TMF622 product ordering, TMF620 product catalogue; TMF630 conventions:
id, href, @type/@baseType/@schemaLocation, offset/limit with X-Total-Count / X-Result-Count and
206 for a partial page, fields selection; enumerated and free strings in any casing through
crm_shared.tmf). They map onto the same order and catalogue functions as the REST API."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_shared import tmf
from crm_shared.api import CurrentPrincipal, ReadSession, SalesCustomersClient, Session
from crm_shared.concurrency import flush_or_conflict
from crm_shared.domain import DomainError
from crm_shared.errors import OPENAPI_PROBLEMS, Problem, field_problem, openapi_problems, problem_of
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.timefmt import iso

from ..db.models import Offering, Order
from ..domain.lifecycle import ItemAction
from ..services import catalog_service, order_service
from ..services.order_service import ItemRequest
from .tmf_schemas import ProductOffering, ProductOrder, TmfOrderCreate, TmfStatePatch

ORDERING = "/tmf-api/productOrderingManagement/v4"
CATALOG = "/tmf-api/productCatalogManagement/v4"
router = APIRouter(tags=["TM Forum"])
MAX_LIMIT = 200
TMF_PROBLEMS = OPENAPI_PROBLEMS | openapi_problems(400)


def partial_page(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The documented 206 of a TMF630 list: one page of more results."""
    return {206: {"model": list[model], "description": "Partial Content: one page of more results"}}


Customers = SalesCustomersClient


TMF_STATES = {"in_progress": "inProgress", "draft": "draft"}
SETTABLE_STATES = ("acknowledged", "in_progress", "held", "cancelled")


def read_enumerated(api: str, attribute: str, value: str, field: str, status: int = 422) -> str:
    """A TMF enumeration (state, action, lifecycleStatus) in any casing; an unknown value is refused."""
    words = tmf.vocabulary(api, attribute)
    if not words.knows(value):
        raise field_problem(field, f"unknown {attribute} {value[:40]!r}", status)
    return words.to_internal(value)


def _kzt(tiyn: int) -> dict[str, Any]:
    return {"taxIncludedAmount": {"unit": "KZT", "value": f"{tiyn // 100}.{tiyn % 100:02d}"}}


def _prices(one_off: int, recurring: int) -> list[dict[str, Any]]:
    return [
        {"priceType": "oneTime", "price": _kzt(one_off)},
        {"priceType": "recurring", "recurringChargePeriod": "month", "price": _kzt(recurring)},
    ]


def tmf_order(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "href": f"{ORDERING}/productOrder/{order.id}",
        **tmf.resource_meta("ProductOrder", "ProductOrder", ORDERING),
        "state": TMF_STATES.get(order.state, order.state),
        "creationDate": iso(order.created_at),
        "completionDate": iso(order.completed_at),
        "cancellationReason": order.state_reason if order.state == "cancelled" else None,
        "relatedParty": [
            {"id": order.customer_id, "name": order.customer_name, "role": "Customer", "@referredType": "Customer"}
        ],
        "productOrderItem": [
            {
                "id": str(item.position + 1),
                "action": item.action,
                "quantity": item.quantity,
                "state": TMF_STATES.get(item.state, item.state),
                "@type": "ProductOrderItem",
                "productOffering": {
                    "id": item.offering_id,
                    "name": item.offering_name,
                    "href": f"{CATALOG}/productOffering/{item.offering_id}",
                },
                "product": (
                    {"id": item.installed_product_id}
                    if item.installed_product_id
                    else ({"id": item.result_product_ids[0]} if item.result_product_ids else None)
                ),
                "itemPrice": _prices(
                    item.quantity * item.one_off_price_tiyn, item.quantity * item.recurring_price_tiyn
                ),
            }
            for item in order.items
        ],
        "orderTotalPrice": _prices(order.one_off_total_tiyn, order.recurring_total_tiyn),
    }


def tmf_offering(offering: Offering) -> dict[str, Any]:
    return {
        "id": offering.id,
        "href": f"{CATALOG}/productOffering/{offering.id}",
        **tmf.resource_meta("ProductOffering", "ProductOffering", CATALOG),
        "name": offering.name,
        "description": offering.description,
        "lifecycleStatus": "Active" if offering.status == "active" else "Retired",
        "version": str(offering.version),
        "isBundle": offering.product_line == "bundle",
        "productOfferingPrice": _prices(offering.one_off_price_tiyn, offering.recurring_price_tiyn),
        "validFor": {"startDateTime": iso(offering.valid_from), "endDateTime": iso(offering.valid_to)},
        "place": [{"id": code, "@referredType": "GeographicArea"} for code in offering.region_codes or []],
        "bundledProductOffering": [
            {"id": i, "href": f"{CATALOG}/productOffering/{i}"} for i in offering.bundled_offering_ids or []
        ],
        "prodSpecCharValueUse": [
            {"name": k, "productSpecCharacteristicValue": [{"value": v}]}
            for k, v in (offering.characteristics or {}).items()
        ],
    }


def _select_fields(
    resource: dict[str, Any], fields: str | None, model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """TMF630 ``fields``: the named first-level attributes of ``model``, plus id, href and @type
    always; an attribute the resource does not have is a 400 naming it."""
    if not fields:
        return {k: v for k, v in resource.items() if v is not None}
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    if model is not None:
        known = {field.alias or name for name, field in model.model_fields.items()}
        unknown = sorted(wanted - known)
        if unknown:
            raise field_problem("fields", f"{model.__name__} has no attribute {', '.join(unknown)[:200]}", 400)
    wanted |= set(tmf.ALWAYS_SHOWN)
    return {k: v for k, v in resource.items() if k in wanted and v is not None}


# Field names of the REST order (services/order_service.py) -> their place in a TMF622 ProductOrder.
_TMF_FIELDS = (
    (re.compile(r"^items\[(\d+)\]\.offering_id"), r"productOrderItem[\1].productOffering.id"),
    (re.compile(r"^items\[(\d+)\]\.installed_product_id"), r"productOrderItem[\1].product.id"),
    (re.compile(r"^items\[(\d+)\]\."), r"productOrderItem[\1]."),
    (re.compile(r"^items$"), "productOrderItem"),
    (re.compile(r"^customer_id$"), "relatedParty.id"),
)


def _tmf_field(name: str) -> str:
    for pattern, replacement in _TMF_FIELDS:
        renamed, count = pattern.subn(replacement, name)
        if count:
            return renamed
    return name


def _in_tmf_terms(refusal: Problem | DomainError) -> Problem:
    """The same problem, naming the fields as the TMF622 body calls them."""
    problem = problem_of(refusal) if isinstance(refusal, DomainError) else refusal
    if problem.errors:
        problem.errors = [error | {"field": _tmf_field(str(error.get("field", "")))} for error in problem.errors]
        if problem.detail and ":" in problem.detail:
            field, rest = problem.detail.split(":", 1)
            problem.detail = _tmf_field(field) + ":" + rest
    return problem


def _page(items: list[dict[str, Any]], total: int, offset: int) -> JSONResponse:
    return tmf.paged(items, total, offset)


Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Fields = Annotated[str | None, Query(max_length=500, description="comma-separated first-level attributes")]


@router.post(
    f"{ORDERING}/productOrder",
    status_code=201,
    response_model=ProductOrder,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS,
)
async def create_product_order(
    body: TmfOrderCreate,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """A product order for the party with role Customer; ``Idempotency-Key`` makes a retry safe
    (the first answer is replayed with ``Idempotent-Replayed: true``)."""
    customer = next((p for p in body.relatedParty if p.role.lower() == "customer"), None)
    if customer is None:
        raise field_problem("relatedParty", "one party with role Customer is required")
    items = []
    for index, item in enumerate(body.productOrderItem):
        offering_id = item.productOffering.id if item.productOffering else None
        action = ItemAction(
            read_enumerated(
                "productOrderingManagement", "productOrderItem.action", item.action, f"productOrderItem[{index}].action"
            )
        )
        if action == ItemAction.ADD and not offering_id:
            raise field_problem(f"productOrderItem[{index}].productOffering.id", "required for action add")
        items.append(
            ItemRequest(
                action=action,
                offering_id=offering_id,
                quantity=item.quantity,
                installed_product_id=item.product.id if item.product else None,
            )
        )

    async def create() -> dict[str, Any]:
        try:
            order = await order_service.capture_order(session, principal, customers, customer.id, items, source="tmf")
        except (Problem, DomainError) as refusal:
            raise _in_tmf_terms(refusal) from None
        # exactly what the response model sends, so that a replay is the same body
        return ProductOrder.model_validate(tmf_order(order)).model_dump(mode="json", by_alias=True, exclude_none=True)

    # The payload is namespaced so that a key used for a REST create is never replayed here.
    return await create_once(
        session,
        principal,
        idempotency_key,
        {"tmf622": body.model_dump(mode="json", by_alias=True)},
        response,
        create=create,
        headers=lambda created: {"Location": created["href"]},
        flush=lambda: flush_or_conflict(session, "order"),
    )


@router.get(
    f"{ORDERING}/productOrder",
    response_model=list[ProductOrder],
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS | partial_page(ProductOrder),
)
async def list_product_orders(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Limit = 20,
    fields: Fields = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    customer_id: Annotated[str | None, Query(alias="relatedParty.id", max_length=64)] = None,
):
    total, rows = await order_service.list_orders_at_offset(
        session,
        principal,
        state=read_enumerated("productOrderingManagement", "state", state, "state", 400) if state else None,
        customer_id=customer_id,
        offset=offset,
        limit=limit,
    )
    return _page([_select_fields(tmf_order(o), fields, ProductOrder) for o in rows], total, offset)


@router.get(
    f"{ORDERING}/productOrder/{{order_id}}",
    response_model=ProductOrder,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS,
)
async def get_product_order(order_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None):
    order = await order_service.get_order(session, principal, order_id, what="productOrder")
    return _select_fields(tmf_order(order), fields, ProductOrder)


@router.patch(
    f"{ORDERING}/productOrder/{{order_id}}",
    response_model=ProductOrder,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS,
)
async def patch_product_order(order_id: str, body: TmfStatePatch, principal: CurrentPrincipal, session: Session):
    """JSON merge patch of ``state`` (and ``cancellationReason`` for cancelled)."""
    state = read_enumerated("productOrderingManagement", "state", body.state, "state")
    if state not in SETTABLE_STATES:  # outcomes come from fulfilment, never from a request
        raise field_problem("state", "one of acknowledged, inProgress, held, cancelled")
    order = await order_service.change_state(session, principal, order_id, state, body.cancellationReason)
    return tmf_order(order)


@router.get(
    f"{CATALOG}/productOffering",
    response_model=list[ProductOffering],
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS | partial_page(ProductOffering),
)
async def list_product_offerings(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Limit = 20,
    fields: Fields = None,
    lifecycleStatus: Annotated[str | None, Query(max_length=16)] = None,
):
    total, rows = await catalog_service.list_offerings_at_offset(
        session,
        principal,
        status=(
            read_enumerated("productCatalogManagement", "lifecycleStatus", lifecycleStatus, "lifecycleStatus", 400)
            if lifecycleStatus
            else None
        ),
        offset=offset,
        limit=limit,
    )
    return _page([_select_fields(tmf_offering(o), fields, ProductOffering) for o in rows], total, offset)


@router.get(
    f"{CATALOG}/productOffering/{{offering_id}}",
    response_model=ProductOffering,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS,
)
async def get_product_offering(
    offering_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None
):
    offering = await catalog_service.get_offering(session, principal, offering_id, what="productOffering")
    return _select_fields(tmf_offering(offering), fields, ProductOffering)


schemas = tmf.schema_router(ORDERING, {"ProductOrder": ProductOrder}, "TM Forum")
catalog_schemas = tmf.schema_router(CATALOG, {"ProductOffering": ProductOffering}, "TM Forum")
