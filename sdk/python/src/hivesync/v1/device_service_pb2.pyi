from google.api import annotations_pb2 as _annotations_pb2
from hivesync.v1 import access_pb2 as _access_pb2
from hivesync.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterDeviceRequest(_message.Message):
    __slots__ = ("device_id", "name", "platform", "client_version", "push_token")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUSH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    name: str
    platform: str
    client_version: str
    push_token: str
    def __init__(self, device_id: _Optional[str] = ..., name: _Optional[str] = ..., platform: _Optional[str] = ..., client_version: _Optional[str] = ..., push_token: _Optional[str] = ...) -> None: ...

class RegisterDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: _identity_pb2.Device
    def __init__(self, device: _Optional[_Union[_identity_pb2.Device, _Mapping]] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[_identity_pb2.Device]
    def __init__(self, devices: _Optional[_Iterable[_Union[_identity_pb2.Device, _Mapping]]] = ...) -> None: ...

class RenameDeviceRequest(_message.Message):
    __slots__ = ("device_id", "name")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    name: str
    def __init__(self, device_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: _identity_pb2.Device
    def __init__(self, device: _Optional[_Union[_identity_pb2.Device, _Mapping]] = ...) -> None: ...

class RevokeDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class RevokeDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
