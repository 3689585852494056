import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCompatibilityRequest(_message.Message):
    __slots__ = ("client_type", "client_version")
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    client_type: _access_pb2.ClientType
    client_version: int
    def __init__(self, client_type: _Optional[_Union[_access_pb2.ClientType, str]] = ..., client_version: _Optional[int] = ...) -> None: ...

class GetCompatibilityResponse(_message.Message):
    __slots__ = ("server_version", "api_versions", "current_plugin_protocol_version", "min_plugin_protocol_version", "min_client_version", "plugin_protocol_version", "upgrade_recommended", "upgrade_url", "server_time")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PLUGIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_PLUGIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_RECOMMENDED_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    api_versions: _containers.RepeatedScalarFieldContainer[str]
    current_plugin_protocol_version: int
    min_plugin_protocol_version: int
    min_client_version: int
    plugin_protocol_version: int
    upgrade_recommended: bool
    upgrade_url: str
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, server_version: _Optional[str] = ..., api_versions: _Optional[_Iterable[str]] = ..., current_plugin_protocol_version: _Optional[int] = ..., min_plugin_protocol_version: _Optional[int] = ..., min_client_version: _Optional[int] = ..., plugin_protocol_version: _Optional[int] = ..., upgrade_recommended: _Optional[bool] = ..., upgrade_url: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBootstrapConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BootstrapConfig(_message.Message):
    __slots__ = ("api_base", "ws_base", "min_client_version", "recommended_upgrade_url", "fallback_api_base", "fallback_ws_base", "config_version", "min_plugin_protocol_version", "migration")
    API_BASE_FIELD_NUMBER: _ClassVar[int]
    WS_BASE_FIELD_NUMBER: _ClassVar[int]
    MIN_CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_API_BASE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_WS_BASE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_PLUGIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_FIELD_NUMBER: _ClassVar[int]
    api_base: str
    ws_base: str
    min_client_version: int
    recommended_upgrade_url: str
    fallback_api_base: str
    fallback_ws_base: str
    config_version: int
    min_plugin_protocol_version: int
    migration: _events_pb2.MigrationNoticeEvent
    def __init__(self, api_base: _Optional[str] = ..., ws_base: _Optional[str] = ..., min_client_version: _Optional[int] = ..., recommended_upgrade_url: _Optional[str] = ..., fallback_api_base: _Optional[str] = ..., fallback_ws_base: _Optional[str] = ..., config_version: _Optional[int] = ..., min_plugin_protocol_version: _Optional[int] = ..., migration: _Optional[_Union[_events_pb2.MigrationNoticeEvent, _Mapping]] = ...) -> None: ...

class GetBootstrapConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: BootstrapConfig
    def __init__(self, config: _Optional[_Union[BootstrapConfig, _Mapping]] = ...) -> None: ...

class GetServerTimeRequest(_message.Message):
    __slots__ = ("client_time",)
    CLIENT_TIME_FIELD_NUMBER: _ClassVar[int]
    client_time: _timestamp_pb2.Timestamp
    def __init__(self, client_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetServerTimeResponse(_message.Message):
    __slots__ = ("server_time", "drift", "drift_warning_threshold")
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    DRIFT_WARNING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    server_time: _timestamp_pb2.Timestamp
    drift: _duration_pb2.Duration
    drift_warning_threshold: _duration_pb2.Duration
    def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., drift: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., drift_warning_threshold: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetEventSchemaRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EventType(_message.Message):
    __slots__ = ("spec", "payload_field", "payload_message")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    spec: _events_pb2.EventSpec
    payload_field: str
    payload_message: str
    def __init__(self, spec: _Optional[_Union[_events_pb2.EventSpec, _Mapping]] = ..., payload_field: _Optional[str] = ..., payload_message: _Optional[str] = ...) -> None: ...

class GetEventSchemaResponse(_message.Message):
    __slots__ = ("envelope_message", "event_types", "descriptors")
    ENVELOPE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    envelope_message: str
    event_types: _containers.RepeatedCompositeFieldContainer[EventType]
    descriptors: _descriptor_pb2.FileDescriptorSet
    def __init__(self, envelope_message: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[EventType, _Mapping]]] = ..., descriptors: _Optional[_Union[_descriptor_pb2.FileDescriptorSet, _Mapping]] = ...) -> None: ...
