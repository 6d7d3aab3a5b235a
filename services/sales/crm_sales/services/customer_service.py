"""Customer use cases, shared by the REST API, the gRPC server, the demo seed and the pipeline
(lead conversion creates customers through ``create_customer``).

Every function works inside the caller's unit of work: it changes rows, writes the audit entry
and the outbox event, and leaves the commit to the caller.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from crm_shared import concurrency
from crm_shared.audit import diff, history, record_change
from crm_shared.auth import Principal, Role, visibility_clause
from crm_shared.concurrency import check_version
from crm_shared.db import Database, new_id, utcnow
from crm_shared.errors import Problem, conflict, field_problem, not_found
from crm_shared.identifiers import parse_iin
from crm_shared.models import AuditEntry
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.partner_customers import move_partner_customers
from crm_shared.phones import is_mobile
from crm_shared.records import get_visible, get_writable
from crm_shared.timefmt import iso

from ..access import (
    check_may_create_customer_in,
    check_self_service_change,
    masked_customer,
    require_consent_recorder,
    require_customer_writer,
    require_reader,
    sees_existing_customer,
)
from ..db.models import Address, Contact, Customer, CustomerPhone, PartnerCustomer
from ..domain.customers import CustomerKind, CustomerStatus, customer_search_text, name_key
from ..events.publishers import address_state, contact_state, customer_state, phone_state, record_customer_event
from . import access_audit_service
from .branch_directory_service import region_of_open_branch
from .customer_interaction_service import move_interactions
from .reassignment_service import move_customer_records
from .staff_directory_service import own_name

ENTITY = "customer"
CUSTOMERS_PATH = "/api/v1/sales/customers"
MAX_MERGE_HOPS = 10


def customer_url(customer_id: str) -> str:
    return f"{CUSTOMERS_PATH}/{customer_id}"


# --- what a new customer is made of --------------------------------------------------------------
# Values already checked and normalised at the edge (or written so by the seed): E.164 phones,
# valid IIN/BIN, names and e-mail addresses by crm_sales.domain.customers.


@dataclass(frozen=True, kw_only=True)
class NewAddress:
    kind: str
    region_code: str | None = None  # default: the customer's region
    city: str
    street: str
    building: str
    apartment: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewContact:
    name: str
    position: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class _NewCustomer:
    phone: str
    email: str | None = None
    language: str = "kk"
    branch_code: str | None = None  # default: the caller's branch
    marketing_consent: bool = False
    data_processing_consent: bool = False
    addresses: tuple[NewAddress, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NewIndividual(_NewCustomer):
    kind: ClassVar[str] = CustomerKind.INDIVIDUAL
    iin: str
    first_name: str
    last_name: str
    middle_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewBusiness(_NewCustomer):
    kind: ClassVar[str] = CustomerKind.BUSINESS
    bin: str
    legal_name: str
    legal_form: str | None = None
    contacts: tuple[NewContact, ...] = ()


NewCustomer = NewIndividual | NewBusiness


# --- read ----------------------------------------------------------------------------------------


async def get_visible_customer(
    session: AsyncSession, principal: Principal, customer_id: str, *, field: str | None = None
) -> Customer:
    """The customer if the caller may see it; otherwise 404, the same answer as for a missing id
    (naming ``field`` when the id came in a request body)."""
    require_reader(principal)
    return await get_visible(session, principal, Customer, customer_id, what=ENTITY, field=field)


async def get_writable_customer(
    session: AsyncSession, principal: Principal, customer_id: str, fields: Collection[str] = ()
) -> Customer:
    """The customer if the caller may change it: 403 for roles that never write, 404 when it is
    not visible, 409 when it was merged away (changes go to the survivor). A customer (the portal)
    changes their own record's ``fields`` when they are self-service ones (access.py)."""
    if principal.role is Role.CUSTOMER:
        check_self_service_change(principal, fields)
        customer = await get_visible(session, principal, Customer, customer_id, what=ENTITY)
    else:
        require_customer_writer(principal)
        # Not locked: customers count their versions in the UPDATE itself (version_id_col), so a
        # writer that lost the race gets a 412 at flush (flush_or_conflict) instead of waiting.
        customer = await get_writable(session, principal, Customer, customer_id, what=ENTITY, for_update=False)
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer {customer.id} was merged into {customer.merged_into_id}; change that customer instead",
            merged_into_id=customer.merged_into_id,
            merged_into_url=customer_url(customer.merged_into_id),
        )
    if customer.status == CustomerStatus.ERASED:
        raise conflict(f"customer {customer.id} was erased; its record stays only for the books and is read-only")
    return customer


async def visible_customers(session: AsyncSession, principal: Principal, ids: Sequence[str]) -> dict[str, Customer]:
    """The customers among ``ids`` the caller may see, by id (the others are left out)."""
    require_reader(principal)
    stmt = select(Customer).where(Customer.id.in_(ids), visibility_clause(principal, Customer))
    return {c.id: c for c in await session.scalars(stmt)}


def customer_view(customer: Customer, principal: Principal) -> dict[str, Any]:
    """The customer as the caller may see it (IIN/BIN masked for roles that must not see them)."""
    return masked_customer(customer_state(customer), principal)


async def customer_history(
    session: AsyncSession, principal: Principal, customer_id: str, *, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """One page of the customer's audit entries, oldest first, and the next page's cursor (or None)."""
    customer = await get_visible_customer(session, principal, customer_id)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    entries = await history(session, ENTITY, customer.id, limit=limit + 1, after_id=after[0] if after else None)
    next_cursor = encode_cursor([entries[limit - 1].id]) if len(entries) > limit else None
    return entries[:limit], next_cursor


# --- duplicates --------------------------------------------------------------------------------


async def _survivor_of(session: AsyncSession, customer: Customer) -> Customer:
    """Follows merged_into_id so that a duplicate report points at the record still in use."""
    for _ in range(MAX_MERGE_HOPS):
        if customer.status != CustomerStatus.MERGED or not customer.merged_into_id:
            break
        survivor = await session.get(Customer, customer.merged_into_id)
        if survivor is None:
            break
        customer = survivor
    return customer


async def current_customer_id(session: AsyncSession, customer_id: str) -> str:
    """The customer in use for ``customer_id`` (its survivor when merged away), each row locked,
    so that a merge of it at the same moment waits for the caller's record, or the record for it."""
    for _ in range(MAX_MERGE_HOPS):
        found = (
            await session.execute(
                select(Customer.status, Customer.merged_into_id).where(Customer.id == customer_id).with_for_update()
            )
        ).first()
        if found is None or found.status != CustomerStatus.MERGED or not found.merged_into_id:
            break
        customer_id = found.merged_into_id
    return customer_id


async def find_duplicate(
    session: AsyncSession, *, tax_id: str | None = None, phones: Sequence[str] = (), excluding: str | None = None
) -> Customer | None:
    """An existing customer with this IIN/BIN (any status), or an active one with one of these phones."""
    if tax_id:
        existing = await session.scalar(select(Customer).where(Customer.tax_id == tax_id))
        if existing is not None and existing.id != excluding:
            return existing
    for phone in phones:
        stmt = (
            select(Customer)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
            .where(CustomerPhone.e164 == phone, Customer.status == CustomerStatus.ACTIVE)
        )
        if excluding:
            stmt = stmt.where(Customer.id != excluding)
        existing = await session.scalar(stmt.order_by(Customer.created_at, Customer.id).limit(1))
        if existing is not None:
            return existing
    return None


async def duplicate_problem(session: AsyncSession, principal: Principal, existing: Customer, field: str) -> Problem:
    """409 pointing at the existing customer, or, when the caller may not see it, only saying
    that one exists elsewhere (no id, no data)."""
    existing = await _survivor_of(session, existing)
    if sees_existing_customer(principal, existing.region_code, existing.branch_code):
        return conflict(
            f"{field}: a customer with this {field} already exists ({existing.id})",
            existing_customer_id=existing.id,
            existing_customer_url=customer_url(existing.id),
            matched_field=field,
            errors=[{"field": field, "message": "matches an existing customer"}],
        )
    refusal = conflict(
        f"{field}: a customer with this {field} already exists in another branch",
        matched_field=field,
        errors=[{"field": field, "message": "matches a customer in another branch"}],
    )
    # The answer tells the caller that a customer it may not see exists: kept in the audit even
    # though the refused request's transaction is rolled back (crm_shared.api).
    refusal.kept_records.append(access_audit_service.duplicate_check_entry(principal, existing.id, field))
    return refusal


async def _reject_duplicate(
    session: AsyncSession,
    principal: Principal,
    *,
    tax_field: str | None = None,
    tax_id: str | None = None,
    phone_field: str = "phone",
    phones: Sequence[str] = (),
    excluding: str | None = None,
) -> None:
    if tax_id:
        existing = await find_duplicate(session, tax_id=tax_id, excluding=excluding)
        if existing is not None:
            raise await duplicate_problem(session, principal, existing, tax_field or "tax_id")
    if phones:
        existing = await find_duplicate(session, phones=list(phones), excluding=excluding)
        if existing is not None:
            raise await duplicate_problem(session, principal, existing, phone_field)


def _tax_id_taken(database_message: str) -> Problem | None:
    if "uq_customers_tax_id" in database_message or "customers.tax_id" in database_message:
        return conflict(
            "a customer with this IIN/BIN was registered at the same moment; search for it", matched_field="tax_id"
        )
    return None


async def flush_or_conflict(session: AsyncSession) -> None:
    """Flushes now, so that an IIN/BIN another transaction registered meanwhile is a 409, and a
    customer another transaction changed since it was read (its version moved) a 412, not a 500."""
    await concurrency.flush_or_conflict(session, ENTITY, _tax_id_taken)


# --- create ------------------------------------------------------------------------------------


async def placement(session: AsyncSession, principal: Principal, requested_branch: str | None) -> tuple[str, str]:
    """The branch and region of a new customer: an open branch of the directory the caller may write to."""
    branch_code = requested_branch or principal.branch
    if not branch_code:
        raise field_problem("branch_code", "required: you have no branch of your own to default to")
    region_code = await region_of_open_branch(session, branch_code)
    check_may_create_customer_in(principal, region_code, branch_code)
    return branch_code, region_code


def _new_phone(e164: str, label: str | None = None) -> CustomerPhone:
    return CustomerPhone(
        id=new_id(), e164=e164, label=label or ("mobile" if is_mobile(e164) else None), created_at=utcnow()
    )


def _new_address(data: NewAddress, default_region: str) -> Address:
    return Address(
        id=new_id(),
        kind=data.kind,
        region_code=data.region_code or default_region,
        city=data.city,
        street=data.street,
        building=data.building,
        apartment=data.apartment,
        postal_code=data.postal_code,
        created_at=utcnow(),
    )


def _new_contact(data: NewContact) -> Contact:
    return Contact(
        id=new_id(), name=data.name, position=data.position, phone=data.phone, email=data.email, created_at=utcnow()
    )


def _summary(customer: Customer) -> dict[str, Any]:
    """The fields an audit entry and an update diff compare."""
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "middle_name": customer.middle_name,
        "legal_name": customer.legal_name,
        "legal_form": customer.legal_form,
        "email": customer.email,
        "language": customer.language,
        "marketing_consent": customer.marketing_consent,
        "data_processing_consent": customer.data_processing_consent,
        "primary_phone": customer.primary_phone,
        "status": customer.status,
    }


async def create_customer(
    session: AsyncSession,
    principal: Principal,
    new: NewCustomer,
    *,
    owner_id: str | None = None,
    owner_name: str | None = None,
) -> Customer:
    """Registers a customer in the requested branch (default: the caller's), owned by the caller
    or by ``owner_id``/``owner_name`` (a lead's conversion gives the customer the lead's owner)."""
    if (owner_id is None) != (owner_name is None):
        raise ValueError("owner_id and owner_name go together")
    require_customer_writer(principal)
    branch_code, region_code = await placement(session, principal, new.branch_code)
    individual = isinstance(new, NewIndividual)
    tax_field, tax_id = ("iin", new.iin) if individual else ("bin", new.bin)
    await _reject_duplicate(session, principal, tax_field=tax_field, tax_id=tax_id, phones=[new.phone])

    now = utcnow()
    customer = Customer(
        id=new_id(),
        kind=CustomerKind.INDIVIDUAL if individual else CustomerKind.BUSINESS,
        tax_id=tax_id,
        first_name=new.first_name if individual else None,
        last_name=new.last_name if individual else None,
        middle_name=new.middle_name if individual else None,
        birth_date=parse_iin(tax_id).birth_date if individual else None,
        legal_name=None if individual else new.legal_name,
        legal_form=None if individual else new.legal_form,
        primary_phone=new.phone,
        email=new.email,
        language=new.language,
        marketing_consent=new.marketing_consent,
        marketing_consent_at=now if new.marketing_consent else None,
        data_processing_consent=new.data_processing_consent,
        data_processing_consent_at=now if new.data_processing_consent else None,
        status=CustomerStatus.ACTIVE,
        owner_id=owner_id or principal.subject,
        owner_name=owner_name or await own_name(session, principal),
        branch_code=branch_code,
        region_code=region_code,
        created_at=now,
        updated_at=now,
    )
    _refresh_name_key(customer)
    customer.phones = [_new_phone(new.phone)]
    customer.addresses = [_new_address(a, region_code) for a in new.addresses]
    customer.contacts = [] if individual else [_new_contact(c) for c in new.contacts]
    session.add(customer)
    await flush_or_conflict(session)

    created = {
        "kind": customer.kind,
        "tax_id": tax_id,
        **_summary(customer),
        "owner_id": customer.owner_id,
        "branch_code": branch_code,
        "region_code": region_code,
    }
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=customer.id,
        action="created",
        changes={k: [None, v] for k, v in created.items() if v is not None},
    )
    await record_customer_event(session, "created", customer)
    return customer


def _refresh_name_key(customer: Customer) -> None:
    """The listing order and the search text, after any change of a name or the e-mail."""
    names = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "middle_name": customer.middle_name,
        "legal_name": customer.legal_name,
    }
    customer.name_key = name_key(customer.kind, **names)
    customer.search_text = customer_search_text(**names, email=customer.email)


async def withdraw_marketing_consent(
    session: AsyncSession, principal: Principal, customer_id: str
) -> tuple[Customer, bool]:
    """The customer's own withdrawal of marketing consent, reported by marketing (an SMS "STOP", an
    e-mail opt-out link): recorded and announced like any change; a merged duplicate's goes to its
    survivor. Returns (the customer, whether anything changed)."""
    require_consent_recorder(principal)
    customer = await session.get(Customer, customer_id, with_for_update=True)
    for _ in range(3):  # a duplicate merged into a survivor that was itself merged later
        if customer is None or customer.status != CustomerStatus.MERGED or not customer.merged_into_id:
            break
        customer = await session.get(Customer, customer.merged_into_id, with_for_update=True)
    if customer is None:
        raise not_found(ENTITY, customer_id)
    if not customer.marketing_consent:
        return customer, False
    changes = await update_customer(session, principal, customer, {"marketing_consent": False}, customer.version)
    return customer, bool(changes)


# --- update ------------------------------------------------------------------------------------

NOT_NULL_FIELDS = (
    "first_name",
    "last_name",
    "legal_name",
    "language",
    "marketing_consent",
    "data_processing_consent",
    "primary_phone",
    "status",
)
INDIVIDUAL_ONLY = ("first_name", "last_name", "middle_name")
BUSINESS_ONLY = ("legal_name", "legal_form")


async def update_customer(
    session: AsyncSession,
    principal: Principal,
    customer: Customer,
    patch: Mapping[str, Any],
    expected_version: int,
) -> dict[str, list[Any]]:
    """Applies the fields sent (``patch``: field -> new value); returns {field: [old, new]} (empty
    when nothing changed)."""
    check_version(ENTITY, customer.version, expected_version)
    sent = set(patch)
    for field in sorted(sent):
        value = patch[field]
        if value is None and field in NOT_NULL_FIELDS:
            raise field_problem(field, "must not be null")
        if customer.kind == CustomerKind.INDIVIDUAL and field in BUSINESS_ONLY:
            raise field_problem(field, "only business customers have this field")
        if customer.kind == CustomerKind.BUSINESS and field in INDIVIDUAL_ONLY:
            raise field_problem(field, "only individual customers have this field")

    before = _summary(customer)
    now = utcnow()
    for field in ("first_name", "last_name", "middle_name", "legal_name", "legal_form", "email", "language", "status"):
        if field in sent:
            setattr(customer, field, patch[field])
    for consent in ("marketing_consent", "data_processing_consent"):
        if consent in sent and patch[consent] != getattr(customer, consent):
            given = patch[consent]
            setattr(customer, consent, given)
            setattr(customer, f"{consent}_at", now if given else None)
    primary_phone = patch.get("primary_phone")
    if "primary_phone" in sent and primary_phone != customer.primary_phone:
        if primary_phone not in {p.e164 for p in customer.phones}:
            await _reject_duplicate(
                session, principal, phone_field="primary_phone", phones=[primary_phone], excluding=customer.id
            )
            customer.phones.append(_new_phone(primary_phone))
        customer.primary_phone = primary_phone
    _refresh_name_key(customer)

    changes = diff(before, _summary(customer))
    if not changes:
        return {}
    customer.updated_at = now
    await flush_or_conflict(session)
    record_change(session, principal, entity_type=ENTITY, entity_id=customer.id, action="updated", changes=changes)
    await record_customer_event(session, "updated", customer, changes=changes)
    return changes


# --- phones, contacts, addresses ---------------------------------------------------------------


def _item(items: Sequence[Any], item_id: str, what: str) -> Any:
    """One of the customer's phones, contacts or addresses, by id (404 when it has none such)."""
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise not_found(what, item_id[:64])
    return item


async def add_phone(
    session: AsyncSession, principal: Principal, customer: Customer, number: str, label: str | None = None
) -> CustomerPhone:
    """Adds ``number`` (E.164) to the customer's phones."""
    if number in {p.e164 for p in customer.phones}:
        raise conflict(
            f"phone: {number} is already a phone of this customer",
            errors=[{"field": "phone", "message": "already on this customer"}],
        )
    await _reject_duplicate(session, principal, phones=[number], excluding=customer.id)
    phone = _new_phone(number, label)
    customer.phones.append(phone)
    await _sub_resource_changed(
        session, principal, customer, "phone_added", {"phones": [None, phone.e164]}, phone=phone
    )
    return phone


async def remove_phone(session: AsyncSession, principal: Principal, customer: Customer, phone_id: str) -> None:
    phone = _item(customer.phones, phone_id, "phone")
    if phone.e164 == customer.primary_phone:
        raise conflict(
            "phone: the primary phone cannot be removed; make another phone primary first",
            errors=[{"field": "phone", "message": "is the primary phone"}],
        )
    state = phone_state(phone)
    customer.phones.remove(phone)
    await _sub_resource_changed(
        session, principal, customer, "phone_removed", {"phones": [phone.e164, None]}, phone=state
    )


async def add_contact(session: AsyncSession, principal: Principal, customer: Customer, new: NewContact) -> Contact:
    if customer.kind != CustomerKind.BUSINESS:
        raise conflict("contacts: only business customers have contact persons")
    contact = _new_contact(new)
    customer.contacts.append(contact)
    await _sub_resource_changed(
        session, principal, customer, "contact_added", {"contacts": [None, contact.name]}, contact=contact
    )
    return contact


async def remove_contact(session: AsyncSession, principal: Principal, customer: Customer, contact_id: str) -> None:
    contact = _item(customer.contacts, contact_id, "contact")
    state = contact_state(contact)
    customer.contacts.remove(contact)
    await _sub_resource_changed(
        session, principal, customer, "contact_removed", {"contacts": [contact.name, None]}, contact=state
    )


def _address_label(address: Address) -> str:
    return f"{address.kind}: {address.city}, {address.street} {address.building}" + (
        f", {address.apartment}" if address.apartment else ""
    )


async def add_address(session: AsyncSession, principal: Principal, customer: Customer, new: NewAddress) -> Address:
    address = _new_address(new, customer.region_code)
    customer.addresses.append(address)
    await _sub_resource_changed(
        session, principal, customer, "address_added", {"addresses": [None, _address_label(address)]}, address=address
    )
    return address


async def remove_address(session: AsyncSession, principal: Principal, customer: Customer, address_id: str) -> None:
    address = _item(customer.addresses, address_id, "address")
    state = address_state(address)
    customer.addresses.remove(address)
    await _sub_resource_changed(
        session, principal, customer, "address_removed", {"addresses": [_address_label(address), None]}, address=state
    )


async def _sub_resource_changed(
    session: AsyncSession,
    principal: Principal,
    customer: Customer,
    action: str,
    changes: dict[str, list[Any]],
    **item: Any,
) -> None:
    customer.updated_at = utcnow()  # bumps the version: the customer's state changed
    await flush_or_conflict(session)
    record_change(session, principal, entity_type=ENTITY, entity_id=customer.id, action=action, changes=changes)
    payload = {name: value if isinstance(value, dict) else _item_state(value) for name, value in item.items()}
    await record_customer_event(session, action, customer, **payload)


def _item_state(item: CustomerPhone | Contact | Address) -> dict[str, Any]:
    if isinstance(item, CustomerPhone):
        return phone_state(item)
    if isinstance(item, Contact):
        return contact_state(item)
    return address_state(item)


# --- merge -------------------------------------------------------------------------------------

MERGE_FILLED_FIELDS = ("email", "middle_name", "legal_form")


async def merge_customers(
    session: AsyncSession,
    principal: Principal,
    survivor: Customer,
    duplicate_id: str,
    expected_version: int | None = None,
) -> Customer:
    """Folds ``duplicate_id`` into ``survivor``: its phones, contacts and addresses move over, it
    becomes status=merged with merged_into_id=survivor. Both records are audited; one
    crm.sales.customer.merged event (keyed by the survivor; duplicate_id, survivor_id, merged_at)
    tells other aggregates and services to move the duplicate's records to the survivor."""
    check_version(ENTITY, survivor.version, expected_version)
    if duplicate_id == survivor.id:
        raise field_problem("duplicate_id", "a customer cannot be merged into itself")
    duplicate = await get_writable(
        session, principal, Customer, duplicate_id, what=ENTITY, for_update=False, field="duplicate_id"
    )
    if duplicate.status == CustomerStatus.MERGED:
        raise conflict(
            f"duplicate_id: customer {duplicate.id} was already merged into {duplicate.merged_into_id}",
            errors=[{"field": "duplicate_id", "message": "already merged"}],
        )
    if duplicate.status == CustomerStatus.ERASED:
        raise conflict(
            f"duplicate_id: customer {duplicate.id} was erased and cannot be merged",
            errors=[{"field": "duplicate_id", "message": "erased"}],
        )
    if duplicate.kind != survivor.kind:
        raise conflict(
            f"duplicate_id: a {duplicate.kind} customer cannot be merged into a {survivor.kind} customer",
            errors=[{"field": "duplicate_id", "message": "different kind of customer"}],
        )

    survivor_before = {
        "phones": sorted(p.e164 for p in survivor.phones),
        "contacts": len(survivor.contacts),
        "addresses": len(survivor.addresses),
        **{f: getattr(survivor, f) for f in MERGE_FILLED_FIELDS},
    }
    survivor_numbers = {p.e164 for p in survivor.phones}
    for phone in list(duplicate.phones):
        duplicate.phones.remove(phone)
        if phone.e164 not in survivor_numbers:
            survivor.phones.append(phone)
    for contact in list(duplicate.contacts):
        duplicate.contacts.remove(contact)
        survivor.contacts.append(contact)
    for address in list(duplicate.addresses):
        duplicate.addresses.remove(address)
        survivor.addresses.append(address)
    for field in MERGE_FILLED_FIELDS:
        if getattr(survivor, field) is None and getattr(duplicate, field) is not None:
            setattr(survivor, field, getattr(duplicate, field))
    _refresh_name_key(survivor)

    now = utcnow()
    duplicate_before = {"status": duplicate.status, "merged_into_id": None, "primary_phone": duplicate.primary_phone}
    duplicate.status = CustomerStatus.MERGED
    duplicate.merged_into_id = survivor.id
    duplicate.primary_phone = None
    duplicate.updated_at = now
    survivor.updated_at = now
    await flush_or_conflict(session)

    survivor_after = {
        "phones": sorted(p.e164 for p in survivor.phones),
        "contacts": len(survivor.contacts),
        "addresses": len(survivor.addresses),
        **{f: getattr(survivor, f) for f in MERGE_FILLED_FIELDS},
    }
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=survivor.id,
        action="merged",
        changes={"merged_from": [None, duplicate.id], **diff(survivor_before, survivor_after)},
    )
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=duplicate.id,
        action="merged_into",
        changes=diff(
            duplicate_before, {"status": duplicate.status, "merged_into_id": survivor.id, "primary_phone": None}
        ),
    )
    await record_customer_event(
        session,
        "merged",
        survivor,
        duplicate_id=duplicate.id,
        duplicate=customer_state(duplicate),
        survivor_id=survivor.id,
        merged_at=iso(now),
    )
    await move_customer_records(session, principal, duplicate.id, survivor.id)  # leads, deals, activities follow
    await move_partner_customers(session, PartnerCustomer, [duplicate.id], survivor.id)
    await move_interactions(session, duplicate.id, survivor.id)  # and the copy of its calls and visits
    return survivor


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerQuery:
    """Filters of a customer search; all given ones must match. ``statuses`` None means any status."""

    phone: str | None = None  # E.164
    tax_id: str | None = None
    words: tuple[str, ...] = ()  # domain.customers.search_words: each somewhere in the search text
    email: str | None = None  # case-folded
    branch_code: str | None = None
    owner_id: str | None = None
    kind: str | None = None
    statuses: tuple[str, ...] | None = (CustomerStatus.ACTIVE,)
    contact_phones: bool = False  # the phone also matches a business's registered contact person


def _word_conditions(search_text, words: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """Each word somewhere in ``search_text`` (a one-letter word: at the start of some word). Words
    are letters and digits only (search_text_of); as literals, so that PostgreSQL plans each
    LIKE '%word%' with its trigrams (the GIN index)."""
    conditions: list[ColumnElement[bool]] = []
    for index, word in enumerate(words):
        if len(word) > 1:
            conditions.append(search_text.like(bindparam(f"word_{index}", f"%{word}%", literal_execute=True)))
        else:
            first = bindparam(f"first_{index}", f"{word}%", literal_execute=True)
            inner = bindparam(f"inner_{index}", f"% {word}%", literal_execute=True)
            conditions.append(or_(search_text.like(first), search_text.like(inner)))
    return conditions


def search_statement(principal: Principal, query: CustomerQuery) -> Select:
    stmt = select(Customer).where(visibility_clause(principal, Customer))
    if query.phone:
        own = Customer.id.in_(select(CustomerPhone.customer_id).where(CustomerPhone.e164 == query.phone))
        if query.contact_phones:
            own = or_(own, Customer.id.in_(select(Contact.customer_id).where(Contact.phone == query.phone)))
        stmt = stmt.where(own)
    if query.tax_id:
        stmt = stmt.where(Customer.tax_id == query.tax_id)
    stmt = stmt.where(*_word_conditions(Customer.search_text, query.words))
    if query.email:
        stmt = stmt.where(func.lower(Customer.email) == query.email)
    if query.branch_code:
        stmt = stmt.where(Customer.branch_code == query.branch_code)
    if query.owner_id:
        stmt = stmt.where(Customer.owner_id == query.owner_id)
    if query.kind:
        stmt = stmt.where(Customer.kind == query.kind)
    if query.statuses:
        stmt = stmt.where(Customer.status.in_(query.statuses))
    return stmt


async def search_customers(
    session: AsyncSession,
    principal: Principal,
    query: CustomerQuery,
    *,
    limit: int,
    after: tuple[str, str] | None = None,
) -> tuple[list[Customer], tuple[str, str] | None]:
    """One page in (name_key, id) order, and the sort key to continue after (None on the last page)."""
    require_reader(principal)
    stmt = search_statement(principal, query)
    if after is not None:
        stmt = stmt.where(tuple_(Customer.name_key, Customer.id) > tuple_(*after))
    if query.words and not (query.phone or query.tax_id or query.email):
        stmt = await _narrowed_to_few(session, stmt, limit, after)
    if query.phone or query.tax_id or query.email:
        # A lookup by phone or IIN/BIN matches one customer or a few: their phones, contacts and
        # addresses come in the same query. Pages of many customers keep one query per
        # collection (lazy="selectin"), where joining all three would multiply the rows.
        stmt = stmt.options(joinedload(Customer.phones), joinedload(Customer.contacts), joinedload(Customer.addresses))
    result = await session.scalars(stmt.order_by(Customer.name_key, Customer.id).limit(limit + 1))
    rows = list(result.unique())
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], (last.name_key, last.id)
    return rows, None


# Up to this many customers matching the words are sorted; beyond it, the name order is walked
# (WALK_WINDOW customers at most, then all the matches are sorted).
FEW_MATCHES = 2000
WALK_WINDOW = 30_000


async def _narrowed_to_few(session: AsyncSession, stmt: Select, limit: int, after: tuple[str, str] | None) -> Select:
    """Words in names, in name order, without reading the table in name order for them: ask for
    the matches' ids without order (the trigram index), stopping after FEW_MATCHES. A few (a rare
    word): sorted by primary key look-up. More: a first name is spread over the whole name order
    and a short walk fills a page; a frequent surname sits at its own place in it, so the walk is
    bounded (WALK_WINDOW customers, from the covering index ix_customers_name_walk) and when it
    holds no page, all the matches are sorted. Returns the statement of the page's rows."""
    ids = list(await session.scalars(stmt.with_only_columns(Customer.id).limit(FEW_MATCHES + 1)))
    if len(ids) > FEW_MATCHES:
        # Many: a first name is spread over the whole name order (a short walk fills a page), a
        # frequent surname sits at its own place in it (a walk would read everything before it).
        # So walk WALK_WINDOW customers in name order (the covering index, no table rows); when
        # that holds no page, sort all the matches.
        window = select(Customer.name_key, Customer.id).order_by(Customer.name_key, Customer.id)
        if after is not None:
            window = window.where(tuple_(Customer.name_key, Customer.id) > tuple_(*after))
        end = (await session.execute(window.offset(WALK_WINDOW - 1).limit(1))).first()
        walk = stmt.with_only_columns(Customer.id).order_by(Customer.name_key, Customer.id).limit(limit + 1)
        if end is not None:
            walk = walk.where(tuple_(Customer.name_key, Customer.id) <= tuple_(*end))
        in_window = list(await session.scalars(walk))
        if len(in_window) > limit or end is None:
            return select(Customer).where(Customer.id.in_(in_window))
        matches = stmt.with_only_columns(Customer.id, Customer.name_key).offset(0).subquery()
    else:
        matches = select(Customer.id, Customer.name_key).where(Customer.id.in_(ids)).offset(0).subquery()
    # OFFSET 0: PostgreSQL plans the subquery on its own (the trigram index, or the few rows by
    # primary key), then sorts the matches, in the database's collation, as every page is ordered.
    page = select(matches.c.id).order_by(matches.c.name_key, matches.c.id).limit(limit + 1)
    return select(Customer).where(Customer.id.in_(list(await session.scalars(page))))


async def audited_identifier_search(
    db: Database,
    principal: Principal,
    query: CustomerQuery,
    *,
    limit: int,
    after: tuple[str, str] | None = None,
    field: str,
    budget: int,
    via: str,
) -> tuple[list[Customer], tuple[str, str] | None]:
    """``search_customers`` by IIN/BIN (``query.tax_id``; ``field``: iin | bin, as the caller sent
    it) for a caller who sees identifiers masked: within the caller's budget of look-ups per
    minute (a 429 with Retry-After beyond it), and audited, admitted or refused, in a transaction
    of its own (access_audit_service)."""
    if not query.tax_id:
        raise ValueError("an identifier search needs query.tax_id")
    require_reader(principal)
    async with db.unit_of_work() as session:
        refusal = await access_audit_service.lookup_refusal(session, principal, budget=budget, now=utcnow())
        if refusal is None:
            customers, last = await search_customers(session, principal, query, limit=limit, after=after)
        else:
            customers, last = [], None
        access_audit_service.record_lookup(
            session,
            principal,
            field=field,
            value=query.tax_id,
            found=[c.id for c in customers],
            via=via,
            refused=refusal is not None,
        )
    if refusal is not None:
        raise refusal
    return customers, last
