"""One customer across every service, in tickets: when sales merges a duplicate into a survivor,
the duplicate's tickets (with their notes, attachments and incident links), interactions and its
installed products in the projection belong to the survivor; when sales erases a customer's
personal data, the caller's name, what tickets and calls say about them (descriptions, locations,
note texts, summaries, attachment names) is replaced, and the tickets themselves stay (their
statuses, SLA figures and incident links count for the statistics).

Both arrive as events (crm.sales.customer.merged / .erased), in any order and any number of
times: the aliases and erasures kept by crm_shared.customer_identity make a late record, a late
event or a late merge land where it belongs. Each change is audited naming the merge or the
erasure (the event id is the entry's operation_id)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal, Role
from crm_shared.clients.sales import CustomerRef
from crm_shared.customer_identity import (
    ERASED_NAME,
    ERASED_TEXT,
    CustomerIdentities,
    ErasureNotice,
    Home,
    MergeNotice,
    forget_published,
    refuse_erased,
    refuse_unless_in_use,
    scrub_audit,
)
from crm_shared.db import utcnow
from crm_shared.partner_customers import move_partner_customers
from crm_shared.records import mark_changed

from ..db.models import (
    Attachment,
    CustomerAlias,
    ErasedCustomer,
    InstalledProduct,
    Interaction,
    Note,
    PartnerCustomer,
    Ticket,
)
from ..events.publishers import publish_erasure_confirmed, publish_ticket

IDENTITIES = CustomerIdentities(CustomerAlias, ErasedCustomer)
# Who moved or anonymised the records, in the audit history: the suite, on sales' word.
SALES_SAYS = Principal("tickets:customer-identity", "customer-identity", Role.SYSTEM)
PERSONAL_AUDIT_FIELDS = frozenset({"customer_name", "description", "location", "summary", "text"})


async def home_of(session: AsyncSession, customer_id: str) -> Home:
    """Where a record for ``customer_id`` belongs (locked until the transaction ends, so that a
    merge or an erasure applied at the same moment waits for it)."""
    return await IDENTITIES.home(session, customer_id)


async def check_in_use(session: AsyncSession, customer: CustomerRef, field: str = "customer_id") -> None:
    """A new ticket or call needs a customer in use: one sales merged away is a 409 naming the
    survivor (open it there: the duplicate's tickets are there too), an erased one a 409. Sales may
    have merged or erased it since it answered: the news may be here already (and the lock taken
    here makes a merge applied at this moment wait for the new record, then move it)."""
    refuse_unless_in_use(customer, field)
    home = await home_of(session, customer.id)
    if home.moved:
        refuse_unless_in_use(replace(customer, status="merged", merged_into_id=home.customer_id), field)
    if home.erased:
        refuse_erased(customer.id, field)


# --- merge --------------------------------------------------------------------------------------


async def apply_merge(session: AsyncSession, notice: MergeNotice, *, operation_id: str) -> dict[str, int]:
    """Moves the duplicate's tickets, interactions and installed products (and those of customers
    merged into it before) to the survivor. Idempotent: a second time there is nothing to move."""
    applied = await IDENTITIES.record_merge(session, notice)
    moved_ids = list(applied.moved_ids)
    if not moved_ids:
        return {}
    survivor = applied.survivor_id
    name = ERASED_NAME if applied.survivor_erased else notice.survivor_name if survivor == notice.survivor_id else None
    now = utcnow()

    tickets = await _tickets_of(session, moved_ids)
    for ticket in tickets:
        before = ticket.customer_id
        ticket.customer_id = survivor
        if name:
            ticket.customer_name = name
        if applied.survivor_erased:
            await _anonymise_ticket(session, ticket)
        mark_changed(ticket, now)
        _audit(session, "ticket", ticket.id, "customer_merged", {"customer_id": [before, survivor]}, operation_id)
        await session.flush()
        await publish_ticket(session, ticket, "updated")

    interactions = await _interactions_of(session, moved_ids)
    for interaction in interactions:
        before = interaction.customer_id
        interaction.customer_id = survivor
        if applied.survivor_erased and interaction.summary:
            interaction.summary = ERASED_TEXT
        mark_changed(interaction, now)
        _audit(
            session, "interaction", interaction.id, "customer_merged", {"customer_id": [before, survivor]}, operation_id
        )

    products = list(
        await session.scalars(
            select(InstalledProduct).where(InstalledProduct.customer_id.in_(moved_ids)).with_for_update()
        )
    )
    for product in products:
        product.customer_id = survivor
        if applied.survivor_erased:
            product.service_address = None
    partner_customers = await move_partner_customers(session, PartnerCustomer, moved_ids, survivor)
    await session.flush()
    return {
        "tickets": len(tickets),
        "incident_linked_tickets": sum(1 for t in tickets if t.incident_id),
        "interactions": len(interactions),
        "installed_products": len(products),
        "partner_customers": partner_customers,
    }


# --- erasure ------------------------------------------------------------------------------------


async def apply_erasure(session: AsyncSession, notice: ErasureNotice, *, operation_id: str) -> dict[str, int]:
    """Anonymises what tickets keep about the person, forgets the events already published about
    their tickets and calls, and confirms. Idempotent: a second time finds nothing left to change
    and confirms again."""
    ids = list(await IDENTITIES.record_erasure(session, notice))
    now = utcnow()
    tickets = await _tickets_of(session, ids)
    notes = 0
    for ticket in tickets:
        changed, ticket_notes = await _anonymise_ticket(session, ticket)
        notes += ticket_notes
        if changed:
            mark_changed(ticket, now)
            _audit(
                session, "ticket", ticket.id, "customer_erased", {"erasure_id": [None, notice.erasure_id]}, operation_id
            )
            await session.flush()
            await publish_ticket(session, ticket, "updated")
    interactions = await _interactions_of(session, ids)
    for interaction in interactions:
        if interaction.summary and interaction.summary != ERASED_TEXT:
            interaction.summary = ERASED_TEXT
            mark_changed(interaction, now)
            _audit(
                session,
                "interaction",
                interaction.id,
                "customer_erased",
                {"erasure_id": [None, notice.erasure_id]},
                operation_id,
            )
    products = list(
        await session.scalars(select(InstalledProduct).where(InstalledProduct.customer_id.in_(ids)).with_for_update())
    )
    for product in products:
        product.service_address = None
    await session.flush()
    ticket_ids, interaction_ids = [t.id for t in tickets], [i.id for i in interactions]
    await scrub_audit(session, "ticket", ticket_ids, PERSONAL_AUDIT_FIELDS.__contains__)
    await scrub_audit(session, "interaction", interaction_ids, PERSONAL_AUDIT_FIELDS.__contains__)
    # their published events carry the name, the texts and the notes; the ones written just now do not
    await forget_published(session, [*ticket_ids, *interaction_ids])
    records = {"tickets": len(tickets), "notes": notes, "interactions": len(interactions)}
    await publish_erasure_confirmed(session, notice, records)
    return records


async def _anonymise_ticket(session: AsyncSession, ticket: Ticket) -> tuple[bool, int]:
    """The caller's name and what the ticket says about them; its notes keep that they were
    written (who, when, visibility), not their text. Returns (whether the ticket itself changed,
    how many notes there are)."""
    changed = False
    for field, value in (("customer_name", ERASED_NAME), ("description", ERASED_TEXT), ("location", None)):
        if getattr(ticket, field) != value:
            setattr(ticket, field, value)
            changed = True
    notes = list(await session.scalars(select(Note).where(Note.ticket_id == ticket.id).with_for_update()))
    for note in notes:
        note.text = ERASED_TEXT
    for attachment in await session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).with_for_update()
    ):
        attachment.name, attachment.url = ERASED_TEXT, None
    return changed, len(notes)


async def _tickets_of(session: AsyncSession, customer_ids: list[str]) -> list[Ticket]:
    return list(
        await session.scalars(
            select(Ticket).where(Ticket.customer_id.in_(customer_ids)).order_by(Ticket.id).with_for_update()
        )
    )


async def _interactions_of(session: AsyncSession, customer_ids: list[str]) -> list[Interaction]:
    return list(
        await session.scalars(
            select(Interaction)
            .where(Interaction.customer_id.in_(customer_ids))
            .order_by(Interaction.id)
            .with_for_update()
        )
    )


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


def erased_product_address(home: Home, address: str | None) -> str | None:
    """A projected product of an erased customer keeps no service address."""
    return None if home.erased else address
