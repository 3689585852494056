from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_ADMIN: _ClassVar[Scope]
    SCOPE_USER: _ClassVar[Scope]
    SCOPE_PLUGIN: _ClassVar[Scope]
    SCOPE_PREVIEW: _ClassVar[Scope]
    SCOPE_READ: _ClassVar[Scope]
    SCOPE_WRITE: _ClassVar[Scope]
    SCOPE_LIVE: _ClassVar[Scope]

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_FREE: _ClassVar[Tier]
    TIER_TRIAL: _ClassVar[Tier]
    TIER_PRO: _ClassVar[Tier]

class ClientType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_TYPE_UNSPECIFIED: _ClassVar[ClientType]
    CLIENT_TYPE_MOBILE: _ClassVar[ClientType]
    CLIENT_TYPE_DESKTOP: _ClassVar[ClientType]
    CLIENT_TYPE_VSCODE: _ClassVar[ClientType]
    CLIENT_TYPE_JETBRAINS: _ClassVar[ClientType]
    CLIENT_TYPE_SUBLIME: _ClassVar[ClientType]
    CLIENT_TYPE_NEOVIM: _ClassVar[ClientType]
    CLIENT_TYPE_CLI: _ClassVar[ClientType]
    CLIENT_TYPE_ADMIN: _ClassVar[ClientType]
SCOPE_UNSPECIFIED: Scope
SCOPE_ADMIN: Scope
SCOPE_USER: Scope
SCOPE_PLUGIN: Scope
SCOPE_PREVIEW: Scope
SCOPE_READ: Scope
SCOPE_WRITE: Scope
SCOPE_LIVE: Scope
TIER_UNSPECIFIED: Tier
TIER_FREE: Tier
TIER_TRIAL: Tier
TIER_PRO: Tier
CLIENT_TYPE_UNSPECIFIED: ClientType
CLIENT_TYPE_MOBILE: ClientType
CLIENT_TYPE_DESKTOP: ClientType
CLIENT_TYPE_VSCODE: ClientType
CLIENT_TYPE_JETBRAINS: ClientType
CLIENT_TYPE_SUBLIME: ClientType
CLIENT_TYPE_NEOVIM: ClientType
CLIENT_TYPE_CLI: ClientType
CLIENT_TYPE_ADMIN: ClientType
FEATURE_MATRIX_FIELD_NUMBER: _ClassVar[int]
feature_matrix: _descriptor.FieldDescriptor
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor

class AccessRule(_message.Message):
    __slots__ = ("public", "scopes", "feature", "min_tier", "client_types", "skip_version_check", "rate_limit", "requires_second_factor")
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    MIN_TIER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    SKIP_VERSION_CHECK_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_SECOND_FACTOR_FIELD_NUMBER: _ClassVar[int]
    public: bool
    scopes: _containers.RepeatedScalarFieldContainer[Scope]
    feature: str
    min_tier: Tier
    client_types: _containers.RepeatedScalarFieldContainer[ClientType]
    skip_version_check: bool
    rate_limit: str
    requires_second_factor: bool
    def __init__(self, public: _Optional[bool] = ..., scopes: _Optional[_Iterable[_Union[Scope, str]]] = ..., feature: _Optional[str] = ..., min_tier: _Optional[_Union[Tier, str]] = ..., client_types: _Optional[_Iterable[_Union[ClientType, str]]] = ..., skip_version_check: _Optional[bool] = ..., rate_limit: _Optional[str] = ..., requires_second_factor: _Optional[bool] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "title", "min_tier", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    MIN_TIER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    min_tier: Tier
    description: str
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., min_tier: _Optional[_Union[Tier, str]] = ..., description: _Optional[str] = ...) -> None: ...

class FeatureMatrix(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    def __init__(self, features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ...) -> None: ...
