"""The customer REST API (/api/v1/sales/customers): what integrators code against."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Query, Response
from fastapi.responses import JSONResponse
from crm_shared.audit import history as audit_history
from crm_shared.errors import PROBLEM_JSON, Problem, field_problem
from crm_shared.idempotency import find_replay, remember
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

from .. import customer_service as service
from ..domain.customers import search_key
from ..domain.identifiers import IdentifierError, parse_bin, parse_iin
from ..domain.phones import PhoneError, normalize_phone
from ..events.customer_events import address_state, contact_state, phone_state
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
)
from .deps import CurrentPrincipal, Session

router = APIRouter(prefix="/api/v1/sales", tags=["customers"])

MIN_NAME_PREFIX = 2
MAX_QUERY_LENGTH = 100
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="makes a retried create safe")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='the ETag read, e.g. "3"')]

PROBLEMS = {status: {"model": None, "content": {PROBLEM_JSON: {}}, "description": description} for status, description in {
    401: "no or invalid caller identity", 403: "the caller's role may not do this", 404: "absent or not visible",
    409: "duplicate or conflicting state", 412: "stale version", 422: "invalid field (problem names it)",
}.items()}


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    if not raw.isdigit():
        raise Problem(400, "Bad request", 'If-Match: must be the ETag of the customer, e.g. "3"',
                      errors=[{"field": "If-Match", "message": 'must be a version ETag such as "3"'}])
    return int(raw)


def required_version(if_match: str | None, body_version: int | None) -> int:
    header_version = parse_if_match(if_match)
    if header_version is not None and body_version is not None and header_version != body_version:
        raise field_problem("version", f"differs from If-Match ({header_version}); send one of them")
    version = header_version if header_version is not None else body_version
    if version is None:
        raise Problem(428, "Precondition required",
                      'send If-Match: "<version>" (the ETag you read) or "version" in the body',
                      errors=[{"field": "If-Match", "message": "required (or version in the body)"}])
    return version


def _customer_headers(customer_id: str, version: int) -> dict[str, str]:
    return {"ETag": etag(version), "Location": service.customer_url(customer_id)}


# --- create / read / search ----------------------------------------------------------------------

@router.post("/customers", status_code=201, response_model=CustomerOut, responses=PROBLEMS,
             summary="Register an individual (IIN) or a business (BIN) customer")
async def create_customer(
    body: Annotated[CustomerCreate, Body()], principal: CurrentPrincipal, session: Session, response: Response,
    idempotency_key: IdempotencyKey = None,
):
    service.require_customer_writer(principal)
    payload = body.model_dump(mode="json")
    replay = await find_replay(session, principal, idempotency_key, payload)
    if replay is not None:
        stored = replay.response
        return JSONResponse(stored, status_code=replay.status_code,
                            headers=_customer_headers(stored["id"], stored["version"]) | {"Idempotent-Replayed": "true"})
    customer = await service.create_customer(session, principal, body)
    view = service.customer_view(customer, principal)
    remember(session, principal, idempotency_key, payload, 201, view)
    await service.flush_or_conflict(session)
    response.headers.update(_customer_headers(customer.id, customer.version))
    return view


@router.get("/customers/{customer_id}", response_model=CustomerOut, responses=PROBLEMS,
            summary="One customer (404 when absent or not visible to the caller)")
async def get_customer(customer_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    customer = await service.get_visible_customer(session, principal, customer_id)
    response.headers["ETag"] = etag(customer.version)
    return service.customer_view(customer, principal)


def _phone_filter(phone: str | None) -> str | None:
    if phone is None:
        return None
    try:
        return normalize_phone(phone)
    except PhoneError as exc:
        raise field_problem("phone", str(exc)) from None


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


def _name_filter(q: str | None) -> str | None:
    if q is None:
        return None
    if len(search_key(q)) < MIN_NAME_PREFIX:
        raise field_problem("q", f"must have at least {MIN_NAME_PREFIX} characters")
    return q


def _after(cursor: str | None) -> tuple[str, str] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    return values[0], values[1]


@router.get("/customers", response_model=Page[CustomerOut], responses=PROBLEMS,
            summary="Find customers by phone (any notation), IIN/BIN, name prefix, branch or owner")
async def list_customers(
    principal: CurrentPrincipal,
    session: Session,
    phone: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH, description="any Kazakhstan notation")] = None,
    iin: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH)] = None,
    bin: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH)] = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH,
                                   description="prefix of 'last first middle' name or of the legal name")] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    kind: Literal["individual", "business"] | None = None,
    status: Literal["active", "inactive", "merged", "any"] = "active",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    service.require_reader(principal)
    query = service.CustomerQuery(
        phone=_phone_filter(phone), tax_id=_tax_id_filter(iin, bin), name_prefix=_name_filter(q),
        branch_code=branch_code, owner_id=owner_id, kind=kind, statuses=None if status == "any" else (status,),
    )
    customers, last = await service.search_customers(session, principal, query, limit=limit, after=_after(cursor))
    return {"items": [service.customer_view(c, principal) for c in customers],
            "next_cursor": encode_cursor(list(last)) if last else None}


# --- update / merge / history --------------------------------------------------------------------

@router.patch("/customers/{customer_id}", response_model=CustomerOut, responses=PROBLEMS | {
    428: {"model": None, "content": {PROBLEM_JSON: {}}, "description": "neither If-Match nor version sent"}},
    summary="Change names, e-mail, language, consents, primary phone or status (optimistic concurrency)")
async def update_customer(
    customer_id: str, body: CustomerUpdate, principal: CurrentPrincipal, session: Session, response: Response,
    if_match: IfMatch = None,
):
    customer = await service.get_writable_customer(session, principal, customer_id)
    version = required_version(if_match, body.version)
    await service.update_customer(session, principal, customer, body, version)
    response.headers["ETag"] = etag(customer.version)
    return service.customer_view(customer, principal)


@router.post("/customers/{customer_id}/merge", response_model=CustomerOut, responses=PROBLEMS,
             summary="Merge a duplicate into this customer (phones, contacts, addresses move here)")
async def merge_customer(
    customer_id: str, body: MergeRequest, principal: CurrentPrincipal, session: Session, response: Response,
    if_match: IfMatch = None,
):
    survivor = await service.get_writable_customer(session, principal, customer_id)
    await service.merge_customers(session, principal, survivor, body.duplicate_id, parse_if_match(if_match))
    response.headers["ETag"] = etag(survivor.version)
    return service.customer_view(survivor, principal)


@router.get("/customers/{customer_id}/history", response_model=Page[HistoryEntryOut], responses=PROBLEMS,
            summary="Audit history of the customer: who changed what, when, old -> new")
async def customer_history(
    customer_id: str, principal: CurrentPrincipal, session: Session,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    customer = await service.get_visible_customer(session, principal, customer_id)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    entries = await audit_history(session, service.ENTITY, customer.id, limit=limit + 1,
                                  after_id=after[0] if after else None)
    next_cursor = encode_cursor([entries[limit - 1].id]) if len(entries) > limit else None
    return {"items": [{"id": e.id, "at": e.at, "actor_id": e.actor_id, "actor_name": e.actor_name, "action": e.action,
                       "changes": service.history_view(e.changes, principal), "operation_id": e.operation_id}
                      for e in entries[:limit]],
            "next_cursor": next_cursor}


# --- phones, contacts, addresses -----------------------------------------------------------------

@router.post("/customers/{customer_id}/phones", status_code=201, response_model=PhoneOut, responses=PROBLEMS,
             summary="Add a phone number (any notation; stored as E.164)")
async def add_phone(customer_id: str, body: PhoneIn, principal: CurrentPrincipal, session: Session,
                    response: Response, if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    phone = await service.add_phone(session, principal, customer, body)
    response.headers["ETag"] = etag(customer.version)
    return phone_state(phone)


@router.delete("/customers/{customer_id}/phones/{phone_id}", status_code=204, responses=PROBLEMS,
               summary="Remove a phone number (not the primary one)")
async def remove_phone(customer_id: str, phone_id: str, principal: CurrentPrincipal, session: Session,
                       if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    await service.remove_phone(session, principal, customer, phone_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})


@router.post("/customers/{customer_id}/contacts", status_code=201, response_model=ContactOut, responses=PROBLEMS,
             summary="Add a contact person to a business customer")
async def add_contact(customer_id: str, body: ContactIn, principal: CurrentPrincipal, session: Session,
                      response: Response, if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    contact = await service.add_contact(session, principal, customer, body)
    response.headers["ETag"] = etag(customer.version)
    return contact_state(contact)


@router.delete("/customers/{customer_id}/contacts/{contact_id}", status_code=204, responses=PROBLEMS,
               summary="Remove a contact person")
async def remove_contact(customer_id: str, contact_id: str, principal: CurrentPrincipal, session: Session,
                         if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    await service.remove_contact(session, principal, customer, contact_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})


@router.post("/customers/{customer_id}/addresses", status_code=201, response_model=AddressOut, responses=PROBLEMS,
             summary="Add a registration, service or billing address")
async def add_address(customer_id: str, body: AddressIn, principal: CurrentPrincipal, session: Session,
                      response: Response, if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    address = await service.add_address(session, principal, customer, body)
    response.headers["ETag"] = etag(customer.version)
    return address_state(address)


@router.delete("/customers/{customer_id}/addresses/{address_id}", status_code=204, responses=PROBLEMS,
               summary="Remove an address")
async def remove_address(customer_id: str, address_id: str, principal: CurrentPrincipal, session: Session,
                         if_match: IfMatch = None):
    customer = await service.get_writable_customer(session, principal, customer_id)
    service.check_version(customer, parse_if_match(if_match))
    await service.remove_address(session, principal, customer, address_id)
    return Response(status_code=204, headers={"ETag": etag(customer.version)})
