"""One customer across every service, in orders: when sales merges a duplicate into a survivor,
the duplicate's orders, installed products, invoices and payments (its billing account, hence its
balance) belong to the survivor; when sales erases a customer's personal data, the names and
service addresses kept here are replaced and the books (orders, invoices, payments, amounts, the
customer id) stay.

Both arrive as events (crm.sales.customer.merged / .erased), in any order and any number of
times: the aliases and erasures kept by crm_shared.customer_identity make a late record, a late
event or a late merge land where it belongs. Each change is audited naming the merge or the
erasure (the event id is the entry's operation_id)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal, Role
from crm_shared.customer_identity import (
    ERASED_NAME,
    CustomerIdentities,
    ErasureNotice,
    Home,
    MergeNotice,
    forget_published,
    scrub_audit,
)
from crm_shared.db import utcnow
from crm_shared.partner_customers import move_partner_customers
from crm_shared.records import mark_changed

from ..db.models import BillingAccount, CustomerAlias, ErasedCustomer, InstalledProduct, Invoice, Order, PartnerCustomer
from ..events.publishers import publish_erasure_confirmed, publish_installed_product

IDENTITIES = CustomerIdentities(CustomerAlias, ErasedCustomer)
# Who moved or anonymised the records, in the audit history: the suite, on sales' word.
SALES_SAYS = Principal("orders:customer-identity", "customer-identity", Role.SYSTEM)
PERSONAL_AUDIT_FIELDS = frozenset({"customer_name", "service_address"})


async def home_of(session: AsyncSession, customer_id: str) -> Home:
    """Where a record for ``customer_id`` belongs (locked until the transaction ends, so that a
    merge or an erasure applied at the same moment waits for it)."""
    return await IDENTITIES.home(session, customer_id)


# --- merge --------------------------------------------------------------------------------------


async def apply_merge(session: AsyncSession, notice: MergeNotice, *, operation_id: str) -> dict[str, int]:
    """Moves the duplicate's records (and those of customers merged into it before) to the
    survivor. Idempotent: a second time there is nothing left to move."""
    applied = await IDENTITIES.record_merge(session, notice)
    moved_ids = list(applied.moved_ids)
    if not moved_ids:
        return {}
    survivor = applied.survivor_id
    # the survivor's name, when the event speaks of the final survivor (a later merge names its own)
    name = ERASED_NAME if applied.survivor_erased else notice.survivor_name if survivor == notice.survivor_id else None
    now = utcnow()

    orders = list(
        await session.scalars(
            select(Order).where(Order.customer_id.in_(moved_ids)).order_by(Order.id).with_for_update()
        )
    )
    for order in orders:
        before = order.customer_id
        order.customer_id = survivor
        if name:
            order.customer_name = name
        if applied.survivor_erased:
            _anonymise_items(order)
        mark_changed(order, now)
        _audit(session, "order", order.id, "customer_merged", {"customer_id": [before, survivor]}, operation_id)

    products = list(
        await session.scalars(
            select(InstalledProduct)
            .where(InstalledProduct.customer_id.in_(moved_ids))
            .order_by(InstalledProduct.id)
            .with_for_update()
        )
    )
    for product in products:
        before = product.customer_id
        product.customer_id = survivor
        if applied.survivor_erased:
            product.service_address = ""
        mark_changed(product, now)
        _audit(
            session,
            "installed_product",
            product.id,
            "customer_merged",
            {"customer_id": [before, survivor]},
            operation_id,
        )
        await publish_installed_product(session, "changed", product)

    invoices = await _move_billing(session, moved_ids, survivor, operation_id)
    partner_customers = await move_partner_customers(session, PartnerCustomer, moved_ids, survivor)
    return {
        "orders": len(orders),
        "installed_products": len(products),
        "invoices": invoices,
        "partner_customers": partner_customers,
    }


async def _move_billing(session: AsyncSession, moved_ids: Sequence[str], survivor: str, operation_id: str) -> int:
    """The duplicates' invoices (with their payments) go to the survivor's billing account, which
    is opened where the duplicate's was when the survivor has none yet: the survivor's balance
    counts them from now on."""
    accounts = list(
        await session.scalars(
            select(BillingAccount)
            .where(BillingAccount.customer_id.in_(moved_ids))
            .order_by(BillingAccount.customer_id)
            .with_for_update()
        )
    )
    if not accounts:
        return 0
    target = await session.get(BillingAccount, survivor, with_for_update=True)
    if target is None:
        target = BillingAccount(
            customer_id=survivor,
            branch_code=accounts[0].branch_code,
            region_code=accounts[0].region_code,
            updated_at=utcnow(),
        )
        session.add(target)
        await session.flush()
    ids = [a.customer_id for a in accounts]
    count = await session.scalar(select(func.count()).where(Invoice.customer_id.in_(ids))) or 0
    await session.execute(update(Invoice).where(Invoice.customer_id.in_(ids)).values(customer_id=survivor))
    await session.flush()
    for account in accounts:
        await session.delete(account)
    target.updated_at = utcnow()
    _audit(
        session,
        "billing_account",
        survivor,
        "customer_merged",
        {"merged_from": [None, ids[0] if len(ids) == 1 else ids], "invoices": [None, count]},
        operation_id,
    )
    await session.flush()
    return count


# --- erasure ------------------------------------------------------------------------------------


async def apply_erasure(session: AsyncSession, notice: ErasureNotice, *, operation_id: str) -> dict[str, int]:
    """Anonymises every record of the person (names, service addresses), keeps the books, forgets
    the events already published about them, and confirms. Idempotent: a second time finds them
    anonymised and confirms again."""
    ids = list(await IDENTITIES.record_erasure(session, notice))
    now = utcnow()
    orders = list(
        await session.scalars(select(Order).where(Order.customer_id.in_(ids)).order_by(Order.id).with_for_update())
    )
    for order in orders:
        addresses_changed = _anonymise_items(order)
        changed = order.customer_name not in ("", ERASED_NAME) or addresses_changed
        if order.customer_name:
            order.customer_name = ERASED_NAME
        if changed:
            mark_changed(order, now)
            _audit(
                session, "order", order.id, "customer_erased", {"erasure_id": [None, notice.erasure_id]}, operation_id
            )
    products = list(
        await session.scalars(
            select(InstalledProduct)
            .where(InstalledProduct.customer_id.in_(ids))
            .order_by(InstalledProduct.id)
            .with_for_update()
        )
    )
    for product in products:
        if product.service_address:
            product.service_address = ""
            mark_changed(product, now)
            _audit(
                session,
                "installed_product",
                product.id,
                "customer_erased",
                {"erasure_id": [None, notice.erasure_id]},
                operation_id,
            )
            await publish_installed_product(session, "changed", product)
    await session.flush()
    order_ids, product_ids = [o.id for o in orders], [p.id for p in products]
    await scrub_audit(session, "order", order_ids, PERSONAL_AUDIT_FIELDS.__contains__)
    await scrub_audit(session, "installed_product", product_ids, PERSONAL_AUDIT_FIELDS.__contains__)
    # their published events carry the customer's name and addresses; the ones written just now do not
    await forget_published(session, [*order_ids, *product_ids])
    invoices = await session.scalar(select(func.count()).where(Invoice.customer_id.in_(ids))) or 0
    records = {"orders": len(orders), "installed_products": len(products), "invoices_kept": invoices}
    await publish_erasure_confirmed(session, notice, records)
    return records


def _anonymise_items(order: Order) -> bool:
    changed = False
    for item in order.items:
        if item.service_address:
            item.service_address = ""
            changed = True
    return changed


def _audit(
    session: AsyncSession, entity_type: str, entity_id: str, action: str, changes: dict, operation_id: str
) -> None:
    record_change(
        session,
        SALES_SAYS,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes,
        operation_id=operation_id[:36],
    )
