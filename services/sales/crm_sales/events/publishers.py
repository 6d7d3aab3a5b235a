"""The events sales publishes (topics crm.sales.<aggregate>.v1) and the state they carry.

Every payload is the record's full state after the change, the same shape the REST API returns
(identifiers unmasked), plus a few keys saying what happened: ``changes`` on a customer update,
``phone``/``contact``/``address`` on the customer sub-resource events, ``duplicate_id`` and
``duplicate``/``survivor_id``/``merged_at`` on merged, ``operation_id``/``previous_owner_id``/``reason`` on
reassigned. The one exception is erased, which carries ids only (``record_customer_erased``).
Schemas: contracts/crm_contracts/events/schemas/crm.sales.<aggregate>.<action>.json.

The states are read from the records by attribute; this module does not import crm_sales.db, so
that the use cases may use both without one depending on the other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.outbox import EventWriter, topic_name
from crm_shared.timefmt import iso

from ..domain.customers import CustomerKind, display_name

EVENTS = EventWriter("sales")
CUSTOMER = "customer"
LEAD = "lead"
OPPORTUNITY = "opportunity"
ACTIVITY = "activity"
CUSTOMER_TOPIC = topic_name("sales", CUSTOMER)
CURRENCY = "KZT"

CUSTOMER_ACTIONS = (
    "created",
    "updated",
    "merged",
    "reassigned",
    "phone_added",
    "phone_removed",
    "contact_added",
    "contact_removed",
    "address_added",
    "address_removed",
)

Placement = tuple[str, str]  # (region_code, branch_code) of the record an activity is about


# --- customers -----------------------------------------------------------------------------------


def phone_state(phone) -> dict[str, Any]:
    return {"id": phone.id, "e164": phone.e164, "label": phone.label, "created_at": iso(phone.created_at)}


def contact_state(contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "position": contact.position,
        "phone": contact.phone,
        "email": contact.email,
        "created_at": iso(contact.created_at),
    }


def address_state(address) -> dict[str, Any]:
    return {
        "id": address.id,
        "kind": address.kind,
        "region_code": address.region_code,
        "city": address.city,
        "street": address.street,
        "building": address.building,
        "apartment": address.apartment,
        "postal_code": address.postal_code,
        "created_at": iso(address.created_at),
    }


def customer_state(customer) -> dict[str, Any]:
    """The full state of a customer as JSON-ready values (phones, contacts and addresses loaded)."""
    individual = customer.kind == CustomerKind.INDIVIDUAL
    return {
        "id": customer.id,
        "kind": customer.kind,
        "iin": customer.tax_id if individual else None,
        "bin": None if individual else customer.tax_id,
        "display_name": display_name(
            customer.kind,
            first_name=customer.first_name,
            last_name=customer.last_name,
            middle_name=customer.middle_name,
            legal_name=customer.legal_name,
        ),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "middle_name": customer.middle_name,
        "birth_date": iso(customer.birth_date),
        "legal_name": customer.legal_name,
        "legal_form": customer.legal_form,
        "primary_phone": customer.primary_phone,
        "phones": [phone_state(p) for p in customer.phones],
        "email": customer.email,
        "language": customer.language,
        "marketing_consent": customer.marketing_consent,
        "marketing_consent_at": iso(customer.marketing_consent_at),
        "data_processing_consent": customer.data_processing_consent,
        "data_processing_consent_at": iso(customer.data_processing_consent_at),
        "status": customer.status,
        "merged_into_id": customer.merged_into_id,
        "owner_id": customer.owner_id,
        "owner_name": customer.owner_name,
        "branch_code": customer.branch_code,
        "region_code": customer.region_code,
        "contacts": [contact_state(c) for c in customer.contacts],
        "addresses": [address_state(a) for a in customer.addresses],
        "version": customer.version,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
    }


async def record_customer_event(session: AsyncSession, action: str, customer, **extra: Any) -> None:
    """Adds crm.sales.customer.<action> to the outbox, in the caller's transaction.

    Flushes first so that the state carries the version and the rows the change produced.
    """
    if action not in CUSTOMER_ACTIONS:
        raise ValueError(f"unknown customer event action {action!r}")
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=CUSTOMER,
        action=action,
        subject=customer.id,
        data=customer_state(customer) | extra,
        region=customer.region_code,
        branch=customer.branch_code,
    )


async def record_customer_erased(
    session: AsyncSession, customer, *, erasure_id: str, customer_ids: list[str], requested_at
) -> None:
    """crm.sales.customer.erased: ids only (the person's data is gone, and must not travel again)."""
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=CUSTOMER,
        action="erased",
        subject=customer.id,
        data={
            "customer_id": customer.id,
            "erasure_id": erasure_id,
            "customer_ids": list(customer_ids),
            "requested_at": iso(requested_at),
        },
        region=customer.region_code,
        branch=customer.branch_code,
    )


# --- leads ---------------------------------------------------------------------------------------


def lead_state(lead) -> dict[str, Any]:
    """The lead's full state as JSON-ready values: the API response and every event's payload."""
    return {
        "id": lead.id,
        "source": lead.source,
        "status": lead.status,
        "disqualify_reason": lead.disqualify_reason,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "company_name": lead.company_name,
        "interest": lead.interest,
        "notes": lead.notes,
        "campaign_id": lead.campaign_id,
        "partner_id": lead.partner_id,
        "owner_id": lead.owner_id,
        "owner_name": lead.owner_name,
        "branch_code": lead.branch_code,
        "region_code": lead.region_code,
        "customer_id": lead.customer_id,
        "opportunity_id": lead.opportunity_id,
        "converted_at": iso(lead.converted_at),
        "version": lead.version,
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
    }


async def record_lead_event(session: AsyncSession, action: str, lead, **extra: Any) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=LEAD,
        action=action,
        subject=lead.id,
        data=lead_state(lead) | extra,
        region=lead.region_code,
        branch=lead.branch_code,
    )


# --- opportunities -------------------------------------------------------------------------------


def opportunity_state(opportunity) -> dict[str, Any]:
    """The opportunity's full state as JSON-ready values: the API response and every event's payload."""
    return {
        "id": opportunity.id,
        "customer_id": opportunity.customer_id,
        "lead_id": opportunity.lead_id,
        "name": opportunity.name,
        "product_line": opportunity.product_line,
        "stage": opportunity.stage,
        "probability": opportunity.probability,
        "amount_tiyn": opportunity.amount_tiyn,
        "currency": CURRENCY,
        "expected_close_date": iso(opportunity.expected_close_date),
        "close_reason": opportunity.close_reason,
        "closed_at": iso(opportunity.closed_at),
        "owner_id": opportunity.owner_id,
        "owner_name": opportunity.owner_name,
        "branch_code": opportunity.branch_code,
        "region_code": opportunity.region_code,
        "version": opportunity.version,
        "created_at": iso(opportunity.created_at),
        "updated_at": iso(opportunity.updated_at),
    }


async def record_opportunity_event(session: AsyncSession, action: str, opportunity, **extra: Any) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=OPPORTUNITY,
        action=action,
        subject=opportunity.id,
        data=opportunity_state(opportunity) | extra,
        region=opportunity.region_code,
        branch=opportunity.branch_code,
    )


# --- activities ----------------------------------------------------------------------------------


def activity_state(activity, placement: Placement) -> dict[str, Any]:
    """The activity's full state as JSON-ready values: the API response and every event's payload.
    An activity has no place of its own: ``placement`` is where its related record is."""
    region_code, branch_code = placement
    return {
        "id": activity.id,
        "kind": activity.kind,
        "related_type": activity.related_type,
        "related_id": activity.related_id,
        "subject": activity.subject,
        "body": activity.body,
        "due_at": iso(activity.due_at),
        "done_at": iso(activity.done_at),
        "outcome": activity.outcome,
        "owner_id": activity.owner_id,
        "owner_name": activity.owner_name,
        "created_by": activity.created_by,
        "branch_code": branch_code,
        "region_code": region_code,
        "version": activity.version,
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
    }


async def record_activity_event(
    session: AsyncSession, action: str, activity, placement: Placement, **extra: Any
) -> None:
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=ACTIVITY,
        action=action,
        subject=activity.id,
        data=activity_state(activity, placement) | extra,
        region=placement[0],
        branch=placement[1],
    )
