"""Erasure of a customer's personal data on request (the privacy officer's "destroy"), and where
each such request stands.

Sales anonymises its own record at once (names become placeholders; IIN/BIN, birth date, phones,
e-mail, contacts and addresses go; the leads converted into the customer and the activities about
it lose their personal text; the audit history keeps who changed what and when, without the
values) and announces ``crm.sales.customer.erased`` (ids only). Every service that keeps copies
anonymises them and confirms on its ``crm.<service>.erasure.v1`` topic; those services are the
owners of such topics in the event catalogue (crm_contracts.events.erasure_confirmation_topics),
so a service joins by publishing its confirmation, not by being listed here. The request is
complete when sales and every one of them confirmed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contracts.events import erasure_confirmation_topics
from crm_shared.audit import record_change
from crm_shared.auth import Principal, Role
from crm_shared.customer_identity import forget_published, scrub_audit
from crm_shared.db import new_id, utcnow
from crm_shared.errors import conflict, forbidden, not_found
from crm_shared.records import get_visible

from ..access import require_privacy_officer
from ..db.models import Customer, ErasureAsk, ErasureConfirmation, ErasureRequest
from ..db.pipeline_models import Activity, Lead
from ..domain.customers import CustomerStatus
from ..domain.erasure import (
    ERASED_LEGAL_NAME,
    ERASED_TEXT,
    ErasureStatus,
    ServiceConfirmation,
    erased_names,
    erasure_reason,
    erasure_status,
    redacts_audit_field,
)
from ..domain.pipeline import RelatedType
from ..events.publishers import record_customer_erased
from .customer_interaction_service import forget_summaries
from .customer_service import ENTITY, MAX_MERGE_HOPS, _refresh_name_key

log = logging.getLogger("crm.sales.erasure")

SALES = "sales"
# Who confirmed receiving an erasure, in the audit history (the consumer acts for the suite).
CONFIRMATIONS = Principal("sales:erasure-confirmations", "sales", Role.SYSTEM)


def services_confirming() -> list[str]:
    """Sales, then every service that confirms erasures (by the event catalogue)."""
    return [SALES, *sorted(s for s in erasure_confirmation_topics() if s != SALES)]


@dataclass(frozen=True)
class ErasureReport:
    request: ErasureRequest
    status: ErasureStatus
    services: dict[str, dict[str, Any] | None]  # service -> {confirmed_at, records} or None (pending)
    # When the last confirmation arrived. Two confirmations applied at once by different consumers
    # may each not see the other, leaving request.completed_at unset until a later pass; the
    # report is complete as soon as every confirmation is there, so it derives the time then.
    completed_at: datetime | None = None


# --- the request ------------------------------------------------------------------------------


async def ask_erasure(
    session: AsyncSession, principal: Principal, customer_id: str, reason: str | None
) -> tuple[ErasureAsk, bool]:
    """A customer asks (the self-service portal) that their own personal data be destroyed: a
    pending ask that a privacy officer answers by erasing (request_erasure). Asking again while one
    is pending answers that one (and whether it is new)."""
    if principal.role is not Role.CUSTOMER:
        raise forbidden("a customer asks for their own erasure; privacy officers erase (POST .../erasure)")
    customer = await get_visible(session, principal, Customer, customer_id, what=ENTITY)
    if customer.status == CustomerStatus.ERASED:
        raise conflict(f"customer {customer.id} was erased already")
    pending = await session.scalar(
        select(ErasureAsk).where(ErasureAsk.customer_id == customer.id, ErasureAsk.status == "pending")
    )
    if pending is not None:
        return pending, False
    ask = ErasureAsk(id=new_id(), customer_id=customer.id, reason=(reason or "").strip() or None, status="pending")
    ask.asked_at = utcnow()
    session.add(ask)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=customer.id,
        action="erasure_asked",
        changes={"erasure_ask": [None, ask.id]},
    )
    await session.flush()
    return ask, True


async def erasure_asks(session: AsyncSession, principal: Principal, status: str, limit: int) -> list[ErasureAsk]:
    """The customers' asks for privacy officers to answer, oldest first."""
    require_privacy_officer(principal, "answering customers' erasure requests")
    return list(
        await session.scalars(
            select(ErasureAsk)
            .where(ErasureAsk.status == status)
            .order_by(ErasureAsk.asked_at, ErasureAsk.id)
            .limit(limit)
        )
    )


async def request_erasure(
    session: AsyncSession, principal: Principal, customer_id: str, reason: str | None
) -> tuple[ErasureRequest, bool]:
    """Erases the customer's personal data in sales and announces it; returns the request and
    whether it is new (the same customer again answers the first request: nothing is erased twice)."""
    require_privacy_officer(principal)
    reason = erasure_reason(reason)
    customer = await get_visible(session, principal, Customer, customer_id, what=ENTITY)
    customer = await session.get(Customer, customer.id, with_for_update=True, populate_existing=True)
    existing = await session.scalar(select(ErasureRequest).where(ErasureRequest.customer_id == customer.id))
    if existing is not None:
        await session.refresh(existing, ["confirmations"])
        return existing, False
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer {customer.id} was merged into {customer.merged_into_id}; erase that customer "
            "(the duplicates merged into it are erased with it)",
            merged_into_id=customer.merged_into_id,
            merged_into_url=f"/api/v1/sales/customers/{customer.merged_into_id}",
        )

    now = utcnow()
    merged = await _merged_into(session, customer.id)
    people = [customer, *merged]
    ids = [c.id for c in people]
    leads = list(await session.scalars(select(Lead).where(Lead.customer_id.in_(ids)).with_for_update()))
    activities = list(
        await session.scalars(
            select(Activity)
            .where(
                (Activity.related_type == str(RelatedType.CUSTOMER)) & Activity.related_id.in_(ids)
                | (Activity.related_type == str(RelatedType.LEAD)) & Activity.related_id.in_([x.id for x in leads])
            )
            .with_for_update()
        )
    )
    for person in people:
        _anonymise_customer(person, now)
    for lead in leads:
        _anonymise_lead(lead, now)
    for activity in activities:
        _anonymise_activity(activity, now)
    contacts = await forget_summaries(session, ids)  # the copy of tickets' calls and visits
    await session.flush()

    scrubbed = await scrub_audit(session, ENTITY, ids, redacts_audit_field)
    scrubbed += await scrub_audit(session, "lead", [x.id for x in leads], redacts_audit_field)
    scrubbed += await scrub_audit(session, "activity", [x.id for x in activities], redacts_audit_field)
    forgotten = await forget_published(session, [*ids, *(x.id for x in leads), *(x.id for x in activities)])

    request = ErasureRequest(
        id=new_id(),
        customer_id=customer.id,
        customer_ids=ids,
        reason=reason,
        requested_by=principal.subject,
        requested_by_name=principal.display_name,
        requested_at=now,
    )
    session.add(request)
    await session.flush()
    records = {
        "customers": len(people),
        "leads": len(leads),
        "activities": len(activities),
        "interactions": contacts,
        "audit_entries": scrubbed,
        "published_events_forgotten": forgotten,
    }
    session.add(
        ErasureConfirmation(
            erasure_id=request.id, service=SALES, confirmed_at=now, records=records, event_id=f"local:{request.id}"
        )
    )
    for person in people:
        record_change(
            session,
            principal,
            entity_type=ENTITY,
            entity_id=person.id,
            action="erased",
            changes={"erasure_id": [None, request.id], "reason": [None, reason]},
        )
    await record_customer_erased(session, customer, erasure_id=request.id, customer_ids=ids, requested_at=now)
    await session.execute(  # the customer's own asks (the portal) are answered by this erasure
        update(ErasureAsk)
        .where(ErasureAsk.customer_id.in_(ids), ErasureAsk.status == "pending")
        .values(status="confirmed", confirmed_at=now)
    )
    await session.flush()
    if services_confirming() == [SALES]:
        request.completed_at = now
    await session.refresh(request, ["confirmations"])
    return request, True


async def _merged_into(session: AsyncSession, customer_id: str) -> list[Customer]:
    """The duplicates merged into the customer, and the ones merged into those (their records are
    the same person's)."""
    found: list[Customer] = []
    frontier = [customer_id]
    for _ in range(MAX_MERGE_HOPS):
        if not frontier:
            break
        rows = list(
            await session.scalars(
                select(Customer).where(Customer.merged_into_id.in_(frontier)).order_by(Customer.id).with_for_update()
            )
        )
        found += rows
        frontier = [c.id for c in rows]
    return found


def _anonymise_customer(customer: Customer, now: datetime) -> None:
    for field, value in erased_names(customer.kind).items():
        setattr(customer, field, value)
    customer.tax_id = None
    customer.birth_date = None
    customer.legal_form = None
    customer.email = None
    customer.primary_phone = None
    customer.marketing_consent = False
    customer.marketing_consent_at = None
    customer.data_processing_consent = False
    customer.data_processing_consent_at = None
    customer.phones.clear()
    customer.contacts.clear()
    customer.addresses.clear()
    if customer.status != CustomerStatus.MERGED:  # a duplicate keeps pointing at its survivor
        customer.status = CustomerStatus.ERASED
    _refresh_name_key(customer)
    customer.updated_at = now


def _anonymise_lead(lead: Lead, now: datetime) -> None:
    lead.name = ERASED_LEGAL_NAME
    lead.phone = None
    lead.email = None
    lead.company_name = None
    lead.notes = ERASED_TEXT if lead.notes else None
    lead.updated_at = now
    lead.version += 1


def _anonymise_activity(activity: Activity, now: datetime) -> None:
    activity.subject = ERASED_TEXT
    activity.body = ERASED_TEXT if activity.body else None
    activity.outcome = ERASED_TEXT if activity.outcome else None
    activity.updated_at = now
    activity.version += 1


# --- where it stands ----------------------------------------------------------------------------


async def erasure_report(session: AsyncSession, principal: Principal, customer_id: str) -> ErasureReport:
    require_privacy_officer(principal)
    customer = await get_visible(session, principal, Customer, customer_id, what=ENTITY)
    request = await session.scalar(select(ErasureRequest).where(ErasureRequest.customer_id == customer.id))
    if request is None:
        raise not_found("erasure of customer", customer.id)
    return report_of(request)


def report_of(request: ErasureRequest) -> ErasureReport:
    confirmations = {
        c.service: ServiceConfirmation(c.confirmed_at, dict(c.records or {})) for c in request.confirmations
    }
    services: dict[str, dict[str, Any] | None] = {
        service: None for service in [*services_confirming(), *sorted(confirmations)]
    }
    for service, confirmation in confirmations.items():
        services[service] = {"confirmed_at": confirmation.confirmed_at, "records": dict(confirmation.records)}
    status = (
        ErasureStatus.COMPLETE
        if request.completed_at is not None
        else erasure_status(services_confirming(), confirmations)
    )
    completed_at = request.completed_at
    if completed_at is None and status is ErasureStatus.COMPLETE:
        completed_at = max(c.confirmed_at for c in confirmations.values())
    return ErasureReport(request, status, services, completed_at)


async def record_confirmation(
    session: AsyncSession,
    *,
    service: str,
    erasure_id: str,
    confirmed_at: datetime,
    records: dict[str, Any],
    event_id: str,
) -> bool:
    """One service's confirmation (the first one counts; a repeated one changes nothing). The
    request is complete when the last service confirmed. Returns whether it was new."""
    request = await session.get(ErasureRequest, erasure_id, with_for_update=True)
    if request is None:
        log.warning("a confirmation from %s names erasure %s, which sales does not know; ignored", service, erasure_id)
        return False
    if await session.get(ErasureConfirmation, (erasure_id, service)) is not None:
        return False
    confirmation = ErasureConfirmation(
        erasure_id=erasure_id,
        service=service,
        confirmed_at=confirmed_at,
        records=records,
        event_id=event_id,
        received_at=utcnow(),
    )
    session.add(confirmation)
    await session.flush()
    await session.refresh(request, ["confirmations"])
    record_change(
        session,
        CONFIRMATIONS,
        entity_type=ENTITY,
        entity_id=request.customer_id,
        action="erasure_confirmed",
        changes={"erasure_id": [None, erasure_id], "service": [None, service]},
    )
    confirmed = {c.service: ServiceConfirmation(c.confirmed_at, c.records) for c in request.confirmations}
    if request.completed_at is None and erasure_status(services_confirming(), confirmed) is ErasureStatus.COMPLETE:
        request.completed_at = utcnow()
        record_change(
            session,
            CONFIRMATIONS,
            entity_type=ENTITY,
            entity_id=request.customer_id,
            action="erasure_completed",
            changes={"erasure_id": [None, erasure_id]},
        )
    return True
