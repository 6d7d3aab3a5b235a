"""The customer REST API (/api/v1/sales/customers): what integrators code against. The use cases
are crm_sales.services.customer_service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, ReadSession, ServiceDatabase, Session, Settings
from crm_shared.auth import Principal
from crm_shared.concurrency import IfMatch, check_version, etag, parse_if_match, required_version, version_headers
from crm_shared.csv_export import CSV_MEDIA_TYPE, csv_export
from crm_shared.db import Database
from crm_shared.errors import OPENAPI_PROBLEMS, field_problem, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.identifiers import IdentifierError, parse_bin, parse_iin
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

from ..access import require_customer_writer, require_reader
from ..config import SalesSettings
from ..db.models import Customer
from ..domain.customers import SearchTerms, ValueRuleError
from ..events.publishers import address_state, contact_state, phone_state
from ..services import customer_service as service
from ..services.record_history_service import history_lines
from .customer_schemas import (
    AddressIn,
    AddressOut,
    ContactIn,
    ContactOut,
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    HistoryEntryOut,
    MergeRequest,
    PhoneIn,
    PhoneOut,
    new_address,
    new_contact,
    new_customer,
    phone_filter,
)

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])

MAX_QUERY_LENGTH = 100
WHAT = service.ENTITY


def _headers(view: dict) -> dict[str, str]:
    return version_headers(view["version"], service.customer_url(view["id"]))


async def _writable_at(
    session: AsyncSession, principal: Principal, customer_id: str, if_match: str | None, fields: tuple[str, ...] = ()
) -> Customer:
    """The customer a sub-resource change is made on; If-Match is optional there. ``fields``: what
    the change touches, for a customer changing their own record (access.SELF_SERVICE_FIELDS)."""
    customer = await service.get_writable_customer(session, principal, customer_id, fields=fields)
    check_version(WHAT, customer.version, parse_if_match(if_match, WHAT))
    return customer


# --- create / read / search ----------------------------------------------------------------------


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    responses=OPENAPI_PROBLEMS,
    summary="Register an individual (IIN) or a business (BIN) customer",
)
async def create_customer(
    body: Annotated[CustomerCreate, Body()],
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_customer_writer(principal)

    async def create() -> dict:
        return service.customer_view(await service.create_customer(session, principal, new_customer(body)), principal)

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=_headers,
        flush=lambda: service.flush_or_conflict(session),
    )


@dataclass(frozen=True)
class CustomerFilters:
    """The filters of the customer list, as its export takes them too."""

    query: service.CustomerQuery
    identifier_field: str  # the parameter that carried an IIN/BIN: iin | bin | q


async def customer_filters(
    phone: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH, description="any Kazakhstan notation")] = None,
    iin: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH)] = None,
    bin: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description="a phone, IIN/BIN, e-mail or parts of names in any order, script and case",
        ),
    ] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    kind: Literal["individual", "business"] | None = None,
    status: Literal["active", "inactive", "merged", "erased", "any"] = "active",
    contact_phones: Annotated[
        bool, Query(description="with `phone`: also the businesses whose registered contact person has it")
    ] = False,
) -> CustomerFilters:
    terms = _search_terms(q)
    query = service.CustomerQuery(
        phone=phone_filter(phone) or (terms.phone if terms else None),
        tax_id=_tax_id_filter(iin, bin) or (terms.tax_id if terms else None),
        words=terms.words if terms else (),
        email=terms.email if terms else None,
        branch_code=branch_code,
        owner_id=owner_id,
        kind=kind,
        statuses=None if status == "any" else (status,),
        contact_phones=contact_phones,
    )
    return CustomerFilters(query, "iin" if iin is not None else "bin" if bin is not None else "q")


Filters = Annotated[CustomerFilters, Depends(customer_filters)]


async def _customer_page(
    principal: Principal,
    session: AsyncSession,
    db: Database,
    settings: SalesSettings,
    filters: CustomerFilters,
    *,
    limit: int,
    after: tuple[str, str] | None,
):
    if filters.query.tax_id and principal.masks_identifiers:
        # A look-up by full IIN/BIN confirms an identifier the caller is shown only masked:
        # audited, and held to a budget per minute (429 beyond it).
        return await service.audited_identifier_search(
            db,
            principal,
            filters.query,
            limit=limit,
            after=after,
            field=filters.identifier_field,
            budget=settings.identifier_lookups_per_minute,
            via="rest",
        )
    return await service.search_customers(session, principal, filters.query, limit=limit, after=after)


EXPORT_PAGE = 500
EXPORT_COLUMNS = (
    "id", "kind", "display_name", "last_name", "first_name", "middle_name", "legal_name", "legal_form",
    "iin", "bin", "birth_date", "birth_year", "primary_phone", "email", "language", "status",
    "marketing_consent", "data_processing_consent", "owner_id", "owner_name", "branch_code", "region_code",
    "created_at", "updated_at",
)  # fmt: skip


@router.get(
    "/customers/export",
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "the customers as CSV, one line each, streamed"},
        **openapi_problems(400, 401, 403, 422, 429),
    },
    response_class=StreamingResponse,
    summary="The customer list as a CSV file, with the list's filters, within the caller's visibility",
    description="The same filters as `GET /customers` (a CSV of what that list would page through), "
    "identifiers masked as the list masks them for the caller; streamed page by page in name order.",
)
async def export_customers(
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    settings: Settings,
    filters: Filters,
    format: Annotated[Literal["csv"], Query(description="the file format (only csv)")] = "csv",
):
    require_reader(principal)

    async def fetch_page(cursor: str | None):
        async with db.read_only() as session:
            customers, last = await _customer_page(
                principal, session, db, settings, filters, limit=EXPORT_PAGE, after=_after(cursor)
            )
            rows = [service.customer_view(c, principal) for c in customers]
        return rows, encode_cursor(list(last)) if last else None

    return await csv_export(EXPORT_COLUMNS, fetch_page, filename="customers.csv")


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    responses=OPENAPI_PROBLEMS,
    summary="One customer (404 when absent or not visible to the caller)",
)
async def get_customer(customer_id: str, principal: CurrentPrincipal, session: ReadSession, response: Response):
    customer = await service.get_visible_customer(session, principal, customer_id)
    response.headers["ETag"] = etag(customer.version)
    return service.customer_view(customer, principal)


def _tax_id_filter(iin: str | None, bin_: str | None) -> str | None:
    if iin is not None and bin_ is not None:
        raise field_problem("bin", "send either iin or bin, not both")
    try:
        if iin is not None:
            return parse_iin(iin).value
        if bin_ is not None:
            return parse_bin(bin_).value
    except IdentifierError as exc:
        raise field_problem("iin" if iin is not None else "bin", str(exc)) from None
    return None


def _search_terms(q: str | None) -> SearchTerms | None:
    if q is None:
        return None
    try:
        return SearchTerms(q)
    except ValueRuleError as exc:
        raise field_problem("q", str(exc)) from None


def _after(cursor: str | None) -> tuple[str, str] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    return values[0], values[1]


@router.get(
    "/customers",
    response_model=Page[CustomerOut],
    responses=OPENAPI_PROBLEMS,
    summary="Find customers by anything: name, phone, IIN/BIN, e-mail (q), branch or owner",
    description="`q` is what a search box holds: a phone number in any notation, a full IIN/BIN, an "
    "e-mail address, or any parts of any of the names (first, last, middle, legal) in any order, in "
    'any case, in Kazakh, Russian or Latin letters ("Aliya", "Алия" and "Әлия" find the same '
    "customer). A look-up by IIN/BIN by a caller who sees identifiers masked (call centre, API keys) is "
    "audited and limited per caller (`CRM_SALES_IDENTIFIER_LOOKUPS_PER_MINUTE`, default 10): 429 with "
    "Retry-After beyond it.",
)
async def list_customers(
    principal: CurrentPrincipal,
    session: ReadSession,
    db: ServiceDatabase,
    settings: Settings,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    require_reader(principal)
    customers, last = await _customer_page(principal, session, db, settings, filters, limit=limit, after=_after(cursor))
    return {
        "items": [service.customer_view(c, principal) for c in customers],
        "next_cursor": encode_cursor(list(last)) if last else None,
    }


# --- update / merge / history --------------------------------------------------------------------


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change names, e-mail, language, consents, primary phone or status (optimistic concurrency)",
)
async def update_customer(
    customer_id: str,
    body: CustomerUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    patch = body.model_dump(exclude_unset=True, exclude={"version"})
    customer = await service.get_writable_customer(session, principal, customer_id, fields=set(patch))
    version = required_version(if_match, body.version, WHAT)
    await service.update_customer(session, principal, customer, patch, version)
    response.headers["ETag"] = etag(customer.version)
    return service.customer_view(customer, principal)


@router.post(
    "/customers/{customer_id}/merge",
    response_model=CustomerOut,
    responses=OPENAPI_PROBLEMS,
    summary="Merge a duplicate into this customer (phones, contacts, addresses move here)",
)
async def merge_customer(
    customer_id: str,
    body: MergeRequest,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    survivor = await service.get_writable_customer(session, principal, customer_id)
    await service.merge_customers(session, principal, survivor, body.duplicate_id, parse_if_match(if_match, WHAT))
    response.headers["ETag"] = etag(survivor.version)
    return service.customer_view(survivor, principal)


@router.get(
    "/customers/{customer_id}/history",
    response_model=Page[HistoryEntryOut],
    responses=OPENAPI_PROBLEMS,
    summary="Audit history of the customer: who changed what, when, old -> new",
)
async def customer_history(
    customer_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    entries, next_cursor = await service.customer_history(session, principal, customer_id, limit=limit, cursor=cursor)
    return {"items": await history_lines(session, principal, entries), "next_cursor": next_cursor}


# --- phones, contacts, addresses -----------------------------------------------------------------


@router.post(
    "/customers/{customer_id}/phones",
    status_code=201,
    response_model=PhoneOut,
    responses=OPENAPI_PROBLEMS,
    summary="Add a phone number (any notation; stored as E.164)",
)
async def add_phone(
    customer_id: str,
    body: PhoneIn,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    customer = await _writable_at(session, principal, customer_id, if_match, fields=("phones",))
    phone = await service.add_phone(session, principal, customer, body.phone, body.label)
    response.headers["ETag"] = etag(customer.version)
    return phone_state(phone)


@router.delete(
    "/customers/{customer_id}/phones/{phone_id}",
    status_code=204,
    responses=OPENAPI_PROBLEMS,
    summary="Remove a phone number (not the primary one)",
)
async def remove_phone(
    customer_id: str, phone_id: str, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
):
    customer = await _writable_at(session, principal, customer_id, if_match)
    await service.remove_phone(session, principal, customer, phone_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})


@router.post(
    "/customers/{customer_id}/contacts",
    status_code=201,
    response_model=ContactOut,
    responses=OPENAPI_PROBLEMS,
    summary="Add a contact person to a business customer",
)
async def add_contact(
    customer_id: str,
    body: ContactIn,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    customer = await _writable_at(session, principal, customer_id, if_match)
    contact = await service.add_contact(session, principal, customer, new_contact(body))
    response.headers["ETag"] = etag(customer.version)
    return contact_state(contact)


@router.delete(
    "/customers/{customer_id}/contacts/{contact_id}",
    status_code=204,
    responses=OPENAPI_PROBLEMS,
    summary="Remove a contact person",
)
async def remove_contact(
    customer_id: str, contact_id: str, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
):
    customer = await _writable_at(session, principal, customer_id, if_match)
    await service.remove_contact(session, principal, customer, contact_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})


@router.post(
    "/customers/{customer_id}/addresses",
    status_code=201,
    response_model=AddressOut,
    responses=OPENAPI_PROBLEMS,
    summary="Add a registration, service or billing address",
)
async def add_address(
    customer_id: str,
    body: AddressIn,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    customer = await _writable_at(session, principal, customer_id, if_match)
    address = await service.add_address(session, principal, customer, new_address(body))
    response.headers["ETag"] = etag(customer.version)
    return address_state(address)


@router.delete(
    "/customers/{customer_id}/addresses/{address_id}",
    status_code=204,
    responses=OPENAPI_PROBLEMS,
    summary="Remove an address",
)
async def remove_address(
    customer_id: str, address_id: str, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
):
    customer = await _writable_at(session, principal, customer_id, if_match)
    await service.remove_address(session, principal, customer, address_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})
