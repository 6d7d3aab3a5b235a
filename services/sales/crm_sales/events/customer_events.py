"""The customer events (topic crm.sales.customer.v1) and the state they carry.

Every payload is the customer's full state after the change (``customer_state``, the same shape
the REST API returns, with identifiers unmasked), plus a few keys saying what happened:
``changes`` on updated, ``phone``/``contact``/``address`` on the sub-resource events,
``duplicate_id`` and ``duplicate`` on merged, ``operation_id``/``previous_owner_id``/``reason``
on reassigned. Schemas: contracts/crm_contracts/events/schemas/crm.sales.customer.<action>.json.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.outbox import EventWriter, topic_name
from crm_shared.timefmt import iso

from ..db.models import Address, Contact, Customer, CustomerPhone
from ..domain.customers import CustomerKind, display_name

AGGREGATE = "customer"
TOPIC = topic_name("sales", AGGREGATE)
EVENTS = EventWriter("sales")

ACTIONS = (
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


def phone_state(phone: CustomerPhone) -> dict[str, Any]:
    return {"id": phone.id, "e164": phone.e164, "label": phone.label, "created_at": iso(phone.created_at)}


def contact_state(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "position": contact.position,
        "phone": contact.phone,
        "email": contact.email,
        "created_at": iso(contact.created_at),
    }


def address_state(address: Address) -> dict[str, Any]:
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


def customer_state(customer: Customer) -> dict[str, Any]:
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


async def record_customer_event(session: AsyncSession, action: str, customer: Customer, **extra: Any) -> None:
    """Adds crm.sales.customer.<action> to the outbox, in the caller's transaction.

    Flushes first so that the state carries the version and the rows the change produced.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown customer event action {action!r}")
    await session.flush()
    await EVENTS.add(
        session,
        aggregate=AGGREGATE,
        action=action,
        subject=customer.id,
        data=customer_state(customer) | extra,
        region=customer.region_code,
        branch=customer.branch_code,
    )
