import datetime

from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import errors_pb2 as _errors_pb2
from hivesync.v1 import project_service_pb2 as _project_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_DIRECTION_UNSPECIFIED: _ClassVar[EventDirection]
    EVENT_DIRECTION_CLIENT_TO_SERVER: _ClassVar[EventDirection]
    EVENT_DIRECTION_SERVER_TO_CLIENT: _ClassVar[EventDirection]
    EVENT_DIRECTION_BOTH: _ClassVar[EventDirection]

class WsCloseCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WS_CLOSE_CODE_UNSPECIFIED: _ClassVar[WsCloseCode]
    WS_CLOSE_CODE_BAD_FRAMES: _ClassVar[WsCloseCode]
    WS_CLOSE_CODE_UNAUTHENTICATED: _ClassVar[WsCloseCode]
    WS_CLOSE_CODE_REVOKED: _ClassVar[WsCloseCode]
    WS_CLOSE_CODE_SLOW_CONSUMER: _ClassVar[WsCloseCode]
    WS_CLOSE_CODE_UPGRADE_REQUIRED: _ClassVar[WsCloseCode]

class VersionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_STATE_UNSPECIFIED: _ClassVar[VersionState]
    VERSION_STATE_CREATED: _ClassVar[VersionState]
    VERSION_STATE_MOVED: _ClassVar[VersionState]
    VERSION_STATE_DELETED: _ClassVar[VersionState]
    VERSION_STATE_RESTORED: _ClassVar[VersionState]
    VERSION_STATE_SNAPSHOT_RESTORED: _ClassVar[VersionState]

class MemberChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_CHANGE_UNSPECIFIED: _ClassVar[MemberChange]
    MEMBER_CHANGE_JOINED: _ClassVar[MemberChange]
    MEMBER_CHANGE_ROLE_CHANGED: _ClassVar[MemberChange]
    MEMBER_CHANGE_REMOVED: _ClassVar[MemberChange]

class PreviewState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREVIEW_STATE_UNSPECIFIED: _ClassVar[PreviewState]
    PREVIEW_STATE_QUEUED: _ClassVar[PreviewState]
    PREVIEW_STATE_BUILDING: _ClassVar[PreviewState]
    PREVIEW_STATE_READY: _ClassVar[PreviewState]
    PREVIEW_STATE_FAILED: _ClassVar[PreviewState]

class AdminMessageLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADMIN_MESSAGE_LEVEL_UNSPECIFIED: _ClassVar[AdminMessageLevel]
    ADMIN_MESSAGE_LEVEL_INFO: _ClassVar[AdminMessageLevel]
    ADMIN_MESSAGE_LEVEL_WARNING: _ClassVar[AdminMessageLevel]
    ADMIN_MESSAGE_LEVEL_CRITICAL: _ClassVar[AdminMessageLevel]
EVENT_DIRECTION_UNSPECIFIED: EventDirection
EVENT_DIRECTION_CLIENT_TO_SERVER: EventDirection
EVENT_DIRECTION_SERVER_TO_CLIENT: EventDirection
EVENT_DIRECTION_BOTH: EventDirection
WS_CLOSE_CODE_UNSPECIFIED: WsCloseCode
WS_CLOSE_CODE_BAD_FRAMES: WsCloseCode
WS_CLOSE_CODE_UNAUTHENTICATED: WsCloseCode
WS_CLOSE_CODE_REVOKED: WsCloseCode
WS_CLOSE_CODE_SLOW_CONSUMER: WsCloseCode
WS_CLOSE_CODE_UPGRADE_REQUIRED: WsCloseCode
VERSION_STATE_UNSPECIFIED: VersionState
VERSION_STATE_CREATED: VersionState
VERSION_STATE_MOVED: VersionState
VERSION_STATE_DELETED: VersionState
VERSION_STATE_RESTORED: VersionState
VERSION_STATE_SNAPSHOT_RESTORED: VersionState
MEMBER_CHANGE_UNSPECIFIED: MemberChange
MEMBER_CHANGE_JOINED: MemberChange
MEMBER_CHANGE_ROLE_CHANGED: MemberChange
MEMBER_CHANGE_REMOVED: MemberChange
PREVIEW_STATE_UNSPECIFIED: PreviewState
PREVIEW_STATE_QUEUED: PreviewState
PREVIEW_STATE_BUILDING: PreviewState
PREVIEW_STATE_READY: PreviewState
PREVIEW_STATE_FAILED: PreviewState
ADMIN_MESSAGE_LEVEL_UNSPECIFIED: AdminMessageLevel
ADMIN_MESSAGE_LEVEL_INFO: AdminMessageLevel
ADMIN_MESSAGE_LEVEL_WARNING: AdminMessageLevel
ADMIN_MESSAGE_LEVEL_CRITICAL: AdminMessageLevel
EVENT_FIELD_NUMBER: _ClassVar[int]
event: _descriptor.FieldDescriptor

class EventSpec(_message.Message):
    __slots__ = ("event_type", "direction", "channels", "summary")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    direction: EventDirection
    channels: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    def __init__(self, event_type: _Optional[str] = ..., direction: _Optional[_Union[EventDirection, str]] = ..., channels: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "event_type", "channel", "sequence", "server_time", "auth", "device_register", "subscribe", "unsubscribe", "ack", "heartbeat", "ready", "rehydrate", "error", "save_file", "version_state", "lock_changed", "save_conflict", "snapshot_created", "snapshot_restored", "member_changed", "project_purged", "rollback_notice", "preview_request", "preview_available", "diff_update", "live_preview_toggle", "build_result", "preview_status", "preview_failed", "live_text", "live_overlay", "live_ended", "task_created", "task_updated", "task_claimed", "task_approved", "task_denied", "task_comment_added", "entitlement_updated", "notification", "admin_message", "migration_notice")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DEVICE_REGISTER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    REHYDRATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SAVE_FILE_FIELD_NUMBER: _ClassVar[int]
    VERSION_STATE_FIELD_NUMBER: _ClassVar[int]
    LOCK_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SAVE_CONFLICT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_CREATED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_RESTORED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_PURGED_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_NOTICE_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DIFF_UPDATE_FIELD_NUMBER: _ClassVar[int]
    LIVE_PREVIEW_TOGGLE_FIELD_NUMBER: _ClassVar[int]
    BUILD_RESULT_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FAILED_FIELD_NUMBER: _ClassVar[int]
    LIVE_TEXT_FIELD_NUMBER: _ClassVar[int]
    LIVE_OVERLAY_FIELD_NUMBER: _ClassVar[int]
    LIVE_ENDED_FIELD_NUMBER: _ClassVar[int]
    TASK_CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_UPDATED_FIELD_NUMBER: _ClassVar[int]
    TASK_CLAIMED_FIELD_NUMBER: _ClassVar[int]
    TASK_APPROVED_FIELD_NUMBER: _ClassVar[int]
    TASK_DENIED_FIELD_NUMBER: _ClassVar[int]
    TASK_COMMENT_ADDED_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    ADMIN_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_NOTICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_type: str
    channel: str
    sequence: int
    server_time: _timestamp_pb2.Timestamp
    auth: AuthEvent
    device_register: DeviceRegisterEvent
    subscribe: SubscribeEvent
    unsubscribe: UnsubscribeEvent
    ack: AckEvent
    heartbeat: HeartbeatEvent
    ready: ReadyEvent
    rehydrate: RehydrateEvent
    error: ErrorEvent
    save_file: SaveFileEvent
    version_state: VersionStateEvent
    lock_changed: LockChangedEvent
    save_conflict: SaveConflictEvent
    snapshot_created: SnapshotEvent
    snapshot_restored: SnapshotEvent
    member_changed: MemberChangedEvent
    project_purged: ProjectPurgedEvent
    rollback_notice: RollbackNoticeEvent
    preview_request: PreviewRequestEvent
    preview_available: PreviewAvailableEvent
    diff_update: DiffUpdateEvent
    live_preview_toggle: LivePreviewToggleEvent
    build_result: BuildResultEvent
    preview_status: PreviewStatusEvent
    preview_failed: PreviewFailedEvent
    live_text: LiveTextEvent
    live_overlay: LiveOverlayEvent
    live_ended: LiveEndedEvent
    task_created: TaskChangedEvent
    task_updated: TaskChangedEvent
    task_claimed: TaskChangedEvent
    task_approved: TaskChangedEvent
    task_denied: TaskChangedEvent
    task_comment_added: TaskChangedEvent
    entitlement_updated: EntitlementUpdatedEvent
    notification: NotificationEvent
    admin_message: AdminMessageEvent
    migration_notice: MigrationNoticeEvent
    def __init__(self, id: _Optional[str] = ..., event_type: _Optional[str] = ..., channel: _Optional[str] = ..., sequence: _Optional[int] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., auth: _Optional[_Union[AuthEvent, _Mapping]] = ..., device_register: _Optional[_Union[DeviceRegisterEvent, _Mapping]] = ..., subscribe: _Optional[_Union[SubscribeEvent, _Mapping]] = ..., unsubscribe: _Optional[_Union[UnsubscribeEvent, _Mapping]] = ..., ack: _Optional[_Union[AckEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatEvent, _Mapping]] = ..., ready: _Optional[_Union[ReadyEvent, _Mapping]] = ..., rehydrate: _Optional[_Union[RehydrateEvent, _Mapping]] = ..., error: _Optional[_Union[ErrorEvent, _Mapping]] = ..., save_file: _Optional[_Union[SaveFileEvent, _Mapping]] = ..., version_state: _Optional[_Union[VersionStateEvent, _Mapping]] = ..., lock_changed: _Optional[_Union[LockChangedEvent, _Mapping]] = ..., save_conflict: _Optional[_Union[SaveConflictEvent, _Mapping]] = ..., snapshot_created: _Optional[_Union[SnapshotEvent, _Mapping]] = ..., snapshot_restored: _Optional[_Union[SnapshotEvent, _Mapping]] = ..., member_changed: _Optional[_Union[MemberChangedEvent, _Mapping]] = ..., project_purged: _Optional[_Union[ProjectPurgedEvent, _Mapping]] = ..., rollback_notice: _Optional[_Union[RollbackNoticeEvent, _Mapping]] = ..., preview_request: _Optional[_Union[PreviewRequestEvent, _Mapping]] = ..., preview_available: _Optional[_Union[PreviewAvailableEvent, _Mapping]] = ..., diff_update: _Optional[_Union[DiffUpdateEvent, _Mapping]] = ..., live_preview_toggle: _Optional[_Union[LivePreviewToggleEvent, _Mapping]] = ..., build_result: _Optional[_Union[BuildResultEvent, _Mapping]] = ..., preview_status: _Optional[_Union[PreviewStatusEvent, _Mapping]] = ..., preview_failed: _Optional[_Union[PreviewFailedEvent, _Mapping]] = ..., live_text: _Optional[_Union[LiveTextEvent, _Mapping]] = ..., live_overlay: _Optional[_Union[LiveOverlayEvent, _Mapping]] = ..., live_ended: _Optional[_Union[LiveEndedEvent, _Mapping]] = ..., task_created: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., task_updated: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., task_claimed: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., task_approved: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., task_denied: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., task_comment_added: _Optional[_Union[TaskChangedEvent, _Mapping]] = ..., entitlement_updated: _Optional[_Union[EntitlementUpdatedEvent, _Mapping]] = ..., notification: _Optional[_Union[NotificationEvent, _Mapping]] = ..., admin_message: _Optional[_Union[AdminMessageEvent, _Mapping]] = ..., migration_notice: _Optional[_Union[MigrationNoticeEvent, _Mapping]] = ...) -> None: ...

class AuthEvent(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class DeviceRegisterEvent(_message.Message):
    __slots__ = ("device_id", "client_type", "platform", "client_version", "plugin_protocol_version", "client_build")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_BUILD_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    client_type: _access_pb2.ClientType
    platform: str
    client_version: str
    plugin_protocol_version: int
    client_build: int
    def __init__(self, device_id: _Optional[str] = ..., client_type: _Optional[_Union[_access_pb2.ClientType, str]] = ..., platform: _Optional[str] = ..., client_version: _Optional[str] = ..., plugin_protocol_version: _Optional[int] = ..., client_build: _Optional[int] = ...) -> None: ...

class ChannelPosition(_message.Message):
    __slots__ = ("channel", "last_sequence")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    last_sequence: int
    def __init__(self, channel: _Optional[str] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class SubscribeEvent(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[ChannelPosition]
    def __init__(self, channels: _Optional[_Iterable[_Union[ChannelPosition, _Mapping]]] = ...) -> None: ...

class UnsubscribeEvent(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, channels: _Optional[_Iterable[str]] = ...) -> None: ...

class AckEvent(_message.Message):
    __slots__ = ("event_id", "positions")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    positions: _containers.RepeatedCompositeFieldContainer[ChannelPosition]
    def __init__(self, event_id: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[ChannelPosition, _Mapping]]] = ...) -> None: ...

class HeartbeatEvent(_message.Message):
    __slots__ = ("client_time",)
    CLIENT_TIME_FIELD_NUMBER: _ClassVar[int]
    client_time: _timestamp_pb2.Timestamp
    def __init__(self, client_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReadyEvent(_message.Message):
    __slots__ = ("session_id", "user_id", "heartbeat_interval_seconds")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    heartbeat_interval_seconds: int
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., heartbeat_interval_seconds: _Optional[int] = ...) -> None: ...

class RehydrateEvent(_message.Message):
    __slots__ = ("channel", "resume_sequence")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RESUME_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    resume_sequence: int
    def __init__(self, channel: _Optional[str] = ..., resume_sequence: _Optional[int] = ...) -> None: ...

class ErrorEvent(_message.Message):
    __slots__ = ("code", "message", "event_id", "channel", "upgrade_required")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    event_id: str
    channel: str
    upgrade_required: _errors_pb2.UpgradeRequired
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., event_id: _Optional[str] = ..., channel: _Optional[str] = ..., upgrade_required: _Optional[_Union[_errors_pb2.UpgradeRequired, _Mapping]] = ...) -> None: ...

class SaveFileEvent(_message.Message):
    __slots__ = ("project_id", "file_id", "path", "revision_id", "revision", "content_sha256", "author_user_id", "device_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_id: str
    path: str
    revision_id: str
    revision: int
    content_sha256: str
    author_user_id: str
    device_id: str
    def __init__(self, project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., path: _Optional[str] = ..., revision_id: _Optional[str] = ..., revision: _Optional[int] = ..., content_sha256: _Optional[str] = ..., author_user_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class VersionStateEvent(_message.Message):
    __slots__ = ("project_id", "file_id", "path", "state", "revision_id", "revision", "actor_user_id", "previous_path")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PATH_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_id: str
    path: str
    state: VersionState
    revision_id: str
    revision: int
    actor_user_id: str
    previous_path: str
    def __init__(self, project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., path: _Optional[str] = ..., state: _Optional[_Union[VersionState, str]] = ..., revision_id: _Optional[str] = ..., revision: _Optional[int] = ..., actor_user_id: _Optional[str] = ..., previous_path: _Optional[str] = ...) -> None: ...

class LockChangedEvent(_message.Message):
    __slots__ = ("project_id", "file_id", "user_id", "device_id", "held", "expires_at")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_id: str
    user_id: str
    device_id: str
    held: bool
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., held: _Optional[bool] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SaveConflictEvent(_message.Message):
    __slots__ = ("project_id", "file_id", "path", "base_revision_id", "head_revision_id", "head_revision", "author_user_id", "device_id", "client_content_sha256")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BASE_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_id: str
    path: str
    base_revision_id: str
    head_revision_id: str
    head_revision: int
    author_user_id: str
    device_id: str
    client_content_sha256: str
    def __init__(self, project_id: _Optional[str] = ..., file_id: _Optional[str] = ..., path: _Optional[str] = ..., base_revision_id: _Optional[str] = ..., head_revision_id: _Optional[str] = ..., head_revision: _Optional[int] = ..., author_user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., client_content_sha256: _Optional[str] = ...) -> None: ...

class SnapshotEvent(_message.Message):
    __slots__ = ("project_id", "snapshot_id", "label", "actor_user_id", "file_count", "restored_count")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESTORED_COUNT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    snapshot_id: str
    label: str
    actor_user_id: str
    file_count: int
    restored_count: int
    def __init__(self, project_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., label: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., file_count: _Optional[int] = ..., restored_count: _Optional[int] = ...) -> None: ...

class MemberChangedEvent(_message.Message):
    __slots__ = ("project_id", "user_id", "change", "role", "actor_user_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    change: MemberChange
    role: _project_service_pb2.ProjectRole
    actor_user_id: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ..., change: _Optional[_Union[MemberChange, str]] = ..., role: _Optional[_Union[_project_service_pb2.ProjectRole, str]] = ..., actor_user_id: _Optional[str] = ...) -> None: ...

class ProjectPurgedEvent(_message.Message):
    __slots__ = ("project_id", "actor_user_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    actor_user_id: str
    def __init__(self, project_id: _Optional[str] = ..., actor_user_id: _Optional[str] = ...) -> None: ...

class RollbackNoticeEvent(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PreviewRequestEvent(_message.Message):
    __slots__ = ("session_id", "project_id", "entry_path")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PATH_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    project_id: str
    entry_path: str
    def __init__(self, session_id: _Optional[str] = ..., project_id: _Optional[str] = ..., entry_path: _Optional[str] = ...) -> None: ...

class PreviewAvailableEvent(_message.Message):
    __slots__ = ("preview_id", "project_id", "bundle_url", "bundle_schema_version", "rn_runtime_version")
    PREVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_URL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    RN_RUNTIME_VERSION_FIELD_NUMBER: _ClassVar[int]
    preview_id: str
    project_id: str
    bundle_url: str
    bundle_schema_version: int
    rn_runtime_version: str
    def __init__(self, preview_id: _Optional[str] = ..., project_id: _Optional[str] = ..., bundle_url: _Optional[str] = ..., bundle_schema_version: _Optional[int] = ..., rn_runtime_version: _Optional[str] = ...) -> None: ...

class DiffUpdateEvent(_message.Message):
    __slots__ = ("session_id", "path", "unified_diff", "base_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_DIFF_FIELD_NUMBER: _ClassVar[int]
    BASE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    path: str
    unified_diff: str
    base_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., unified_diff: _Optional[str] = ..., base_sequence: _Optional[int] = ...) -> None: ...

class LivePreviewToggleEvent(_message.Message):
    __slots__ = ("session_id", "enabled")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    enabled: bool
    def __init__(self, session_id: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class BuildResultEvent(_message.Message):
    __slots__ = ("preview_id", "success", "duration_ms", "message")
    PREVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    preview_id: str
    success: bool
    duration_ms: int
    message: str
    def __init__(self, preview_id: _Optional[str] = ..., success: _Optional[bool] = ..., duration_ms: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PreviewStatusEvent(_message.Message):
    __slots__ = ("preview_id", "state")
    PREVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    preview_id: str
    state: PreviewState
    def __init__(self, preview_id: _Optional[str] = ..., state: _Optional[_Union[PreviewState, str]] = ...) -> None: ...

class PreviewFailedEvent(_message.Message):
    __slots__ = ("preview_id", "reason", "retryable")
    PREVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    preview_id: str
    reason: str
    retryable: bool
    def __init__(self, preview_id: _Optional[str] = ..., reason: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class LiveTextEvent(_message.Message):
    __slots__ = ("session_id", "path", "text", "offset", "cursor_line")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CURSOR_LINE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    path: str
    text: str
    offset: int
    cursor_line: int
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., text: _Optional[str] = ..., offset: _Optional[int] = ..., cursor_line: _Optional[int] = ...) -> None: ...

class LiveOverlayEvent(_message.Message):
    __slots__ = ("session_id", "line", "note")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    line: int
    note: str
    def __init__(self, session_id: _Optional[str] = ..., line: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class LiveEndedEvent(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskChangedEvent(_message.Message):
    __slots__ = ("task_id", "project_id", "actor_user_id", "status")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    project_id: str
    actor_user_id: str
    status: str
    def __init__(self, task_id: _Optional[str] = ..., project_id: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class EntitlementUpdatedEvent(_message.Message):
    __slots__ = ("tier", "expires_at")
    TIER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    tier: _access_pb2.Tier
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, tier: _Optional[_Union[_access_pb2.Tier, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotificationEvent(_message.Message):
    __slots__ = ("notification_id", "title", "body", "deep_link")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DEEP_LINK_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    title: str
    body: str
    deep_link: str
    def __init__(self, notification_id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., deep_link: _Optional[str] = ...) -> None: ...

class AdminMessageEvent(_message.Message):
    __slots__ = ("id", "title", "body", "level", "requires_ack")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_ACK_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    body: str
    level: AdminMessageLevel
    requires_ack: bool
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., level: _Optional[_Union[AdminMessageLevel, str]] = ..., requires_ack: _Optional[bool] = ...) -> None: ...

class MigrationNoticeEvent(_message.Message):
    __slots__ = ("new_url", "switch_after", "grace_period_seconds", "new_ws_url", "id", "min_client_version")
    NEW_URL_FIELD_NUMBER: _ClassVar[int]
    SWITCH_AFTER_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NEW_WS_URL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MIN_CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    new_url: str
    switch_after: _timestamp_pb2.Timestamp
    grace_period_seconds: int
    new_ws_url: str
    id: str
    min_client_version: int
    def __init__(self, new_url: _Optional[str] = ..., switch_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., grace_period_seconds: _Optional[int] = ..., new_ws_url: _Optional[str] = ..., id: _Optional[str] = ..., min_client_version: _Optional[int] = ...) -> None: ...
