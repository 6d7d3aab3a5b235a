"""TM Forum TMF629 Customer (read) at /tmf-api/customerManagement/v4/customer and TMF632 Party at
/tmf-api/partyManagement/v4/individual (IIN as individualIdentification) and /organization (BIN as
organizationIdentification): list (status; fields, offset/limit, X-Total-Count / X-Result-Count,
206 for a partial page), get by id, create (sales:write). Identifiers are masked as the REST API
masks them for the caller (API keys see the last four digits)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm_shared import tmf
from crm_shared.api import CurrentPrincipal, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS, field_problem, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.schemas import Strict

from ..db.models import Customer
from ..domain.customers import CustomerKind
from ..services import customer_service, tmf_party_service
from .customer_schemas import BusinessCreate as RestBusiness
from .customer_schemas import IndividualCreate as RestIndividual
from .customer_schemas import new_customer

CUSTOMERS = "/tmf-api/customerManagement/v4"
PARTIES = "/tmf-api/partyManagement/v4"
VOCABULARY = "partyManagement"
TMF_PROBLEMS = OPENAPI_PROBLEMS | openapi_problems(400)
router = APIRouter(tags=["TMF629 customer / TMF632 party"])
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]
Fields = Annotated[str | None, Query(max_length=500)]
Status = Annotated[str | None, Query(max_length=200)]


class TmfResource(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    id: str
    href: str
    type_: str = Field(alias="@type")
    base_type: str | None = Field(None, alias="@baseType")
    schema_location: str | None = Field(None, alias="@schemaLocation")


class Individual(TmfResource):
    """TMF632 Individual (the attributes this facade supports)."""

    givenName: str | None = None
    familyName: str | None = None
    middleName: str | None = None
    fullName: str | None = None
    birthDate: str | None = None
    status: str | None = None
    individualIdentification: list[dict[str, Any]] | None = None
    contactMedium: list[dict[str, Any]] | None = None
    languageAbility: list[dict[str, Any]] | None = None


class Organization(TmfResource):
    """TMF632 Organization (the attributes this facade supports)."""

    name: str | None = None
    tradingName: str | None = None
    organizationType: str | None = None
    status: str | None = None
    organizationIdentification: list[dict[str, Any]] | None = None
    contactMedium: list[dict[str, Any]] | None = None
    relatedParty: list[dict[str, Any]] | None = None


class TmfCustomer(TmfResource):
    """TMF629 Customer (the attributes this facade supports)."""

    name: str | None = None
    status: str | None = None
    engagedParty: dict[str, Any] | None = None
    contactMedium: list[dict[str, Any]] | None = None
    relatedParty: list[dict[str, Any]] | None = None
    characteristic: list[dict[str, Any]] | None = None
    validFor: dict[str, Any] | None = None


class Identification(Strict):
    identificationType: str = Field(min_length=1, max_length=30)
    identificationId: str = Field(min_length=1, max_length=20)
    issuingAuthority: str | None = Field(None, max_length=200)
    type_: str | None = Field(None, alias="@type", max_length=50)


class MediumCharacteristic(Strict):
    phoneNumber: str | None = Field(None, max_length=40)
    emailAddress: str | None = Field(None, max_length=254)
    contactType: str | None = Field(None, max_length=50)


class ContactMedium(Strict):
    mediumType: str = Field(min_length=1, max_length=30)
    preferred: bool | None = None
    characteristic: MediumCharacteristic
    type_: str | None = Field(None, alias="@type", max_length=50)


class TmfPartyCreate(Strict):
    contactMedium: list[ContactMedium] = Field(min_length=1, max_length=10)
    type_: str | None = Field(None, alias="@type", max_length=50)
    base_type: str | None = Field(None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(None, alias="@schemaLocation", max_length=500)


class TmfIndividualCreate(TmfPartyCreate):
    givenName: str = Field(min_length=1, max_length=100)
    familyName: str = Field(min_length=1, max_length=100)
    middleName: str | None = Field(None, max_length=100)
    individualIdentification: list[Identification] = Field(min_length=1, max_length=5)


class TmfOrganizationCreate(TmfPartyCreate):
    name: str = Field(min_length=1, max_length=300)
    organizationType: str | None = Field(None, max_length=50)
    organizationIdentification: list[Identification] = Field(min_length=1, max_length=5)


def _contact_media(state: dict[str, Any]) -> list[dict[str, Any]]:
    media: list[dict[str, Any]] = [
        {
            "mediumType": "phone",
            "preferred": phone["e164"] == state["primary_phone"],
            "characteristic": {"phoneNumber": phone["e164"], "contactType": phone["label"]},
        }
        for phone in state["phones"]
    ]
    if state["email"]:
        media.append({"mediumType": "email", "characteristic": {"emailAddress": state["email"]}})
    for address in state["addresses"]:
        media.append(
            {
                "mediumType": "postalAddress",
                "characteristic": {
                    "city": address["city"],
                    "street1": f"{address['street']} {address['building']}".strip(),
                    "postCode": address["postal_code"],
                    "stateOrProvince": address["region_code"],
                    "country": "KZ",
                    "contactType": address["kind"],
                },
            }
        )
    return media


def _party_href(state: dict[str, Any]) -> tuple[str, str]:
    if state["kind"] == CustomerKind.INDIVIDUAL:
        return f"{PARTIES}/individual/{state['id']}", "Individual"
    return f"{PARTIES}/organization/{state['id']}", "Organization"


def individual(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state["id"],
        "href": f"{PARTIES}/individual/{state['id']}",
        **tmf.resource_meta("Individual", "Party", PARTIES),
        "givenName": state["first_name"],
        "familyName": state["last_name"],
        "middleName": state["middle_name"],
        "fullName": state["display_name"],
        "birthDate": state["birth_date"],
        "status": state["status"],
        "individualIdentification": [
            {
                "identificationType": "IIN",
                "identificationId": state["iin"],
                "issuingAuthority": "Republic of Kazakhstan",
            }
        ]
        if state["iin"]
        else [],
        "contactMedium": _contact_media(state),
        "languageAbility": [{"languageCode": state["language"], "isFavouriteLanguage": True}],
    }


def organization(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state["id"],
        "href": f"{PARTIES}/organization/{state['id']}",
        **tmf.resource_meta("Organization", "Party", PARTIES),
        "name": state["legal_name"],
        "tradingName": state["display_name"],
        "organizationType": state["legal_form"],
        "status": state["status"],
        "organizationIdentification": [
            {
                "identificationType": "BIN",
                "identificationId": state["bin"],
                "issuingAuthority": "Republic of Kazakhstan",
            }
        ]
        if state["bin"]
        else [],
        "contactMedium": _contact_media(state),
        "relatedParty": [
            {"id": c["id"], "name": c["name"], "role": c["position"] or "contact", "@referredType": "Individual"}
            for c in state["contacts"]
        ],
    }


def customer(state: dict[str, Any]) -> dict[str, Any]:
    href, referred = _party_href(state)
    return {
        "id": state["id"],
        "href": f"{CUSTOMERS}/customer/{state['id']}",
        **tmf.resource_meta("Customer", "Customer", CUSTOMERS),
        "name": state["display_name"],
        "status": state["status"],
        "engagedParty": {"id": state["id"], "href": href, "name": state["display_name"], "@referredType": referred},
        "contactMedium": _contact_media(state),
        "relatedParty": [{"id": state["owner_id"], "name": state["owner_name"], "role": "accountManager"}],
        "characteristic": [
            {"name": "branchCode", "value": state["branch_code"]},
            {"name": "regionCode", "value": state["region_code"]},
            {"name": "language", "value": state["language"]},
        ],
        "validFor": {"startDateTime": state["created_at"]},
    }


def _shown(resource: dict[str, Any], fields: str | None, model: type[BaseModel]) -> dict[str, Any]:
    return {k: v for k, v in tmf.select_fields(resource, fields, model).items() if v is not None}


async def _list(session, principal, *, kind, status, offset, limit, fields, render, model):
    statuses = tmf.vocabulary(VOCABULARY, "status").matching(status) if status else None
    total, rows = await tmf_party_service.customers_at_offset(
        session, principal, kind=kind, statuses=statuses, offset=offset, limit=limit
    )
    items = [_shown(render(customer_service.customer_view(c, principal)), fields, model) for c in rows]
    return tmf.paged(items, total, offset)


async def _one(session, principal, customer_id: str, kind: str | None) -> dict[str, Any]:
    found: Customer = await customer_service.get_visible_customer(session, principal, customer_id)
    if kind is not None and found.kind != kind:
        raise field_problem(
            "id", f"{customer_id[:40]} is not {'an individual' if kind == 'individual' else 'an organization'}", 404
        )
    return customer_service.customer_view(found, principal)


def _partial(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {206: {"model": list[model], "description": "Partial Content: one page of more results"}}


@router.get(f"{CUSTOMERS}/customer", response_model=list[TmfCustomer], responses=TMF_PROBLEMS | _partial(TmfCustomer))
async def list_customers(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Limit = 20,
    fields: Fields = None,
    status: Status = None,
):
    return await _list(
        session,
        principal,
        kind=None,
        status=status,
        offset=offset,
        limit=limit,
        fields=fields,
        render=customer,
        model=TmfCustomer,
    )


@router.get(
    f"{CUSTOMERS}/customer/{{customer_id}}",
    response_model=TmfCustomer,
    responses=TMF_PROBLEMS,
    response_model_exclude_none=True,
)
async def get_customer(customer_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None):
    return _shown(customer(await _one(session, principal, customer_id, None)), fields, TmfCustomer)


@router.get(f"{PARTIES}/individual", response_model=list[Individual], responses=TMF_PROBLEMS | _partial(Individual))
async def list_individuals(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Limit = 20,
    fields: Fields = None,
    status: Status = None,
):
    return await _list(
        session,
        principal,
        kind=CustomerKind.INDIVIDUAL,
        status=status,
        offset=offset,
        limit=limit,
        fields=fields,
        render=individual,
        model=Individual,
    )


@router.get(
    f"{PARTIES}/individual/{{party_id}}",
    response_model=Individual,
    responses=TMF_PROBLEMS,
    response_model_exclude_none=True,
)
async def get_individual(party_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None):
    return _shown(individual(await _one(session, principal, party_id, CustomerKind.INDIVIDUAL)), fields, Individual)


@router.get(
    f"{PARTIES}/organization", response_model=list[Organization], responses=TMF_PROBLEMS | _partial(Organization)
)
async def list_organizations(
    principal: CurrentPrincipal,
    session: ReadSession,
    offset: Offset = 0,
    limit: Limit = 20,
    fields: Fields = None,
    status: Status = None,
):
    return await _list(
        session,
        principal,
        kind=CustomerKind.BUSINESS,
        status=status,
        offset=offset,
        limit=limit,
        fields=fields,
        render=organization,
        model=Organization,
    )


@router.get(
    f"{PARTIES}/organization/{{party_id}}",
    response_model=Organization,
    responses=TMF_PROBLEMS,
    response_model_exclude_none=True,
)
async def get_organization(party_id: str, principal: CurrentPrincipal, session: ReadSession, fields: Fields = None):
    return _shown(organization(await _one(session, principal, party_id, CustomerKind.BUSINESS)), fields, Organization)


def _identifier(items: list[Identification], wanted: str, field: str) -> str:
    for item in items:
        if tmf.fold(item.identificationType) == tmf.fold(wanted):
            return item.identificationId
    raise field_problem(field, f"one identification with identificationType {wanted}")


def _contacts(media: list[ContactMedium]) -> tuple[str, str | None]:
    phones = [
        m for m in media if tmf.fold(m.mediumType) in ("phone", "mobile", "telephone") and m.characteristic.phoneNumber
    ]
    if not phones:
        raise field_problem("contactMedium", "one medium of mediumType phone with characteristic.phoneNumber")
    preferred = next((m for m in phones if m.preferred), phones[0])
    email = next((m.characteristic.emailAddress for m in media if tmf.fold(m.mediumType) == "email"), None)
    return preferred.characteristic.phoneNumber or "", email


async def _create(session, principal, key, body, response, new, render):
    async def create() -> dict[str, Any]:
        made = await customer_service.create_customer(session, principal, new)
        return render(customer_service.customer_view(made, principal))

    return await create_once(
        session,
        principal,
        key,
        {"tmf632": body.model_dump(mode="json", by_alias=True)},
        response,
        create=create,
        headers=lambda created: {"Location": created["href"]},
        flush=lambda: customer_service.flush_or_conflict(session),
    )


TMF_FIELD_OF = {
    "iin": "individualIdentification",
    "bin": "organizationIdentification",
    "phone": "contactMedium",
    "email": "contactMedium",
    "first_name": "givenName",
    "last_name": "familyName",
    "middle_name": "middleName",
    "legal_name": "name",
    "legal_form": "organizationType",
}


def _as_rest(schema: type[BaseModel], values: dict[str, Any]) -> Any:
    """The REST create body (its checks: IIN/BIN check digits, phone notation, names), with a
    refusal naming the TMF attribute."""
    try:
        return new_customer(schema.model_validate(values))
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "body"
        raise field_problem(TMF_FIELD_OF.get(name, name), first["msg"]) from None


@router.post(
    f"{PARTIES}/individual",
    status_code=201,
    response_model=Individual,
    responses=TMF_PROBLEMS,
    response_model_exclude_none=True,
)
async def create_individual(
    body: TmfIndividualCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    phone, email = _contacts(body.contactMedium)
    values = {
        "kind": "individual",
        "iin": _identifier(body.individualIdentification, "IIN", "individualIdentification"),
        "first_name": body.givenName,
        "last_name": body.familyName,
        "middle_name": body.middleName,
        "phone": phone,
        "email": email,
    }
    new = _as_rest(RestIndividual, values)
    return await _create(session, principal, idempotency_key, body, response, new, individual)


@router.post(
    f"{PARTIES}/organization",
    status_code=201,
    response_model=Organization,
    responses=TMF_PROBLEMS,
    response_model_exclude_none=True,
)
async def create_organization(
    body: TmfOrganizationCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    phone, email = _contacts(body.contactMedium)
    values = {
        "kind": "business",
        "bin": _identifier(body.organizationIdentification, "BIN", "organizationIdentification"),
        "legal_name": body.name,
        "legal_form": body.organizationType,
        "phone": phone,
        "email": email,
    }
    new = _as_rest(RestBusiness, values)
    return await _create(session, principal, idempotency_key, body, response, new, organization)


customer_schemas = tmf.schema_router(CUSTOMERS, {"Customer": TmfCustomer}, "TMF629 customer / TMF632 party")
party_schemas = tmf.schema_router(
    PARTIES, {"Individual": Individual, "Organization": Organization}, "TMF629 customer / TMF632 party"
)
