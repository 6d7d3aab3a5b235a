from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoyaltyAccount(_message.Message):
    __slots__ = ("customer_id", "card_number", "tier", "points")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    card_number: str
    tier: str
    points: int
    def __init__(self, customer_id: _Optional[str] = ..., card_number: _Optional[str] = ..., tier: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: LoyaltyAccount
    def __init__(self, account: _Optional[_Union[LoyaltyAccount, _Mapping]] = ...) -> None: ...
