import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LiveSession(_message.Message):
    __slots__ = ("id", "channel", "project_id", "file_id", "creator_user_id", "started_at", "viewers")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    VIEWERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    channel: str
    project_id: str
    file_id: str
    creator_user_id: str
    started_at: _timestamp_pb2.Timestamp
    viewers: int
    def __init__(self, id: _Optional[str] = ..., channel: _Optional[str] = ..., project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., creator_user_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., viewers: _Optional[int] = ...) -> None: ...

class CreateLiveInviteRequest(_message.Message):
    __slots__ = ("project_id", "file_id", "invitee_email", "invitee_phone")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    INVITEE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    INVITEE_PHONE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_id: str
    invitee_email: str
    invitee_phone: str
    def __init__(self, project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., invitee_email: _Optional[str] = ..., invitee_phone: _Optional[str] = ...) -> None: ...

class CreateLiveInviteResponse(_message.Message):
    __slots__ = ("session", "token", "qr_payload", "expires_at", "invitee_user_id")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    QR_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    INVITEE_USER_ID_FIELD_NUMBER: _ClassVar[int]
    session: LiveSession
    token: str
    qr_payload: str
    expires_at: _timestamp_pb2.Timestamp
    invitee_user_id: str
    def __init__(self, session: _Optional[_Union[LiveSession, _Mapping]] = ..., token: _Optional[str] = ..., qr_payload: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., invitee_user_id: _Optional[str] = ...) -> None: ...

class JoinLiveRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class JoinLiveResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: LiveSession
    def __init__(self, session: _Optional[_Union[LiveSession, _Mapping]] = ...) -> None: ...

class EndLiveRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class EndLiveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
