import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductLine(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_LINE_UNSPECIFIED: _ClassVar[ProductLine]
    PRODUCT_LINE_INTERNET: _ClassVar[ProductLine]
    PRODUCT_LINE_TV: _ClassVar[ProductLine]
    PRODUCT_LINE_MOBILE: _ClassVar[ProductLine]
    PRODUCT_LINE_FIXED_LINE: _ClassVar[ProductLine]
    PRODUCT_LINE_BUNDLE: _ClassVar[ProductLine]

class InstalledProductStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTALLED_PRODUCT_STATUS_UNSPECIFIED: _ClassVar[InstalledProductStatus]
    INSTALLED_PRODUCT_STATUS_ACTIVE: _ClassVar[InstalledProductStatus]
    INSTALLED_PRODUCT_STATUS_SUSPENDED: _ClassVar[InstalledProductStatus]
    INSTALLED_PRODUCT_STATUS_TERMINATED: _ClassVar[InstalledProductStatus]
PRODUCT_LINE_UNSPECIFIED: ProductLine
PRODUCT_LINE_INTERNET: ProductLine
PRODUCT_LINE_TV: ProductLine
PRODUCT_LINE_MOBILE: ProductLine
PRODUCT_LINE_FIXED_LINE: ProductLine
PRODUCT_LINE_BUNDLE: ProductLine
INSTALLED_PRODUCT_STATUS_UNSPECIFIED: InstalledProductStatus
INSTALLED_PRODUCT_STATUS_ACTIVE: InstalledProductStatus
INSTALLED_PRODUCT_STATUS_SUSPENDED: InstalledProductStatus
INSTALLED_PRODUCT_STATUS_TERMINATED: InstalledProductStatus

class InstalledProduct(_message.Message):
    __slots__ = ("id", "customer_id", "offering_id", "offering_name", "product_line", "status", "characteristics", "service_address", "branch_code", "region_code", "activated_at", "terminated_at")
    class CharacteristicsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFERING_ID_FIELD_NUMBER: _ClassVar[int]
    OFFERING_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LINE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHARACTERISTICS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BRANCH_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    offering_id: str
    offering_name: str
    product_line: ProductLine
    status: InstalledProductStatus
    characteristics: _containers.ScalarMap[str, str]
    service_address: str
    branch_code: str
    region_code: str
    activated_at: _timestamp_pb2.Timestamp
    terminated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., offering_id: _Optional[str] = ..., offering_name: _Optional[str] = ..., product_line: _Optional[_Union[ProductLine, str]] = ..., status: _Optional[_Union[InstalledProductStatus, str]] = ..., characteristics: _Optional[_Mapping[str, str]] = ..., service_address: _Optional[str] = ..., branch_code: _Optional[str] = ..., region_code: _Optional[str] = ..., activated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., terminated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListInstalledProductsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInstalledProductsResponse(_message.Message):
    __slots__ = ("installed_products", "next_page_token")
    INSTALLED_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    installed_products: _containers.RepeatedCompositeFieldContainer[InstalledProduct]
    next_page_token: str
    def __init__(self, installed_products: _Optional[_Iterable[_Union[InstalledProduct, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetInstalledProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetInstalledProductResponse(_message.Message):
    __slots__ = ("installed_product",)
    INSTALLED_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    installed_product: InstalledProduct
    def __init__(self, installed_product: _Optional[_Union[InstalledProduct, _Mapping]] = ...) -> None: ...
