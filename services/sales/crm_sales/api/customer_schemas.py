"""Request and response bodies of the customer API, and the use-case inputs they become. Field
rules come from crm_sales.domain; a broken rule is a 422 naming the field ("iin: check digit
does not match")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt
from pydantic_core import PydanticCustomError

from crm_shared.errors import field_problem
from crm_shared.identifiers import IdentifierError, parse_bin, parse_iin
from crm_shared.phones import PhoneError, normalize_phone
from crm_shared.reference import REGIONS_BY_CODE
from crm_shared.schemas import Strict

from ..domain import customers as rules
from ..services.customer_service import NewAddress, NewBusiness, NewContact, NewCustomer, NewIndividual

MAX_ADDRESSES = 10
MAX_CONTACTS = 20


def _rule(check: Callable[[str], Any], error_type: str) -> AfterValidator:
    """Runs a domain rule; its message becomes the field's error message as is."""

    def validate(value: str) -> Any:
        try:
            return check(value)
        except (IdentifierError, PhoneError, rules.ValueRuleError) as exc:
            raise PydanticCustomError(error_type, str(exc)) from None

    return AfterValidator(validate)


def _region(code: str) -> str:
    if code not in REGIONS_BY_CODE:
        raise rules.ValueRuleError("unknown region code (expected an ISO 3166-2:KZ code such as KZ-75)")
    return code


def _short_text(max_length: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        text = rules.collapse_spaces(value)
        if not text:
            raise rules.ValueRuleError("must not be empty")
        if len(text) > max_length:
            raise rules.ValueRuleError(f"must be at most {max_length} characters")
        return text

    return check


Iin = Annotated[str, Field(examples=["900515400123"]), _rule(lambda v: parse_iin(v).value, "iin")]
Bin = Annotated[str, Field(examples=["040540001234"]), _rule(lambda v: parse_bin(v).value, "bin")]
Phone = Annotated[str, Field(examples=["8 701 123 45 67"]), _rule(normalize_phone, "phone")]
PersonName = Annotated[str, _rule(rules.person_name, "person_name")]
LegalName = Annotated[str, _rule(rules.legal_name, "legal_name")]
Email = Annotated[str, Field(examples=["aigerim@example.kz"]), _rule(rules.email, "email")]
PostalCode = Annotated[str, _rule(rules.postal_code, "postal_code")]
RegionCode = Annotated[str, _rule(_region, "region_code")]
LegalForm = Annotated[str, Field(examples=["LLP", "JSC", "IE"]), _rule(_short_text(50), "legal_form")]
Language = Literal["kk", "ru", "en"]
AddressKind = Literal["registration", "service", "billing"]
PhoneLabel = Annotated[str, _rule(_short_text(32), "label")]


City = Annotated[str, _rule(_short_text(100), "city")]
Street = Annotated[str, _rule(_short_text(200), "street")]
Building = Annotated[str, _rule(_short_text(20), "building")]
Apartment = Annotated[str, _rule(_short_text(20), "apartment")]
ContactName = Annotated[str, _rule(_short_text(200), "name")]
Position = Annotated[str, _rule(_short_text(200), "position")]


def phone_filter(phone: str | None, field: str = "phone") -> str | None:
    """A phone query parameter in any Kazakhstan notation, as E.164 (422 naming ``field``)."""
    if phone is None:
        return None
    try:
        return normalize_phone(phone)
    except PhoneError as exc:
        raise field_problem(field, str(exc)) from None


class AddressIn(Strict):
    kind: AddressKind
    region_code: RegionCode | None = Field(None, description="defaults to the customer's region")
    city: City
    street: Street
    building: Building
    apartment: Apartment | None = None
    postal_code: PostalCode | None = None


class ContactIn(Strict):
    name: ContactName
    position: Position | None = None
    phone: Phone | None = None
    email: Email | None = None


class PhoneIn(Strict):
    phone: Phone
    label: PhoneLabel | None = Field(None, examples=["mobile", "home", "work"])


class _CustomerCreate(Strict):
    phone: Phone = Field(description="the primary phone; any common Kazakhstan notation, stored as E.164")
    email: Email | None = None
    language: Language = "kk"
    branch_code: str | None = Field(None, max_length=32, description="defaults to the caller's branch")
    marketing_consent: StrictBool = False
    data_processing_consent: StrictBool = Field(False, description="consent to personal-data processing (Law No. 94-V)")
    addresses: list[AddressIn] = Field(default_factory=list, max_length=MAX_ADDRESSES)


class IndividualCreate(_CustomerCreate):
    kind: Literal["individual"]
    iin: Iin
    first_name: PersonName
    last_name: PersonName
    middle_name: PersonName | None = None


class BusinessCreate(_CustomerCreate):
    kind: Literal["business"]
    bin: Bin
    legal_name: LegalName
    legal_form: LegalForm | None = None
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS)


CustomerCreate = Annotated[IndividualCreate | BusinessCreate, Field(discriminator="kind")]


class CustomerUpdate(Strict):
    """Only the fields sent are changed; null clears the optional ones (email, middle_name, legal_form)."""

    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    middle_name: PersonName | None = None
    legal_name: LegalName | None = None
    legal_form: LegalForm | None = None
    email: Email | None = None
    language: Language | None = None
    marketing_consent: StrictBool | None = None
    data_processing_consent: StrictBool | None = None
    primary_phone: Phone | None = None
    status: Literal["active", "inactive"] | None = Field(None, description="merged is set only by a merge")


class MergeRequest(Strict):
    duplicate_id: str = Field(max_length=64, description="the customer folded into this one")


def new_address(body: AddressIn) -> NewAddress:
    return NewAddress(**body.model_dump())


def new_contact(body: ContactIn) -> NewContact:
    return NewContact(**body.model_dump())


def new_customer(body: IndividualCreate | BusinessCreate) -> NewCustomer:
    fields = body.model_dump(exclude={"kind", "addresses", "contacts"})
    addresses = tuple(new_address(a) for a in body.addresses)
    if isinstance(body, IndividualCreate):
        return NewIndividual(**fields, addresses=addresses)
    return NewBusiness(**fields, addresses=addresses, contacts=tuple(new_contact(c) for c in body.contacts))


# --- responses -------------------------------------------------------------------------------


class PhoneOut(BaseModel):
    id: str
    e164: str
    label: str | None
    created_at: datetime


class ContactOut(BaseModel):
    id: str
    name: str
    position: str | None
    phone: str | None
    email: str | None
    created_at: datetime


class AddressOut(BaseModel):
    id: str
    kind: str
    region_code: str
    city: str
    street: str
    building: str
    apartment: str | None
    postal_code: str | None
    created_at: datetime


class CustomerOut(BaseModel):
    id: str
    kind: Literal["individual", "business"]
    iin: str | None = Field(description="masked (********0123) for roles that must not see identifiers")
    bin: str | None
    identifiers_masked: bool
    display_name: str
    first_name: str | None
    last_name: str | None
    middle_name: str | None
    birth_date: date | None = Field(
        description="from the IIN; null for roles that must not see identifiers (an IIN begins with it)"
    )
    birth_year: int | None = Field(None, description="the birth year, for every role that sees the customer")
    legal_name: str | None
    legal_form: str | None
    primary_phone: str | None
    phones: list[PhoneOut]
    email: str | None
    language: str
    marketing_consent: bool
    marketing_consent_at: datetime | None
    data_processing_consent: bool
    data_processing_consent_at: datetime | None
    status: Literal["active", "inactive", "merged", "erased"]
    merged_into_id: str | None
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    contacts: list[ContactOut]
    addresses: list[AddressOut]
    version: int
    created_at: datetime
    updated_at: datetime


class HistoryEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    changes: dict[str, Any] = Field(description="field -> [old, new]")
    operation_id: str | None = None
