import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntitlementSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTITLEMENT_SOURCE_UNSPECIFIED: _ClassVar[EntitlementSource]
    ENTITLEMENT_SOURCE_DEFAULT: _ClassVar[EntitlementSource]
    ENTITLEMENT_SOURCE_APP_STORE: _ClassVar[EntitlementSource]
    ENTITLEMENT_SOURCE_PLAY_STORE: _ClassVar[EntitlementSource]
    ENTITLEMENT_SOURCE_ADMIN: _ClassVar[EntitlementSource]
ENTITLEMENT_SOURCE_UNSPECIFIED: EntitlementSource
ENTITLEMENT_SOURCE_DEFAULT: EntitlementSource
ENTITLEMENT_SOURCE_APP_STORE: EntitlementSource
ENTITLEMENT_SOURCE_PLAY_STORE: EntitlementSource
ENTITLEMENT_SOURCE_ADMIN: EntitlementSource

class GetEntitlementRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEntitlementResponse(_message.Message):
    __slots__ = ("tier", "source", "expires_at", "trial_ends_at", "features", "refresh_after")
    TIER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    REFRESH_AFTER_FIELD_NUMBER: _ClassVar[int]
    tier: _access_pb2.Tier
    source: EntitlementSource
    expires_at: _timestamp_pb2.Timestamp
    trial_ends_at: _timestamp_pb2.Timestamp
    features: _containers.RepeatedScalarFieldContainer[str]
    refresh_after: _timestamp_pb2.Timestamp
    def __init__(self, tier: _Optional[_Union[_access_pb2.Tier, str]] = ..., source: _Optional[_Union[EntitlementSource, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ..., refresh_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterPurchaseRequest(_message.Message):
    __slots__ = ("purchase_token", "product_id")
    PURCHASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    purchase_token: str
    product_id: str
    def __init__(self, purchase_token: _Optional[str] = ..., product_id: _Optional[str] = ...) -> None: ...

class RegisterPurchaseResponse(_message.Message):
    __slots__ = ("entitlement",)
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    entitlement: GetEntitlementResponse
    def __init__(self, entitlement: _Optional[_Union[GetEntitlementResponse, _Mapping]] = ...) -> None: ...

class ListFeaturesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFeaturesResponse(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[_access_pb2.Feature]
    def __init__(self, features: _Optional[_Iterable[_Union[_access_pb2.Feature, _Mapping]]] = ...) -> None: ...
