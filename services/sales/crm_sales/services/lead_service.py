"""Leads: registration, qualification, assignment and conversion into a customer plus an
opportunity."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal, require_personal_data_access, require_writer, visibility_clause
from crm_shared.db import new_id, utcnow
from crm_shared.errors import conflict, field_problem
from crm_shared.records import get_visible, get_writable, mark_changed

from ..db.models import Customer
from ..db.pipeline_models import Lead, Opportunity
from ..domain.customers import CustomerStatus
from ..domain.pipeline import (
    LeadStatus,
    ProductLine,
    Stage,
    check_lead_convertible,
    check_lead_update,
    clean_text,
)
from ..events.publishers import lead_state, record_lead_event
from .customer_service import NewCustomer, create_customer, get_visible_customer
from .opportunity_service import create_opportunity_record
from .pages import newest_first_page
from .staff_directory_service import resolve_owner

ENTITY = "lead"
LEADS_PATH = "/api/v1/sales/leads"
UPDATABLE = ("status", "disqualify_reason", "name", "phone", "email", "company_name", "interest", "notes")
NOT_NULL = ("status", "name", "interest", "owner_id")
# What a converted or disqualified lead still lets change.
CHANGEABLE_WHEN_CLOSED = {"owner_id", "notes", "status"}


def lead_url(lead_id: str) -> str:
    return f"{LEADS_PATH}/{lead_id}"


@dataclass(frozen=True, kw_only=True)
class NewLead:
    source: str
    name: str
    phone: str | None = None  # E.164
    email: str | None = None
    company_name: str | None = None
    interest: str
    notes: str | None = None
    campaign_id: str | None = None
    partner_id: str | None = None
    owner_id: str | None = None  # a staff member in the caller's scope; default the caller


@dataclass(frozen=True, kw_only=True)
class ConversionOpportunity:
    """The opportunity a conversion opens (defaults from the lead)."""

    name: str | None = None  # default: "<interest> for <customer>"
    stage: str = Stage.QUALIFICATION
    amount_tiyn: int = 0
    probability: int | None = None
    expected_close_date: date | None = None


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    customer: Customer
    customer_created: bool  # false when an existing customer was linked
    opportunity: Opportunity


# --- read ----------------------------------------------------------------------------------------


async def get_lead(session: AsyncSession, principal: Principal, lead_id: str) -> Lead:
    return await get_visible(session, principal, Lead, lead_id, what=ENTITY)


async def get_writable_lead(session: AsyncSession, principal: Principal, lead_id: str) -> Lead:
    return await get_writable(session, principal, Lead, lead_id, what=ENTITY)


async def list_leads(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    source: str | None = None,
    interest: str | None = None,
    owner_id: str | None = None,
    branch_code: str | None = None,
    phone: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Lead], str | None]:
    """Leads the caller sees, newest first, and the next page's cursor (or None)."""
    require_personal_data_access(principal)
    stmt = select(Lead).where(visibility_clause(principal, Lead))
    for column, value in (
        (Lead.status, status),
        (Lead.source, source),
        (Lead.interest, interest),
        (Lead.owner_id, owner_id),
        (Lead.branch_code, branch_code),
        (Lead.phone, phone),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await newest_first_page(session, stmt, Lead, limit, cursor)


# --- register / change / assign ------------------------------------------------------------------


async def register_lead(session: AsyncSession, principal: Principal, new: NewLead) -> Lead:
    """A new lead in the owner's branch, audited, with its crm.sales.lead.created event; the
    caller's transaction commits it."""
    require_personal_data_access(principal)
    require_writer(principal)
    name = clean_text(new.name)
    if not name:
        raise field_problem("name", "must not be blank")
    if new.phone is None and new.email is None:
        raise field_problem("phone", "a lead needs a phone or an e-mail to be contacted")
    owner = await resolve_owner(session, principal, new.owner_id, field="owner_id")
    now = utcnow()
    lead = Lead(
        id=new_id(),
        source=new.source,
        status=LeadStatus.NEW,
        name=name,
        phone=new.phone,
        email=new.email,
        company_name=clean_text(new.company_name),
        interest=new.interest,
        notes=new.notes,
        campaign_id=new.campaign_id,
        partner_id=new.partner_id,
        owner_id=owner.id,
        owner_name=owner.name,
        branch_code=owner.branch_code,
        region_code=owner.region_code,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(lead)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=lead.id,
        action="created",
        changes=creation_changes(lead_state(lead)),
    )
    await record_lead_event(session, "created", lead)
    return lead


async def change_lead(session: AsyncSession, principal: Principal, lead: Lead, patch: Mapping[str, Any]) -> Lead:
    """Applies the fields sent (``patch``: field -> new value) to a writable lead (its version
    already checked), audited, with its crm.sales.lead.updated (or .assigned) event when anything
    changed. Sending ``owner_id`` assigns the lead."""
    for field in NOT_NULL:
        if field in patch and patch[field] is None:
            raise field_problem(field, "must not be null")
    sent = set(patch)
    if "name" in sent and not clean_text(patch["name"]):
        raise field_problem("name", "must not be blank")
    if "status" in sent:
        check_lead_update(
            LeadStatus(lead.status),
            LeadStatus(patch["status"]),
            patch["disqualify_reason"] if "disqualify_reason" in sent else lead.disqualify_reason,
        )
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) and sent - CHANGEABLE_WHEN_CLOSED:
        raise conflict(
            f"lead {lead.id} is {lead.status}; only its notes and owner can change",
            errors=[
                {
                    "field": next(iter(sorted(sent - CHANGEABLE_WHEN_CLOSED))),
                    "message": f"the lead is {lead.status}",
                }
            ],
        )
    before = lead_state(lead)
    for field in UPDATABLE:
        if field in sent:
            value = patch[field]
            setattr(lead, field, clean_text(value) if field in ("name", "company_name") else value)
    if lead.status != LeadStatus.DISQUALIFIED and "disqualify_reason" in sent and patch["disqualify_reason"]:
        raise field_problem("disqualify_reason", "only a disqualified lead has a disqualify reason")
    assigned = False
    if "owner_id" in sent and patch["owner_id"] != lead.owner_id:
        owner = await resolve_owner(session, principal, patch["owner_id"], field="owner_id")
        lead.owner_id, lead.owner_name = owner.id, owner.name
        lead.branch_code, lead.region_code = owner.branch_code, owner.region_code
        assigned = True
    changes = diff(before, lead_state(lead))
    if changes:
        mark_changed(lead)
        record_change(
            session,
            principal,
            entity_type=ENTITY,
            entity_id=lead.id,
            action="assigned" if assigned else "updated",
            changes=changes,
        )
        await record_lead_event(session, "assigned" if assigned else "updated", lead)
    return lead


# --- conversion ----------------------------------------------------------------------------------


def new_customer_defaults(lead: Lead) -> dict[str, Any]:
    """What a customer registered by the conversion takes from the lead unless told otherwise."""
    defaults = {"phone": lead.phone, "email": lead.email, "branch_code": lead.branch_code}
    return {k: v for k, v in defaults.items() if v is not None}


async def convert_lead(
    session: AsyncSession,
    principal: Principal,
    lead: Lead,
    *,
    customer_id: str | None = None,
    new_customer: Callable[[dict[str, Any]], NewCustomer] | None = None,
    opportunity: ConversionOpportunity,
) -> Conversion:
    """Converts a writable lead: links the customer ``customer_id`` or registers the one
    ``new_customer`` makes from the lead's defaults (``new_customer_defaults``; a new customer
    belongs to the lead's owner, as the opportunity does) and opens the opportunity, each audited
    with its events."""
    check_lead_convertible(LeadStatus(lead.status))
    if (customer_id is None) == (new_customer is None):
        raise field_problem(
            "customer_id", "send either customer_id (link an existing customer) or customer (register one)"
        )
    if customer_id is not None:
        customer = await _linked_customer(session, principal, customer_id)
        created = False
    else:
        customer = await create_customer(
            session,
            principal,
            new_customer(new_customer_defaults(lead)),
            owner_id=lead.owner_id,
            owner_name=lead.owner_name,
        )
        created = True

    opened = await create_opportunity_record(
        session,
        principal,
        customer=customer,
        lead_id=lead.id,
        name=clean_text(opportunity.name)
        or f"{ProductLine(lead.interest).name.replace('_', ' ').title()} for {_display_name(customer)}"[:200],
        product_line=lead.interest,
        stage=opportunity.stage,
        amount_tiyn=opportunity.amount_tiyn,
        probability=opportunity.probability,
        expected_close_date=opportunity.expected_close_date,
        owner_id=lead.owner_id,
        owner_name=lead.owner_name,
    )
    before = lead_state(lead)
    now = utcnow()
    lead.status = LeadStatus.CONVERTED
    lead.customer_id = customer.id
    lead.opportunity_id = opened.id
    lead.converted_at = now
    mark_changed(lead, now)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=lead.id,
        action="converted",
        changes=diff(before, lead_state(lead)),
    )
    await record_lead_event(session, "converted", lead)
    return Conversion(lead, customer, created, opened)


async def _linked_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Customer:
    customer = await get_visible_customer(session, principal, customer_id, field="customer_id")
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer_id: customer {customer.id} was merged into {customer.merged_into_id}; link that one",
            merged_into_id=customer.merged_into_id,
            errors=[{"field": "customer_id", "message": "was merged into another customer"}],
        )
    return customer


def _display_name(customer: Customer) -> str:
    if customer.legal_name:
        return customer.legal_name
    return " ".join(p for p in (customer.first_name, customer.last_name) if p) or customer.id
