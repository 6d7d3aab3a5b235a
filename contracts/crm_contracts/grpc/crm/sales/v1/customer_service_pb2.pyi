import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMER_KIND_UNSPECIFIED: _ClassVar[CustomerKind]
    CUSTOMER_KIND_INDIVIDUAL: _ClassVar[CustomerKind]
    CUSTOMER_KIND_BUSINESS: _ClassVar[CustomerKind]
CUSTOMER_KIND_UNSPECIFIED: CustomerKind
CUSTOMER_KIND_INDIVIDUAL: CustomerKind
CUSTOMER_KIND_BUSINESS: CustomerKind

class Customer(_message.Message):
    __slots__ = ("id", "kind", "display_name", "iin_bin", "iin_bin_masked", "first_name", "last_name", "legal_name", "phones", "primary_phone", "email", "language", "branch_code", "region_code", "owner_id", "status", "version", "marketing_consent", "data_processing_consent", "created_at", "updated_at", "merged_into_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IIN_BIN_FIELD_NUMBER: _ClassVar[int]
    IIN_BIN_MASKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MARKETING_CONSENT_FIELD_NUMBER: _ClassVar[int]
    DATA_PROCESSING_CONSENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: CustomerKind
    display_name: str
    iin_bin: str
    iin_bin_masked: bool
    first_name: str
    last_name: str
    legal_name: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    primary_phone: str
    email: str
    language: str
    branch_code: str
    region_code: str
    owner_id: str
    status: str
    version: int
    marketing_consent: bool
    data_processing_consent: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    merged_into_id: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[CustomerKind, str]] = ..., display_name: _Optional[str] = ..., iin_bin: _Optional[str] = ..., iin_bin_masked: _Optional[bool] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., legal_name: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., primary_phone: _Optional[str] = ..., email: _Optional[str] = ..., language: _Optional[str] = ..., branch_code: _Optional[str] = ..., region_code: _Optional[str] = ..., owner_id: _Optional[str] = ..., status: _Optional[str] = ..., version: _Optional[int] = ..., marketing_consent: _Optional[bool] = ..., data_processing_consent: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., merged_into_id: _Optional[str] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class BatchGetCustomersRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetCustomersResponse(_message.Message):
    __slots__ = ("customers", "not_found_ids")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_IDS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    not_found_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., not_found_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchCustomersRequest(_message.Message):
    __slots__ = ("phone", "iin_bin", "name_prefix", "text", "page_size", "page_token")
    PHONE_FIELD_NUMBER: _ClassVar[int]
    IIN_BIN_FIELD_NUMBER: _ClassVar[int]
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    phone: str
    iin_bin: str
    name_prefix: str
    text: str
    page_size: int
    page_token: str
    def __init__(self, phone: _Optional[str] = ..., iin_bin: _Optional[str] = ..., name_prefix: _Optional[str] = ..., text: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchCustomersResponse(_message.Message):
    __slots__ = ("customers", "next_page_token")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    next_page_token: str
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WithdrawMarketingConsentRequest(_message.Message):
    __slots__ = ("customer_id", "channel")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    channel: str
    def __init__(self, customer_id: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class WithdrawMarketingConsentResponse(_message.Message):
    __slots__ = ("customer_id", "changed", "version")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    changed: bool
    version: int
    def __init__(self, customer_id: _Optional[str] = ..., changed: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...
