"""crm.sales.v1.CustomerService: customer lookups for other services, with the same visibility
and masking as the REST API, applied to the caller named in the call metadata."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.auth import mask_identifier
from crm_shared.errors import Problem, field_problem
from crm_shared.grpc import current_principal
from crm_shared.identifiers import BIN_ENTITY_TYPES, IdentifierError, parse_bin, parse_iin
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.phones import PhoneError, normalize_phone

from ..access import masked_text, require_reader
from ..db.models import Customer
from ..domain.customers import CustomerKind, CustomerStatus, SearchTerms, ValueRuleError, display_name
from ..services import customer_service as service

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_BATCH = 100
KINDS = {CustomerKind.INDIVIDUAL: pb.CUSTOMER_KIND_INDIVIDUAL, CustomerKind.BUSINESS: pb.CUSTOMER_KIND_BUSINESS}
# Search answers what is in use: merged duplicates are left out (their data lives in the survivor).
SEARCHED_STATUSES = (CustomerStatus.ACTIVE, CustomerStatus.INACTIVE)
# How a customer withdraws marketing consent outside sales (WithdrawMarketingConsent).
CONSENT_CHANNELS = frozenset({"sms_stop", "email_link"})


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_message(customer: Customer, masks_identifiers: bool) -> pb.Customer:
    iin_bin = customer.tax_id or ""  # none left once the customer's data was erased
    return pb.Customer(
        id=customer.id,
        kind=KINDS.get(customer.kind, pb.CUSTOMER_KIND_UNSPECIFIED),
        display_name=display_name(
            customer.kind,
            first_name=customer.first_name,
            last_name=customer.last_name,
            middle_name=customer.middle_name,
            legal_name=customer.legal_name,
        ),
        iin_bin=(mask_identifier(iin_bin) or "") if masks_identifiers else iin_bin,
        iin_bin_masked=masks_identifiers,
        first_name=customer.first_name or "",
        last_name=customer.last_name or "",
        legal_name=customer.legal_name or "",
        phones=[p.e164 for p in customer.phones],
        primary_phone=customer.primary_phone or "",
        email=(masked_text(customer.email) if masks_identifiers else customer.email) or "",
        language=customer.language,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        owner_id=customer.owner_id,
        status=customer.status,
        merged_into_id=customer.merged_into_id or "",
        version=customer.version,
        marketing_consent=customer.marketing_consent,
        data_processing_consent=customer.data_processing_consent,
        created_at=_timestamp(customer.created_at),
        updated_at=_timestamp(customer.updated_at),
    )


def _tax_id(value: str) -> str:
    """An IIN or a BIN: the fifth digit tells them apart (4-6 only occur there in BINs)."""
    digits = value.strip()
    try:
        if len(digits) == 12 and digits[4].isdigit() and int(digits[4]) in BIN_ENTITY_TYPES:
            return parse_bin(digits).value
        return parse_iin(digits).value
    except IdentifierError as exc:
        raise field_problem("query.iin_bin", str(exc)) from None


def search_query(request: pb.SearchCustomersRequest) -> service.CustomerQuery:
    criterion = request.WhichOneof("query")
    if criterion is None:
        raise field_problem("query", "exactly one of text, phone, iin_bin or name_prefix is required")
    if criterion == "phone":
        try:
            return service.CustomerQuery(phone=normalize_phone(request.phone), statuses=SEARCHED_STATUSES)
        except PhoneError as exc:
            raise field_problem("query.phone", str(exc)) from None
    if criterion == "iin_bin":
        return service.CustomerQuery(tax_id=_tax_id(request.iin_bin), statuses=SEARCHED_STATUSES)
    # text, and name_prefix (deprecated) with it: the REST list's q, the same search
    text = request.text if criterion == "text" else request.name_prefix
    try:
        terms = SearchTerms(text)
    except ValueRuleError as exc:
        raise field_problem(f"query.{criterion}", str(exc)) from None
    return service.CustomerQuery(
        phone=terms.phone, tax_id=terms.tax_id, email=terms.email, words=terms.words, statuses=SEARCHED_STATUSES
    )


def _page_size(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise field_problem(
            "page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 for the default {DEFAULT_PAGE_SIZE})"
        )
    return requested


def _after(page_token: str) -> tuple[str, str] | None:
    if not page_token:
        return None
    try:
        values = decode_cursor(page_token)
    except Problem:
        values = None
    if not values or len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise field_problem("page_token", "malformed; pass next_page_token of the previous response unchanged")
    return values[0], values[1]


class CustomerServicer(pb_grpc.CustomerServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def GetCustomer(self, request: pb.GetCustomerRequest, context) -> pb.GetCustomerResponse:
        principal = current_principal()
        if not request.id:
            raise field_problem("id", "required")
        async with self.runtime.db.read_only() as session:
            customer = await service.get_visible_customer(session, principal, request.id)
            return pb.GetCustomerResponse(customer=to_message(customer, principal.masks_identifiers))

    async def BatchGetCustomers(self, request: pb.BatchGetCustomersRequest, context) -> pb.BatchGetCustomersResponse:
        principal = current_principal()
        require_reader(principal)
        ids = list(dict.fromkeys(request.ids))
        if len(ids) > MAX_BATCH:
            raise field_problem("ids", f"at most {MAX_BATCH} ids per call (got {len(ids)})")
        async with self.runtime.db.read_only() as session:
            found = await service.visible_customers(session, principal, ids)
            return pb.BatchGetCustomersResponse(
                customers=[to_message(found[i], principal.masks_identifiers) for i in ids if i in found],
                not_found_ids=[i for i in ids if i not in found],
            )

    async def SearchCustomers(self, request: pb.SearchCustomersRequest, context) -> pb.SearchCustomersResponse:
        principal = current_principal()
        require_reader(principal)
        query = search_query(request)
        limit = _page_size(request.page_size)
        after = _after(request.page_token)
        if query.tax_id and principal.masks_identifiers:
            # Audited and held to the caller's budget of look-ups by IIN/BIN, as over REST.
            customers, last = await service.audited_identifier_search(
                self.runtime.db,
                principal,
                query,
                limit=limit,
                after=after,
                field="bin" if len(query.tax_id) == 12 and int(query.tax_id[4]) in BIN_ENTITY_TYPES else "iin",
                budget=self.runtime.settings.identifier_lookups_per_minute,
                via="grpc",
            )
            return pb.SearchCustomersResponse(
                customers=[to_message(c, True) for c in customers],
                next_page_token=encode_cursor(list(last)) if last else "",
            )
        async with self.runtime.db.read_only() as session:
            customers, last = await service.search_customers(session, principal, query, limit=limit, after=after)
            return pb.SearchCustomersResponse(
                customers=[to_message(c, principal.masks_identifiers) for c in customers],
                next_page_token=encode_cursor(list(last)) if last else "",
            )

    async def WithdrawMarketingConsent(
        self, request: pb.WithdrawMarketingConsentRequest, context
    ) -> pb.WithdrawMarketingConsentResponse:
        principal = current_principal()
        if not request.customer_id:
            raise field_problem("customer_id", "required")
        if request.channel not in CONSENT_CHANNELS:
            raise field_problem("channel", f"one of {', '.join(sorted(CONSENT_CHANNELS))}")
        async with self.runtime.db.unit_of_work() as session:
            customer, changed = await service.withdraw_marketing_consent(session, principal, request.customer_id)
            return pb.WithdrawMarketingConsentResponse(
                customer_id=customer.id, changed=changed, version=customer.version
            )


def register(server, runtime: ServiceRuntime) -> list[str]:
    """Adds crm.sales.v1.CustomerService to ``server``; returns the names of the services added."""
    pb_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["CustomerService"].full_name]
