"""TM Forum TMF637 Product Inventory (v4, read): the installed products at
/tmf-api/productInventory/v4/product, listed with the filters relatedParty.id, status and
productOffering.id (offset/limit, fields, X-Total-Count / X-Result-Count, 206 for a partial page)
and read by id. Visibility and the API key's orders:read scope as for the REST inventory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from crm_shared import tmf
from crm_shared.api import CurrentPrincipal, ReadSession
from crm_shared.timefmt import iso

from ..db.models import InstalledProduct
from ..services import inventory_service
from .tmf import CATALOG, MAX_LIMIT, ORDERING, TMF_PROBLEMS, Fields, Offset, partial_page

INVENTORY = "/tmf-api/productInventory/v4"
VOCABULARY = "productInventory"
router = APIRouter(tags=["TMF637 product inventory"])


class ProductRef(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str | None = None
    name: str | None = None
    role: str | None = None
    referred_type: str | None = Field(None, alias="@referredType")


class Characteristic(BaseModel):
    name: str
    value: str


class ProductPrice(BaseModel):
    priceType: str
    recurringChargePeriod: str | None = None
    price: dict[str, Any]


class Product(BaseModel):
    """TMF637 Product (the attributes this facade supports)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    type_: str = Field("Product", alias="@type")
    base_type: str = Field("Product", alias="@baseType")
    schema_location: str | None = Field(None, alias="@schemaLocation")
    name: str | None = None
    status: str | None = None
    isBundle: bool | None = None
    isCustomerVisible: bool | None = None
    startDate: str | None = None
    terminationDate: str | None = None
    productOffering: ProductRef | None = None
    relatedParty: list[ProductRef] | None = None
    productCharacteristic: list[Characteristic] | None = None
    productPrice: list[ProductPrice] | None = None
    place: list[dict[str, str]] | None = None
    productOrderItem: list[dict[str, str]] | None = None


def tmf_product(product: InstalledProduct) -> dict[str, Any]:
    recurring = product.recurring_price_tiyn
    return {
        "id": product.id,
        "href": f"{INVENTORY}/product/{product.id}",
        **tmf.resource_meta("Product", "Product", INVENTORY),
        "name": product.offering_name,
        "status": product.status,
        "isBundle": product.product_line == "bundle",
        "isCustomerVisible": True,
        "startDate": iso(product.activated_at),
        "terminationDate": iso(product.terminated_at),
        "productOffering": {
            "id": product.offering_id,
            "name": product.offering_name,
            "href": f"{CATALOG}/productOffering/{product.offering_id}",
        },
        "relatedParty": [{"id": product.customer_id, "role": "Customer", "@referredType": "Customer"}],
        "productCharacteristic": [{"name": k, "value": str(v)} for k, v in (product.characteristics or {}).items()],
        "productPrice": [
            {
                "priceType": "recurring",
                "recurringChargePeriod": "month",
                "price": {"taxIncludedAmount": {"unit": "KZT", "value": f"{recurring // 100}.{recurring % 100:02d}"}},
            }
        ],
        "place": [{"role": "serviceAddress", "name": product.service_address}] if product.service_address else None,
        "productOrderItem": [{"orderId": product.order_id, "orderHref": f"{ORDERING}/productOrder/{product.order_id}"}],
    }


def shown(resource: dict[str, Any], fields: str | None) -> dict[str, Any]:
    return {k: v for k, v in tmf.select_fields(resource, fields, Product).items() if v is not None}


@router.get(
    f"{INVENTORY}/product",
    response_model=list[Product],
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS | partial_page(Product),
    summary="Installed products (filters relatedParty.id, status, productOffering.id)",
)
async def list_products(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    fields: Fields = None,
    status: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: Annotated[str | None, Query(alias="relatedParty.id", max_length=64)] = None,
    offering_id: Annotated[str | None, Query(alias="productOffering.id", max_length=64)] = None,
):
    total, rows = await inventory_service.products_at_offset(
        session,
        principal,
        customer_id=customer_id,
        statuses=tmf.vocabulary(VOCABULARY, "status").matching(status) if status else None,
        offering_id=offering_id,
        offset=offset,
        limit=limit,
    )
    return tmf.paged([shown(tmf_product(p), fields) for p in rows], total, offset)


@router.get(
    f"{INVENTORY}/product/{{product_id}}",
    response_model=Product,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses=TMF_PROBLEMS,
    summary="One installed product",
)
async def get_product(product_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None):
    product = await inventory_service.installed_product(session, principal, product_id)
    return shown(tmf_product(product), fields)


schemas = tmf.schema_router(INVENTORY, {"Product": Product}, "TMF637 product inventory")
