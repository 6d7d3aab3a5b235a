"""Request and response bodies of the TM Forum facades (TMF622 ProductOrder, TMF620
ProductOffering; subsets). Request bodies accept members this facade does not read
(extra="allow"), so a full TMF payload is taken as it is."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Ref(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    id: Annotated[str, Field(min_length=1, max_length=64)]


class RelatedParty(Ref):
    role: str = "Customer"


class TmfOrderItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    id: Annotated[str, Field(max_length=64)] | None = None
    action: Annotated[str, Field(min_length=1, max_length=32)] = "add"  # ItemActionType, any casing
    quantity: int = 1
    productOffering: Ref | None = None
    product: Ref | None = None


class TmfOrderCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    relatedParty: Annotated[list[RelatedParty], Field(min_length=1)]
    productOrderItem: Annotated[list[TmfOrderItem], Field(min_length=1)]


class TmfStatePatch(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    state: Annotated[str, Field(min_length=1, max_length=32)]  # ProductOrderStateType, any casing
    cancellationReason: Annotated[str, Field(max_length=2000)] | None = None


class Money(BaseModel):
    unit: str
    value: str = Field(description='decimal KZT as a string (never a float), e.g. "5990.00"')


class Price(BaseModel):
    taxIncludedAmount: Money


class OrderPrice(BaseModel):
    priceType: Literal["oneTime", "recurring"]
    recurringChargePeriod: str | None = None
    price: Price


class TmfRef(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str | None = None
    name: str | None = None
    role: str | None = None
    referredType: str | None = Field(None, alias="@referredType")


class TmfOrderItemOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    action: str
    quantity: int
    state: str | None = None
    productOffering: TmfRef
    product: TmfRef | None = None
    itemPrice: list[OrderPrice]
    type_: Literal["ProductOrderItem"] = Field(alias="@type")


class ProductOrder(BaseModel):
    """TMF622 ProductOrder (subset)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    state: str | None = None
    creationDate: str | None = None
    completionDate: str | None = None
    cancellationReason: str | None = None
    relatedParty: list[TmfRef] | None = None
    productOrderItem: list[TmfOrderItemOut] | None = None
    orderTotalPrice: list[OrderPrice] | None = None
    type_: Literal["ProductOrder"] = Field(alias="@type")
    base_type: Literal["ProductOrder"] | None = Field(None, alias="@baseType")
    schema_location: str | None = Field(None, alias="@schemaLocation")


class ProductOffering(BaseModel):
    """TMF620 ProductOffering (subset)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    name: str | None = None
    description: str | None = None
    lifecycleStatus: str | None = None
    version: str | None = None
    isBundle: bool | None = None
    productOfferingPrice: list[OrderPrice] | None = None
    validFor: dict[str, str | None] | None = None
    place: list[dict[str, str]] | None = None
    bundledProductOffering: list[TmfRef] | None = None
    prodSpecCharValueUse: list[dict[str, Any]] | None = None
    type_: Literal["ProductOffering"] = Field(alias="@type")
    base_type: Literal["ProductOffering"] | None = Field(None, alias="@baseType")
    schema_location: str | None = Field(None, alias="@schemaLocation")
