import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignInKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGN_IN_KIND_UNSPECIFIED: _ClassVar[SignInKind]
    SIGN_IN_KIND_DEVICE: _ClassVar[SignInKind]
    SIGN_IN_KIND_BROWSER: _ClassVar[SignInKind]
SIGN_IN_KIND_UNSPECIFIED: SignInKind
SIGN_IN_KIND_DEVICE: SignInKind
SIGN_IN_KIND_BROWSER: SignInKind

class SignInWithIdTokenRequest(_message.Message):
    __slots__ = ("provider", "id_token", "nonce", "display_name")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ID_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    provider: str
    id_token: str
    nonce: str
    display_name: str
    def __init__(self, provider: _Optional[str] = ..., id_token: _Optional[str] = ..., nonce: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class SignInWithIdTokenResponse(_message.Message):
    __slots__ = ("access_token", "refresh_token", "token_type", "expires_in", "scope", "user", "new_user")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    NEW_USER_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    scope: str
    user: _identity_pb2.User
    new_user: bool
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_in: _Optional[int] = ..., scope: _Optional[str] = ..., user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ..., new_user: _Optional[bool] = ...) -> None: ...

class ListIdentityProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IdentityProvider(_message.Message):
    __slots__ = ("name", "issuer", "client_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    issuer: str
    client_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., issuer: _Optional[str] = ..., client_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListIdentityProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[IdentityProvider]
    def __init__(self, providers: _Optional[_Iterable[_Union[IdentityProvider, _Mapping]]] = ...) -> None: ...

class DescribeDeviceCodeRequest(_message.Message):
    __slots__ = ("user_code",)
    USER_CODE_FIELD_NUMBER: _ClassVar[int]
    user_code: str
    def __init__(self, user_code: _Optional[str] = ...) -> None: ...

class DescribeDeviceCodeResponse(_message.Message):
    __slots__ = ("client_id", "client_type", "scopes", "kind", "expires_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client_type: _access_pb2.ClientType
    scopes: _containers.RepeatedScalarFieldContainer[_access_pb2.Scope]
    kind: SignInKind
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., client_type: _Optional[_Union[_access_pb2.ClientType, str]] = ..., scopes: _Optional[_Iterable[_Union[_access_pb2.Scope, str]]] = ..., kind: _Optional[_Union[SignInKind, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApproveDeviceCodeRequest(_message.Message):
    __slots__ = ("user_code", "approve")
    USER_CODE_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    user_code: str
    approve: bool
    def __init__(self, user_code: _Optional[str] = ..., approve: _Optional[bool] = ...) -> None: ...

class ApproveDeviceCodeResponse(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class EnrollTotpRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnrollTotpResponse(_message.Message):
    __slots__ = ("secret", "otpauth_uri", "recovery_codes")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    OTPAUTH_URI_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_CODES_FIELD_NUMBER: _ClassVar[int]
    secret: str
    otpauth_uri: str
    recovery_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, secret: _Optional[str] = ..., otpauth_uri: _Optional[str] = ..., recovery_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfirmTotpRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class ConfirmTotpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableTotpRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableTotpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCurrentUserRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCurrentUserResponse(_message.Message):
    __slots__ = ("user", "session", "tier", "totp_enabled")
    USER_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TOTP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    user: _identity_pb2.User
    session: _identity_pb2.Session
    tier: _access_pb2.Tier
    totp_enabled: bool
    def __init__(self, user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ..., session: _Optional[_Union[_identity_pb2.Session, _Mapping]] = ..., tier: _Optional[_Union[_access_pb2.Tier, str]] = ..., totp_enabled: _Optional[bool] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_identity_pb2.Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[_identity_pb2.Session, _Mapping]]] = ...) -> None: ...

class RevokeSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class RevokeSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
