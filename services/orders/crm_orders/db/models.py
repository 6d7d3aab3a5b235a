"""Catalogue (offerings and their versions), orders with their items, installed products
(inventory) and the billing account each customer has (invoices and payments from billing)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_shared.customer_identity import CustomerAliasColumns, ErasedCustomerColumns
from crm_shared.db import UTCDateTime, new_id, utcnow

from .base import OrdersBase


class Offering(OrdersBase):
    """A product offering as it is sold now; every change is a new version (OfferingVersion)."""

    __tablename__ = "offerings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict
    )  # {"kk", "ru", "en"}: name as each language says it
    description: Mapped[str] = mapped_column(Text, default="")
    product_line: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16))  # active | retired
    one_off_price_tiyn: Mapped[int] = mapped_column(BigInteger)
    recurring_price_tiyn: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    characteristics: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    region_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: sold everywhere
    bundled_offering_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfferingVersion(OrdersBase):
    """Each version of an offering as it was; an order item names the version it was priced at."""

    __tablename__ = "offering_versions"

    offering_id: Mapped[str] = mapped_column(String(64), ForeignKey("offerings.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(OrdersBase):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_name: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # api | tmf | opportunity
    opportunity_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    one_off_total_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    recurring_total_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    owner_id: Mapped[str] = mapped_column(String(200))
    owner_name: Mapped[str] = mapped_column(String(200))
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_orders_region_branch_created", "region_code", "branch_code", "created_at"),
        Index("ix_orders_created", "created_at", "id"),
    )


class OrderItem(OrdersBase):
    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # add | modify | delete
    state: Mapped[str] = mapped_column(String(16))  # acknowledged | in_progress | completed | failed
    state_reason: Mapped[str | None] = mapped_column(Text)
    offering_id: Mapped[str] = mapped_column(String(64))
    offering_version: Mapped[int] = mapped_column(Integer)
    offering_name: Mapped[str] = mapped_column(String(200))
    product_line: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    one_off_price_tiyn: Mapped[int] = mapped_column(BigInteger)
    recurring_price_tiyn: Mapped[int] = mapped_column(BigInteger)
    characteristics: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    service_address: Mapped[str] = mapped_column(String(500), default="")
    installed_product_id: Mapped[str | None] = mapped_column(String(36))  # the target of modify / delete
    # What the target was when the order was taken (modify / delete; None for add): the offering
    # a tariff change replaces, or the one a disconnection ends.
    replaced_offering_id: Mapped[str | None] = mapped_column(String(64))
    replaced_offering_version: Mapped[int | None] = mapped_column(Integer)
    replaced_offering_name: Mapped[str | None] = mapped_column(String(200))
    result_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # what completion created/changed

    order: Mapped[Order] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("order_id", "position"),)


class InstalledProduct(OrdersBase):
    __tablename__ = "installed_products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(36))
    offering_id: Mapped[str] = mapped_column(String(64))
    offering_name: Mapped[str] = mapped_column(String(200))
    product_line: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # active | suspended | terminated
    characteristics: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    recurring_price_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    service_address: Mapped[str] = mapped_column(String(500), default="")
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str] = mapped_column(String(36))  # the order that last changed it
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_installed_products_customer", "customer_id", "activated_at", "id"),)


class BillingAccount(OrdersBase):
    """What billing reported for one customer: the basis of the balance status staff see."""

    __tablename__ = "billing_accounts"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    branch_code: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invoice(OrdersBase):
    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # billing's own invoice number
    customer_id: Mapped[str] = mapped_column(String(36), ForeignKey("billing_accounts.customer_id"), index=True)
    order_id: Mapped[str | None] = mapped_column(String(36))
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    paid_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(OrdersBase):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # billing's own payment id
    invoice_id: Mapped[str] = mapped_column(String(64), ForeignKey("invoices.id"), index=True)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerAlias(CustomerAliasColumns, OrdersBase):
    """A customer sales merged away, and the survivor its records belong to now."""

    __tablename__ = "customer_aliases"


class ErasedCustomer(ErasedCustomerColumns, OrdersBase):
    """A customer whose personal data was erased on request: its records here are anonymised."""

    __tablename__ = "erased_customers"
