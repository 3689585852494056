from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HistoryEntry(_message.Message):
    __slots__ = ("event", "summary")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Event
    summary: str
    def __init__(self, event: _Optional[_Union[_events_pb2.Event, _Mapping]] = ..., summary: _Optional[str] = ...) -> None: ...

class ListHistoryRequest(_message.Message):
    __slots__ = ("project_id", "page_size", "page_token", "event_types", "oldest_first")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    OLDEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    page_size: int
    page_token: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    oldest_first: bool
    def __init__(self, project_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., oldest_first: _Optional[bool] = ...) -> None: ...

class ListHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportHistoryRequest(_message.Message):
    __slots__ = ("project_id", "format")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    format: str
    def __init__(self, project_id: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class PurgeProjectRequest(_message.Message):
    __slots__ = ("project_id", "confirm_name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    confirm_name: str
    def __init__(self, project_id: _Optional[str] = ..., confirm_name: _Optional[str] = ...) -> None: ...

class PurgeProjectResponse(_message.Message):
    __slots__ = ("files", "versions", "history_entries")
    FILES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    files: int
    versions: int
    history_entries: int
    def __init__(self, files: _Optional[int] = ..., versions: _Optional[int] = ..., history_entries: _Optional[int] = ...) -> None: ...
