import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import file_service_pb2 as _file_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SnapshotSkipReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_SKIP_REASON_UNSPECIFIED: _ClassVar[SnapshotSkipReason]
    SNAPSHOT_SKIP_REASON_PATH_TAKEN: _ClassVar[SnapshotSkipReason]
    SNAPSHOT_SKIP_REASON_FILE_GONE: _ClassVar[SnapshotSkipReason]
    SNAPSHOT_SKIP_REASON_PATH_INVALID: _ClassVar[SnapshotSkipReason]

class SnapshotChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_CHANGE_UNSPECIFIED: _ClassVar[SnapshotChange]
    SNAPSHOT_CHANGE_MODIFIED: _ClassVar[SnapshotChange]
    SNAPSHOT_CHANGE_ADDED: _ClassVar[SnapshotChange]
    SNAPSHOT_CHANGE_REMOVED: _ClassVar[SnapshotChange]
    SNAPSHOT_CHANGE_MOVED: _ClassVar[SnapshotChange]
SNAPSHOT_SKIP_REASON_UNSPECIFIED: SnapshotSkipReason
SNAPSHOT_SKIP_REASON_PATH_TAKEN: SnapshotSkipReason
SNAPSHOT_SKIP_REASON_FILE_GONE: SnapshotSkipReason
SNAPSHOT_SKIP_REASON_PATH_INVALID: SnapshotSkipReason
SNAPSHOT_CHANGE_UNSPECIFIED: SnapshotChange
SNAPSHOT_CHANGE_MODIFIED: SnapshotChange
SNAPSHOT_CHANGE_ADDED: SnapshotChange
SNAPSHOT_CHANGE_REMOVED: SnapshotChange
SNAPSHOT_CHANGE_MOVED: SnapshotChange

class Snapshot(_message.Message):
    __slots__ = ("id", "project_id", "label", "file_count", "created_by_user_id", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    label: str
    file_count: int
    created_by_user_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., label: _Optional[str] = ..., file_count: _Optional[int] = ..., created_by_user_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SnapshotFile(_message.Message):
    __slots__ = ("file_id", "path", "version")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    path: str
    version: _file_service_pb2.FileVersion
    def __init__(self, file_id: _Optional[str] = ..., path: _Optional[str] = ..., version: _Optional[_Union[_file_service_pb2.FileVersion, _Mapping]] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ("project_id", "label")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    label: str
    def __init__(self, project_id: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class CreateSnapshotResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("project_id", "page_size", "page_token")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    page_size: int
    page_token: str
    def __init__(self, project_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots", "next_page_token")
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    next_page_token: str
    def __init__(self, snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("snapshot_id",)
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    def __init__(self, snapshot_id: _Optional[str] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("snapshot", "files")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    files: _containers.RepeatedCompositeFieldContainer[SnapshotFile]
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., files: _Optional[_Iterable[_Union[SnapshotFile, _Mapping]]] = ...) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ("snapshot_id",)
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    def __init__(self, snapshot_id: _Optional[str] = ...) -> None: ...

class RestoreSnapshotResponse(_message.Message):
    __slots__ = ("restored", "unchanged", "skipped", "moved", "undeleted_file_ids")
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    UNDELETED_FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    restored: _containers.RepeatedCompositeFieldContainer[SnapshotFile]
    unchanged: int
    skipped: _containers.RepeatedCompositeFieldContainer[SnapshotSkippedFile]
    moved: _containers.RepeatedCompositeFieldContainer[SnapshotMovedFile]
    undeleted_file_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, restored: _Optional[_Iterable[_Union[SnapshotFile, _Mapping]]] = ..., unchanged: _Optional[int] = ..., skipped: _Optional[_Iterable[_Union[SnapshotSkippedFile, _Mapping]]] = ..., moved: _Optional[_Iterable[_Union[SnapshotMovedFile, _Mapping]]] = ..., undeleted_file_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SnapshotSkippedFile(_message.Message):
    __slots__ = ("file_id", "snapshot_path", "reason", "current_path", "deleted", "taken_by_file_id")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PATH_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    TAKEN_BY_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    snapshot_path: str
    reason: SnapshotSkipReason
    current_path: str
    deleted: bool
    taken_by_file_id: str
    def __init__(self, file_id: _Optional[str] = ..., snapshot_path: _Optional[str] = ..., reason: _Optional[_Union[SnapshotSkipReason, str]] = ..., current_path: _Optional[str] = ..., deleted: _Optional[bool] = ..., taken_by_file_id: _Optional[str] = ...) -> None: ...

class SnapshotMovedFile(_message.Message):
    __slots__ = ("file_id", "previous_path", "path")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PATH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    previous_path: str
    path: str
    def __init__(self, file_id: _Optional[str] = ..., previous_path: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class DiffSnapshotRequest(_message.Message):
    __slots__ = ("snapshot_id",)
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    def __init__(self, snapshot_id: _Optional[str] = ...) -> None: ...

class SnapshotFileDiff(_message.Message):
    __slots__ = ("file_id", "change", "snapshot_path", "current_path", "snapshot_revision_id", "current_revision_id")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_PATH_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PATH_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    change: SnapshotChange
    snapshot_path: str
    current_path: str
    snapshot_revision_id: str
    current_revision_id: str
    def __init__(self, file_id: _Optional[str] = ..., change: _Optional[_Union[SnapshotChange, str]] = ..., snapshot_path: _Optional[str] = ..., current_path: _Optional[str] = ..., snapshot_revision_id: _Optional[str] = ..., current_revision_id: _Optional[str] = ...) -> None: ...

class DiffSnapshotResponse(_message.Message):
    __slots__ = ("files", "unchanged")
    FILES_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[SnapshotFileDiff]
    unchanged: int
    def __init__(self, files: _Optional[_Iterable[_Union[SnapshotFileDiff, _Mapping]]] = ..., unchanged: _Optional[int] = ...) -> None: ...
