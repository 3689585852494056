import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Limit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIMIT_UNSPECIFIED: _ClassVar[Limit]
    LIMIT_REQUEST_SIZE: _ClassVar[Limit]
    LIMIT_SINGLE_FILE_SIZE: _ClassVar[Limit]
    LIMIT_PROJECT_STORAGE: _ClassVar[Limit]
    LIMIT_LIVE_VIEWERS: _ClassVar[Limit]
    LIMIT_AI_DAILY_REQUESTS: _ClassVar[Limit]
    LIMIT_AI_DAILY_TOKENS: _ClassVar[Limit]
LIMIT_UNSPECIFIED: Limit
LIMIT_REQUEST_SIZE: Limit
LIMIT_SINGLE_FILE_SIZE: Limit
LIMIT_PROJECT_STORAGE: Limit
LIMIT_LIVE_VIEWERS: Limit
LIMIT_AI_DAILY_REQUESTS: Limit
LIMIT_AI_DAILY_TOKENS: Limit

class Conflict(_message.Message):
    __slots__ = ("file_id", "path", "base_revision_id", "head_revision_id", "head_revision", "head_content_sha256", "client_content_sha256", "unified_diff")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BASE_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_FIELD_NUMBER: _ClassVar[int]
    HEAD_CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_DIFF_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    path: str
    base_revision_id: str
    head_revision_id: str
    head_revision: int
    head_content_sha256: str
    client_content_sha256: str
    unified_diff: str
    def __init__(self, file_id: _Optional[str] = ..., path: _Optional[str] = ..., base_revision_id: _Optional[str] = ..., head_revision_id: _Optional[str] = ..., head_revision: _Optional[int] = ..., head_content_sha256: _Optional[str] = ..., client_content_sha256: _Optional[str] = ..., unified_diff: _Optional[str] = ...) -> None: ...

class UpgradeRequired(_message.Message):
    __slots__ = ("reason", "client_version", "min_supported_version", "current_version", "upgrade_url", "message")
    class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REASON_UNSPECIFIED: _ClassVar[UpgradeRequired.Reason]
        REASON_PLUGIN_PROTOCOL_TOO_OLD: _ClassVar[UpgradeRequired.Reason]
        REASON_CLIENT_TOO_OLD: _ClassVar[UpgradeRequired.Reason]
    REASON_UNSPECIFIED: UpgradeRequired.Reason
    REASON_PLUGIN_PROTOCOL_TOO_OLD: UpgradeRequired.Reason
    REASON_CLIENT_TOO_OLD: UpgradeRequired.Reason
    REASON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_SUPPORTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: UpgradeRequired.Reason
    client_version: int
    min_supported_version: int
    current_version: int
    upgrade_url: str
    message: str
    def __init__(self, reason: _Optional[_Union[UpgradeRequired.Reason, str]] = ..., client_version: _Optional[int] = ..., min_supported_version: _Optional[int] = ..., current_version: _Optional[int] = ..., upgrade_url: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class EntitlementRequired(_message.Message):
    __slots__ = ("feature", "required_tier", "current_tier", "message", "upgrade_deep_link")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TIER_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TIER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_DEEP_LINK_FIELD_NUMBER: _ClassVar[int]
    feature: str
    required_tier: _access_pb2.Tier
    current_tier: _access_pb2.Tier
    message: str
    upgrade_deep_link: str
    def __init__(self, feature: _Optional[str] = ..., required_tier: _Optional[_Union[_access_pb2.Tier, str]] = ..., current_tier: _Optional[_Union[_access_pb2.Tier, str]] = ..., message: _Optional[str] = ..., upgrade_deep_link: _Optional[str] = ...) -> None: ...

class LimitExceeded(_message.Message):
    __slots__ = ("limit", "max", "actual", "message")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    limit: Limit
    max: int
    actual: int
    message: str
    def __init__(self, limit: _Optional[_Union[Limit, str]] = ..., max: _Optional[int] = ..., actual: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class RateLimited(_message.Message):
    __slots__ = ("retry_after", "bucket")
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    retry_after: _duration_pb2.Duration
    bucket: str
    def __init__(self, retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., bucket: _Optional[str] = ...) -> None: ...

class SecondFactorRequired(_message.Message):
    __slots__ = ("enrolled", "header", "message")
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    enrolled: bool
    header: str
    message: str
    def __init__(self, enrolled: _Optional[bool] = ..., header: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
