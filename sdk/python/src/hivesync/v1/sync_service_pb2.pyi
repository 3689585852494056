import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import errors_pb2 as _errors_pb2
from hivesync.v1 import file_service_pb2 as _file_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EditOperation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EDIT_OPERATION_UNSPECIFIED: _ClassVar[EditOperation]
    EDIT_OPERATION_CREATE: _ClassVar[EditOperation]
    EDIT_OPERATION_SAVE: _ClassVar[EditOperation]
    EDIT_OPERATION_PATCH: _ClassVar[EditOperation]

class ReplayOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLAY_OUTCOME_UNSPECIFIED: _ClassVar[ReplayOutcome]
    REPLAY_OUTCOME_APPLIED: _ClassVar[ReplayOutcome]
    REPLAY_OUTCOME_CONFLICT: _ClassVar[ReplayOutcome]
    REPLAY_OUTCOME_REJECTED: _ClassVar[ReplayOutcome]
EDIT_OPERATION_UNSPECIFIED: EditOperation
EDIT_OPERATION_CREATE: EditOperation
EDIT_OPERATION_SAVE: EditOperation
EDIT_OPERATION_PATCH: EditOperation
REPLAY_OUTCOME_UNSPECIFIED: ReplayOutcome
REPLAY_OUTCOME_APPLIED: ReplayOutcome
REPLAY_OUTCOME_CONFLICT: ReplayOutcome
REPLAY_OUTCOME_REJECTED: ReplayOutcome

class QueuedEdit(_message.Message):
    __slots__ = ("id", "file_path", "operation", "content", "patch", "base_revision_id", "idempotency_key", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    BASE_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    file_path: str
    operation: EditOperation
    content: str
    patch: str
    base_revision_id: str
    idempotency_key: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., file_path: _Optional[str] = ..., operation: _Optional[_Union[EditOperation, str]] = ..., content: _Optional[str] = ..., patch: _Optional[str] = ..., base_revision_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReplayEditsRequest(_message.Message):
    __slots__ = ("project_id", "edits", "device_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    edits: _containers.RepeatedCompositeFieldContainer[QueuedEdit]
    device_id: str
    def __init__(self, project_id: _Optional[str] = ..., edits: _Optional[_Iterable[_Union[QueuedEdit, _Mapping]]] = ..., device_id: _Optional[str] = ...) -> None: ...

class ReplayResult(_message.Message):
    __slots__ = ("edit_id", "outcome", "file_id", "version", "conflict", "code", "reason")
    EDIT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    edit_id: str
    outcome: ReplayOutcome
    file_id: str
    version: _file_service_pb2.FileVersion
    conflict: _errors_pb2.Conflict
    code: str
    reason: str
    def __init__(self, edit_id: _Optional[str] = ..., outcome: _Optional[_Union[ReplayOutcome, str]] = ..., file_id: _Optional[str] = ..., version: _Optional[_Union[_file_service_pb2.FileVersion, _Mapping]] = ..., conflict: _Optional[_Union[_errors_pb2.Conflict, _Mapping]] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReplayEditsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ReplayResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ReplayResult, _Mapping]]] = ...) -> None: ...
