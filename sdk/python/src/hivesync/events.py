"""The event stream: HiveSync's WebSocket (``/api/v1/ws``) as a resuming client.

Realtime changes — saves, file moves, membership changes, notifications — are
published on *channels* (``project_sync:<project_id>``, ``user:<user_id>``),
each numbered by a ``sequence`` that rises by one per event. An
:class:`AsyncEventStream` keeps one socket open, subscribes to channels, and
hands every event to the application exactly once and in order, across
reconnects::

    from hivesync import AsyncEventStream, AsyncTokenManager, SignedOutError

    session = AsyncTokenManager(url, "vscode", store=my_store)
    positions = load_positions()          # {"project_sync:<id>": 41, ...}; {} the first time

    async with AsyncEventStream(
        url,
        token_provider=session,
        channels=positions or [f"project_sync:{project_id}"],
        on_position=save_position,        # (channel, sequence): persist it
        on_rehydrate=refetch_channel,     # (channel, resume_sequence): reload state
    ) as stream:
        try:
            async for event in stream:
                if event.WhichOneof("payload") == "save_file":
                    await refresh(event.save_file.file_id)
        except SignedOutError:
            prompt_sign_in()               # 4003: the session was revoked

What it does for the application (the same rules in every HiveSync SDK):

- **Handshake.** ``auth`` with a fresh access token from the token provider on
  every connect, wait for ``ready``, then ``device_register`` (optional) and
  one ``subscribe`` frame naming every channel with the last sequence seen.
- **Exactly once, in order.** The server replays what was missed after that
  sequence; the stream tracks the last sequence per channel and drops any
  event it has already delivered. When the gap is too old or too large the
  server sends ``rehydrate``: ``on_rehydrate(channel, resume_sequence)`` runs
  (refetch the state), and the stream continues after ``resume_sequence``.
- **Positions.** A channel named without a sequence is joined "from now on"
  (-1, :data:`FROM_NOW_ON`) and anchored at the start position the server's
  subscribe ``ack`` reports, so a reconnect before its first event leaves no
  gap. An event counts as handled when ``on_event`` returns, or when the
  iterating code asks for the next event; then ``on_position(channel,
  sequence)`` is called (also for an anchor). Persist those and pass them
  back as ``channels`` on the next start: events are delivered at least once
  across restarts, exactly once within a run.
- **Broadcasts.** The server puts every socket on :data:`BROADCAST_CHANNEL`
  (admin messages, migration notices); its events are delivered like the
  others, and :meth:`AsyncEventStream.ack` acknowledges those that ask for it.
- **Heartbeat.** A ``heartbeat`` frame every half of the server's
  ``heartbeat_interval_seconds``; a connection that brings nothing for two
  intervals is dropped and replaced.
- **Reconnects** with exponential backoff and full jitter (:class:`Backoff`),
  reset once a connection has stayed up for a while. Close codes: 4001 →
  refresh the token (``on_unauthenticated`` of a :class:`~hivesync.TokenManager`)
  and reconnect; 4003 → stop with :class:`StreamRevokedError` (a
  :class:`~hivesync.SignedOutError`); 4026 → stop with
  :class:`StreamUpgradeRequiredError` (this client is too old: update it);
  4008, 1001, 1013, 4000 and network failures → reconnect and resume; 1009 →
  stop with :class:`EventStreamError`.
- **Versions.** Every upgrade request carries ``X-HiveSync-Plugin-Version``
  (``plugin_version``, like the RPC clients), and ``device_register`` states
  ``plugin_protocol_version`` and ``client_build``. Below the server's
  minimums the server sends an ``error`` frame with ``upgrade_required`` and
  closes with 4026.

:class:`EventStream` is the blocking twin for code without an event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import inspect
import logging
import random
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from connectrpc.code import Code
from connectrpc.errors import ConnectError, ErrorDetail
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from protobuf.wkt import Any as _DetailAny
from google.protobuf.timestamp_pb2 import Timestamp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol
from websockets.version import version as _websockets_version

from ._version import __version__
from .client import PLUGIN_PROTOCOL_VERSION, PLUGIN_VERSION_HEADER, RefreshingTokenProvider
from .oauth import AuthError
from .session import SignedOutError, SignedOutReason
from .v1.errors_pb2 import UpgradeRequired
from .v1.events_pb2 import (
    MEMBER_CHANGE_REMOVED,
    WS_CLOSE_CODE_REVOKED,
    WS_CLOSE_CODE_UNAUTHENTICATED,
    WS_CLOSE_CODE_UPGRADE_REQUIRED,
    AckEvent,
    AuthEvent,
    ChannelPosition,
    DeviceRegisterEvent,
    ErrorEvent,
    Event,
    HeartbeatEvent,
    ReadyEvent,
    SubscribeEvent,
    UnsubscribeEvent,
)

if TYPE_CHECKING:
    import ssl as ssl_module
    from types import TracebackType
    from typing import Self

__all__ = [
    "BROADCAST_CHANNEL",
    "EVENT_STREAM_PATH",
    "FROM_NOW_ON",
    "SUBPROTOCOL_JSON",
    "SUBPROTOCOL_PROTO",
    "AsyncEventStream",
    "Backoff",
    "EventStream",
    "EventStreamError",
    "StreamRevokedError",
    "StreamState",
    "StreamUpgradeRequiredError",
    "SubscriptionError",
    "event_stream_url",
]

_log = logging.getLogger("hivesync.events")

EVENT_STREAM_PATH: Final[str] = "/api/v1/ws"
"""Where the event stream is served, under the API base URL."""

SUBPROTOCOL_JSON: Final[str] = "hivesync.v1.json"
"""Protobuf JSON in text frames (the default)."""

SUBPROTOCOL_PROTO: Final[str] = "hivesync.v1.proto"
"""Binary Protobuf in binary frames."""

FROM_NOW_ON: Final[int] = -1
"""The position of a channel the client has no sequence for yet: join it
"from now on". (0 means "seen nothing since the channel began": the server
replays everything it still keeps.)"""

BROADCAST_CHANNEL: Final[str] = "broadcast"
"""Admin messages and migration notices. The server sends it to every socket
from ``ready`` on, so the stream delivers it without being asked (and tracks
its position, so a reconnect replays missed broadcasts) unless the
application leaves it with :meth:`AsyncEventStream.unsubscribe`."""

DEFAULT_HEARTBEAT_INTERVAL_S: Final[float] = 30.0
"""Used when ``ready`` announces no heartbeat interval (the server's default)."""

# Standard close codes the stream acts on besides the gateway's own (WsCloseCode):
# 1000, 1001 (node restarting), 1013 (try again later) and 4000, 4008 reconnect.
_PERMANENT_HTTP_STATUSES: Final = frozenset(range(400, 500)) - {408, 429}
"""Handshake answers that retrying will not change (403: a browser origin
not allowed, 404: no event stream on this server...)."""
_CLOSE_ABNORMAL: Final = 1006  # no close frame: the connection dropped
_CLOSE_TOO_BIG: Final = 1009

# Error codes after which a refused channel is dropped rather than joined
# again on every reconnect ("unavailable" and the like are worth retrying).
_PERMANENT_REFUSALS: Final = frozenset(
    {"not_found", "permission_denied", "invalid_argument", "unimplemented"}
)

_T = TypeVar("_T")


class StreamState(enum.Enum):
    """Where an event stream is in its life, as reported to ``on_state``."""

    IDLE = "idle"
    """Created, not started."""
    CONNECTING = "connecting"
    """Opening a socket, authenticating and subscribing."""
    CONNECTED = "connected"
    """Authenticated and subscribed: events flow."""
    RECONNECTING = "reconnecting"
    """The connection was lost; waiting out the backoff before the next attempt."""
    CLOSED = "closed"
    """Stopped for good: :meth:`AsyncEventStream.close` was called or a fatal
    error ended it (:attr:`AsyncEventStream.error`)."""


class EventStreamError(ConnectError):
    """The event stream stopped and will not reconnect by itself.

    A ``ConnectError`` like every SDK failure; ``err.code`` tells the kind
    (``unauthenticated`` for a token the server keeps refusing,
    ``invalid_argument`` for a frame the server found too big, ...).

    Attributes:
        close_code: The WebSocket close code that ended the stream, if any
            (a ``WsCloseCode`` value, or a standard code such as 1009).
        close_reason: The server's close reason, for logs (never parse it).
    """

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        close_code: int | None = None,
        close_reason: str = "",
        details: Iterable[Message] = (),
    ) -> None:
        super().__init__(code, message, [_error_detail(d) for d in details])
        self.close_code = close_code
        self.close_reason = close_reason


class StreamRevokedError(SignedOutError, EventStreamError):
    """The server closed the stream with 4003: the session or device was
    revoked, or the account disabled. Do not reconnect; sign in again.

    Both a :class:`~hivesync.SignedOutError` (``reason`` ``SESSION_ENDED``), so
    one ``except SignedOutError`` handles every way a session ends, and an
    :class:`EventStreamError` (``close_code`` 4003, ``close_reason``).
    """

    def __init__(self, close_reason: str = "") -> None:
        super().__init__(SignedOutReason.SESSION_ENDED)
        self.close_code = WS_CLOSE_CODE_REVOKED
        self.close_reason = close_reason


class StreamUpgradeRequiredError(EventStreamError):
    """The server closed the stream with 4026 (``WS_CLOSE_CODE_UPGRADE_REQUIRED``):
    this client is older than the server accepts — its plugin protocol (the
    ``X-HiveSync-Plugin-Version`` header of the upgrade request, or
    ``plugin_protocol_version`` in ``device_register``) or its build
    (``client_build`` in ``device_register``, held to the bootstrap document's
    ``min_client_version``). The stream does not reconnect: update the client.

    An :class:`EventStreamError` with code ``failed_precondition`` and
    ``close_code`` 4026 that carries the ``UpgradeRequired`` detail like an RPC
    refused for the same reason, so :func:`hivesync.errors.upgrade_required`
    works on it too.

    Attributes:
        upgrade_required: The ``upgrade_required`` of the server's ``error``
            frame before the close: ``reason``, the ``client_version`` sent,
            ``min_supported_version``, ``current_version``, ``upgrade_url``
            and a ``message`` to show as it is. ``None`` when the server sent
            none.
    """

    def __init__(self, close_reason: str = "", upgrade: UpgradeRequired | None = None) -> None:
        message = (upgrade.message if upgrade is not None else "") or (
            f"the event stream was closed: {close_reason or 'this client is too old'}; update it"
        )
        super().__init__(
            Code.FAILED_PRECONDITION,
            message,
            close_code=WS_CLOSE_CODE_UPGRADE_REQUIRED,
            close_reason=close_reason,
            details=() if upgrade is None else (upgrade,),
        )
        self.upgrade_required = upgrade


class SubscriptionError(ConnectError):
    """The server refused to join a channel (:meth:`AsyncEventStream.subscribe`).

    ``err.code`` is the server's code: ``not_found`` for a channel the user
    may not read (or that does not exist), ``invalid_argument`` for a
    malformed name, ``unimplemented`` for a channel kind not served yet,
    ``resource_exhausted`` past 200 channels per socket, ``unavailable`` when
    the server could not check (try again). After a permanent refusal the
    channel is no longer part of the stream.

    Attributes:
        channel: The refused channel.
        error: The server's ``ErrorEvent``.
    """

    def __init__(self, channel: str, error: ErrorEvent) -> None:
        super().__init__(_code(error.code), error.message or f"{channel}: {error.code}")
        self.channel = channel
        self.error = error


def _error_detail(message: Message) -> ErrorDetail:
    """A generated message as a Connect error detail (as an RPC error carries it),
    so :func:`hivesync.errors.find_detail` and friends read it."""
    return ErrorDetail(
        _DetailAny(
            type_url=f"type.googleapis.com/{message.DESCRIPTOR.full_name}",
            value=message.SerializeToString(),
        )
    )


def _code(name: str) -> Code:
    try:
        return Code(name)
    except ValueError:
        return Code.UNKNOWN


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: exponential with full jitter.

    The delay before attempt ``n`` (0-based, counted since the last stable
    connection) is uniform in ``[0, min(cap, base * 2**n)]``, so a fleet of
    clients dropped at once (a node restart) comes back spread out.

    Attributes:
        base: Upper bound of the first delay, in seconds.
        cap: Largest delay, in seconds.
        stable_after: A connection that stayed up this long (seconds) resets
            the attempt count, so the next drop reconnects quickly again.
    """

    base: float = 0.25
    cap: float = 30.0
    stable_after: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before reconnect attempt ``attempt`` (0-based)."""
        high = min(self.cap, self.base * 2 ** min(attempt, 62))
        return (rng or _random).uniform(0.0, high)


_random = random.Random()  # noqa: S311 - jitter, not cryptography


def event_stream_url(base_url: str) -> str:
    """The WebSocket URL of a server's event stream.

    ``http(s)://host[/prefix]`` becomes ``ws(s)://host[/prefix]/api/v1/ws``; a
    ``ws://`` or ``wss://`` URL (the bootstrap document's ``ws_base``) is used
    as it is.
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        return base_url.strip()
    if scheme not in ("http", "https"):
        msg = f"event stream: unsupported URL scheme in {base_url!r} (want http(s) or ws(s))"
        raise ValueError(msg)
    path = parts.path.rstrip("/") + EVENT_STREAM_PATH
    return urlunsplit(("wss" if scheme == "https" else "ws", parts.netloc, path, parts.query, ""))


def _platform() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return sys.platform


def _check_channel(channel: str) -> None:
    if channel == BROADCAST_CHANNEL:
        return
    kind, sep, ident = channel.partition(":")
    if not (kind and sep and ident):
        msg = (
            "channels are named kind:id (e.g. project_sync:<project id>) or"
            f" {BROADCAST_CHANNEL!r}, not {channel!r}"
        )
        raise ValueError(msg)


def _is_coroutine_callable(fn: object) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - a callable object's method
    )


async def _maybe_await(value: _T | Awaitable[_T]) -> _T:
    if inspect.isawaitable(value):
        return await value
    return value


async def _call_provider(fn: Callable[..., Any], *args: Any) -> Any:  # noqa: ANN401
    """Calls a token-provider hook: coroutine functions on the loop, plain
    callables in a worker thread (a :class:`~hivesync.TokenManager` refresh
    is a blocking HTTP call that must not stall the loop)."""
    if _is_coroutine_callable(fn):
        return await fn(*args)
    return await _maybe_await(await asyncio.to_thread(fn, *args))


def _timestamp_now() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime.now(UTC))
    return ts


@dataclass
class _Outcome:
    """How one connection ended."""

    code: int | None
    """The close code received; 1006 when the connection dropped without one;
    None when no WebSocket was established."""
    reason: str
    ready_at: float | None = None
    """Loop time at which ``ready`` arrived, if it did."""
    upgrade: UpgradeRequired | None = None
    """The ``upgrade_required`` of the last ``error`` frame carrying one (explains a 4026)."""


@dataclass(eq=False)
class _Connection:
    """One socket's state."""

    ws: ClientConnection
    binary: bool
    ready: asyncio.Future[ReadyEvent]
    subscribe_id: str = ""
    subscribe_channels: tuple[str, ...] = ()
    connect_barrier: int = 0
    """The heartbeat whose answer means the connect-time subscriptions are in place."""
    connected: bool = False
    dead: bool = False
    reader: asyncio.Task[_Outcome] | None = None
    heartbeats_sent: int = 0
    heartbeats_answered: int = 0
    heartbeat_ids: dict[str, int] = field(default_factory=dict)
    barriers: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    upgrade: UpgradeRequired | None = None
    """The ``upgrade_required`` of the last ``error`` frame that carried one."""

    def release(self) -> None:
        """Resolves every barrier (the connection is gone)."""
        for _, fut in self.barriers:
            if not fut.done():
                fut.set_result(None)
        self.barriers.clear()


_END: Final = object()
"""Queue sentinel: the stream has stopped."""


OnEvent = Callable[[Event], "object | Awaitable[object]"]
"""``on_event(event)``: handles one channel event; may be a coroutine function."""

OnRehydrate = Callable[[str, int], "object | Awaitable[object]"]
"""``on_rehydrate(channel, resume_sequence)``: refetch the channel's state."""

OnPosition = Callable[[str, int], "object | Awaitable[object]"]
"""``on_position(channel, sequence)``: persist the last handled sequence."""


class AsyncEventStream:
    """The HiveSync event stream for asyncio: one WebSocket, resumed across
    reconnects, delivering each channel event once and in order.

    Events (``hivesync.v1.events_pb2.Event`` messages carrying ``channel`` and
    ``sequence``; ``event.WhichOneof("payload")`` names the kind) are consumed
    either by iterating the stream (``async for event in stream``) or through
    ``on_event`` — not both. A ``rehydrate`` event is delivered the same way,
    after ``on_rehydrate`` has run. Connection-level frames (``ready``,
    ``ack``, ``heartbeat``, ``error``) are handled by the stream.

    Args:
        base_url: The API base URL (``https://api.example`` → ``wss://api.example/api/v1/ws``),
            or the bootstrap document's ``ws_base`` (a ``ws(s)://`` URL, used as is).
        token_provider: Returns the access token to authenticate with; called
            on every connect. A :class:`~hivesync.TokenManager` or
            :class:`~hivesync.AsyncTokenManager` (or any
            :class:`~hivesync.RefreshingTokenProvider`) is also asked for a new
            token when the server closes with 4001. Coroutine functions are
            awaited; plain callables run in a worker thread. A provider
            returning ``None`` stops the stream with
            :class:`~hivesync.SignedOutError` (``NOT_SIGNED_IN``).
        channels: The channels to join (at most 200): names, joined from now
            on, or a mapping of name to the last sequence handled, as persisted
            from ``on_position`` (-1: from now on; 0: everything the server still
            keeps). More can be joined with :meth:`subscribe`.
            :data:`BROADCAST_CHANNEL` is delivered without being named.
        device: Registers the socket's device after ``ready``: a device id
            (from ``DeviceService.RegisterDevice``), or a full
            ``DeviceRegisterEvent``. A refusal is reported to ``on_error``
            (an outdated version also ends the stream, see below).
        plugin_version: The plugin protocol version this client speaks,
            sent as ``X-HiveSync-Plugin-Version`` on every upgrade request
            and, for a ``device`` given by id, as its
            ``plugin_protocol_version``. Defaults to
            :data:`~hivesync.PLUGIN_PROTOCOL_VERSION`, like the RPC clients;
            ``None`` states none (no header, 0 in ``device_register``).
        client_build: The client's integer build, sent in ``device_register``
            (for a ``device`` given by id, or a ``DeviceRegisterEvent`` that
            leaves it 0) and held by the server to the bootstrap document's
            ``min_client_version``. 0 (the default) states none. A version
            below the server's minimum ends the stream with
            :class:`StreamUpgradeRequiredError` (close 4026, no reconnect).
        binary: Speak binary Protobuf (``hivesync.v1.proto``) instead of
            Protobuf JSON (``hivesync.v1.json``, the default).
        on_event: Called with each channel event, in order; may be a coroutine
            function (awaited before the next event). An exception stops the
            stream and is raised from :meth:`wait_closed`.
        on_rehydrate: ``(channel, resume_sequence)``: the missed events are no
            longer kept; refetch the channel's state. Awaited before the
            events that follow. Exceptions stop the stream.
        on_position: ``(channel, sequence)`` after each event is handled, and
            when the server anchors a channel joined from now on: persist it.
            May be a coroutine function; an exception stops the stream (or is
            raised to the iterating code).
        on_state: Called with each :class:`StreamState` change (plain function).
        on_error: Called with the server's ``ErrorEvent`` frames that no call is
            waiting for (a channel refused at connect, a device that is not
            yours, membership lost). Plain function; they are also logged.
        heartbeat_interval: Overrides the interval (seconds) announced in
            ``ready``: heartbeats go out every half interval and a connection
            silent for two intervals is replaced.
        backoff: Reconnect delays (:class:`Backoff`).
        connect_timeout: Seconds to open the socket and to get ``ready``.
        write_timeout: Seconds one frame may take to send before the
            connection is considered dead.
        max_pending: Events received but not yet taken by the iterating code;
            past it the stream stops reading (the server then drops the
            connection as a slow consumer, and the stream resumes later).
        ssl: An ``ssl.SSLContext`` for ``wss://`` (default: the system's).
        websocket_options: Extra keyword arguments for
            ``websockets.asyncio.client.connect`` (e.g. ``proxy``, ``max_size``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: Callable[[], Any],
        channels: Mapping[str, int] | Iterable[str] = (),
        device: str | DeviceRegisterEvent | None = None,
        plugin_version: int | None = PLUGIN_PROTOCOL_VERSION,
        client_build: int = 0,
        binary: bool = False,
        on_event: OnEvent | None = None,
        on_rehydrate: OnRehydrate | None = None,
        on_position: OnPosition | None = None,
        on_state: Callable[[StreamState], object] | None = None,
        on_error: Callable[[ErrorEvent], object] | None = None,
        heartbeat_interval: float | None = None,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
        write_timeout: float = 10.0,
        max_pending: int = 1024,
        ssl: ssl_module.SSLContext | None = None,
        websocket_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = event_stream_url(base_url)
        """The WebSocket URL connected to."""
        self._token_provider = token_provider
        positions = (
            dict(channels)
            if isinstance(channels, Mapping)
            else dict.fromkeys(channels, FROM_NOW_ON)
        )
        for name, sequence in positions.items():
            _check_channel(name)
            if sequence < FROM_NOW_ON:
                msg = f"last sequence of {name} must be >= -1 (-1: from now on), not {sequence}"
                raise ValueError(msg)
        self._received: dict[str, int] = dict(positions)  # resume points (and dedup)
        self._handled: dict[str, int] = dict(positions)  # what on_position has seen
        self._left: set[str] = set()  # channels the application left (broadcast)
        if client_build < 0:
            msg = f"client_build must be >= 0 (0: not stated), not {client_build}"
            raise ValueError(msg)
        self._plugin_version = plugin_version
        if isinstance(device, str):
            device = DeviceRegisterEvent(
                device_id=device,
                platform=_platform(),
                plugin_protocol_version=plugin_version or 0,
                client_build=client_build,
            )
        elif device is not None and client_build and not device.client_build:
            stated = DeviceRegisterEvent()
            stated.CopyFrom(device)
            stated.client_build = client_build
            device = stated
        self._device = device
        self._binary = binary
        self._on_event = on_event
        self._on_rehydrate = on_rehydrate
        self._on_position = on_position
        self._on_state = on_state
        self._on_error = on_error
        if heartbeat_interval is not None and heartbeat_interval <= 0:
            msg = "heartbeat_interval must be positive"
            raise ValueError(msg)
        self._heartbeat_override = heartbeat_interval
        self._backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        if max_pending < 1:
            msg = "max_pending must be at least 1"
            raise ValueError(msg)
        self._max_pending = max_pending
        self._ssl = ssl
        self._websocket_options = dict(websocket_options or {})

        self._state = StreamState.IDLE
        self._task: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._ready: ReadyEvent | None = None
        self._error: BaseException | None = None
        self._closing = False
        self._pending: dict[str, asyncio.Future[Event | None]] = {}
        # asyncio primitives bind to the loop that first uses them.
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue()
        self._space = asyncio.Event()  # set when the iterating code took an event
        self._done = asyncio.Event()  # set when the stream has stopped
        self._state_changed = asyncio.Event()
        self._last_yielded: Event | None = None
        self._last_received = 0.0
        self._blocked = 0  # > 0 while the reader waits for the application
        self.last_close_code: int | None = None
        """Close code of the last connection that ended (1006: dropped)."""
        self.last_close_reason: str = ""
        """Why the last connection ended, for logs."""
        self.connections = 0
        """How many times the stream reached ``ready`` (diagnostics)."""
        self.duplicates_dropped = 0
        """Events dropped because they had been delivered already (diagnostics)."""

    # -- public state ---------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        """The current :class:`StreamState`."""
        return self._state

    @property
    def ready(self) -> ReadyEvent | None:
        """The ``ready`` frame of the current (or last) connection: user id,
        session id, heartbeat interval. ``None`` before the first."""
        return self._ready

    @property
    def channels(self) -> list[str]:
        """The channels the stream is joined to (or will join on connect)."""
        return list(self._received)

    @property
    def positions(self) -> dict[str, int]:
        """The last handled sequence of each channel (what ``on_position``
        reported; the starting positions until then; -1 while there is none):
        pass it as ``channels`` to resume a later stream."""
        return {name: self._handled.get(name, FROM_NOW_ON) for name in self._received}

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the stream, if one did."""
        return self._error

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Starts connecting in the background (once; later calls do nothing).
        ``async with`` and iteration start the stream themselves."""
        if self._task is not None:
            return
        if self._closing:
            msg = "the event stream was closed"
            raise RuntimeError(msg)
        self._task = asyncio.create_task(self._run(), name="hivesync-event-stream")

    async def wait_closed(self) -> None:
        """Waits until the stream stops; raises the error that stopped it
        (:class:`StreamRevokedError`, :class:`StreamUpgradeRequiredError`,
        :class:`EventStreamError`,
        :class:`~hivesync.SignedOutError`, or an exception of a callback)."""
        if self._task is None:
            await self.start()
        await self._done.wait()
        if self._error is not None:
            raise self._error

    async def wait_connected(self) -> None:
        """Waits until the stream is :attr:`StreamState.CONNECTED`: authenticated,
        and every channel joined (missed events are being replayed). Starts the
        stream if needed. Bound it with ``asyncio.timeout``.

        Raises:
            The error that stopped the stream (see :meth:`wait_closed`), or
            ``RuntimeError`` when it was closed.
        """
        if self._task is None:
            await self.start()
        while self._state is not StreamState.CONNECTED:
            if self._state is StreamState.CLOSED:
                if self._error is not None:
                    raise self._error
                msg = "the event stream was closed"
                raise RuntimeError(msg)
            self._state_changed.clear()
            await self._state_changed.wait()

    async def run(self) -> None:
        """Runs the stream until :meth:`close` (returns) or a fatal error
        (raised): the way to drive an ``on_event`` stream."""
        await self.start()
        await self.wait_closed()

    async def close(self) -> None:
        """Closes the socket (normal closure) and stops the stream; iteration
        ends. Idempotent. Events received but not yet handled are not
        reported to ``on_position``, so a later stream gets them again."""
        self._closing = True
        task = self._task
        if task is None:
            self._set_state(StreamState.CLOSED)
            return
        while not self._queue.empty():  # iteration stops at once
            self._queue.get_nowait()
        self._queue.put_nowait(_END)
        if not task.done():
            task.cancel()
            current = asyncio.current_task()
            conn = self._conn
            if current is not task and (conn is None or current is not conn.reader):
                await asyncio.wait({task})

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        if self._on_event is not None:
            msg = "this stream delivers events to on_event; iterate a stream created without it"
            raise TypeError(msg)
        return self

    async def __anext__(self) -> Event:
        """The next channel event. Asking for it marks the previous one as
        handled (``on_position``). Ends when the stream is closed; raises the
        fatal error after the events received before it."""
        if self._task is None:
            await self.start()
        await self._handled_last()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # later calls end too
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        self._space.set()
        event = cast("Event", item)
        self._last_yielded = event
        return event

    # -- channels ------------------------------------------------------------------------

    async def subscribe(
        self, channel: str, last_sequence: int | None = None, *, timeout: float = 10.0
    ) -> None:
        """Joins ``channel``, from ``last_sequence`` (default: where the stream
        already is on it, else from now on). Giving a sequence moves the
        resume point, and the server replays from there.

        While connected this returns once the server has joined the channel
        (events published from then on are delivered); otherwise the channel
        is joined by the next connection (a refusal then goes to ``on_error``).

        Raises:
            SubscriptionError: the server refused the channel.
            TimeoutError: no answer within ``timeout`` seconds.
        """
        _check_channel(channel)
        self._left.discard(channel)
        if last_sequence is not None:
            if last_sequence < FROM_NOW_ON:
                msg = f"last_sequence must be >= -1 (-1: from now on), not {last_sequence}"
                raise ValueError(msg)
            self._received[channel] = last_sequence
            self._handled[channel] = last_sequence
        elif channel not in self._received:
            self._received[channel] = self._handled.get(channel, FROM_NOW_ON)
        conn = self._conn
        if conn is None or not conn.subscribe_id:
            return  # joined by the next connection's subscribe frame
        position = ChannelPosition(channel=channel, last_sequence=self._received[channel])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        answer = await self._request(
            conn, Event(subscribe=SubscribeEvent(channels=[position])), timeout
        )
        if answer is not None and answer.WhichOneof("payload") == "error":
            if answer.error.code in _PERMANENT_REFUSALS:
                self._forget(channel)
            raise SubscriptionError(channel, answer.error)
        if answer is not None and self._conn is conn:
            # Servers that acknowledge before joining: the answer to a
            # heartbeat sent now proves the channel is joined.
            await self._barrier(conn, max(0.0, deadline - loop.time()))

    async def unsubscribe(self, channel: str, *, timeout: float = 10.0) -> None:
        """Leaves ``channel`` (also :data:`BROADCAST_CHANNEL`). Events of it
        already received may still be delivered; none arrive after this
        returns."""
        self._forget(channel)
        self._left.add(channel)
        conn = self._conn
        if conn is None or not conn.subscribe_id:
            return
        await self._request(conn, Event(unsubscribe=UnsubscribeEvent(channels=[channel])), timeout)

    async def send(self, event: Event, *, timeout: float = 10.0) -> None:
        """Sends a client event (a Live View event, an ``ack``...) and waits
        for the server to accept it. The stream sets the frame's ``id``.

        Raises:
            ConnectError: the server refused it (``err.code`` is the server's
                code), or with code ``unavailable``: the stream is not
                connected, or the connection was lost before the answer.
            TimeoutError: no answer within ``timeout`` seconds.
        """
        conn = self._conn
        if conn is None or not conn.connected:
            raise ConnectError(Code.UNAVAILABLE, "the event stream is not connected; send it later")
        frame = Event()
        frame.CopyFrom(event)
        answer = await self._request(conn, frame, timeout)
        if answer is None:
            msg = "the connection was lost before the server answered; send it again"
            raise ConnectError(Code.UNAVAILABLE, msg)
        if answer.WhichOneof("payload") == "error":
            raise ConnectError(_code(answer.error.code), answer.error.message)

    async def ack(self, event_id: str, *, timeout: float = 10.0) -> None:
        """Acknowledges an event that asks for it: an ``admin.message`` with
        ``requires_ack`` once the user dismissed it (pass the message's
        ``id``), or a ``notification`` once shown (its ``notification_id``).
        Raises like :meth:`send`."""
        await self.send(Event(ack=AckEvent(event_id=event_id)), timeout=timeout)

    # -- internals: the connection loop ------------------------------------------------

    def _set_state(self, state: StreamState) -> None:
        if state is self._state:
            return
        self._state = state
        self._state_changed.set()
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the stream
                _log.exception("event stream: on_state raised")

    async def _run(self) -> None:
        attempt = 0
        rejections = 0
        token: str | None = None
        try:
            while not self._closing:
                self._set_state(StreamState.CONNECTING)
                if token is None:
                    token = await self._access_token()
                outcome = await self._connect_once(token) if token else _Outcome(None, "no token")
                if self._closing:
                    # close() cancelled the connection; a cancellation can be
                    # absorbed by the socket's own tasks, so check the flag.
                    break
                self.last_close_code, self.last_close_reason = outcome.code, outcome.reason
                loop = asyncio.get_running_loop()
                if outcome.ready_at is not None:
                    rejections = 0
                    if loop.time() - outcome.ready_at >= self._backoff.stable_after:
                        attempt = 0
                if outcome.code == WS_CLOSE_CODE_REVOKED:
                    raise StreamRevokedError(outcome.reason)
                if outcome.code == WS_CLOSE_CODE_UPGRADE_REQUIRED:
                    raise StreamUpgradeRequiredError(outcome.reason, outcome.upgrade)
                if outcome.code == WS_CLOSE_CODE_UNAUTHENTICATED:
                    rejections += 1
                    token = await self._token_after_rejection(token, outcome, rejections)
                    continue  # a new token: reconnect at once
                if outcome.code == _CLOSE_TOO_BIG:
                    raise EventStreamError(
                        Code.INVALID_ARGUMENT,
                        f"the server refused a frame as too big: {outcome.reason}",
                        close_code=outcome.code,
                        close_reason=outcome.reason,
                    )
                token = None  # the next connect asks the provider again
                delay = self._backoff.delay(attempt)
                attempt += 1
                self._set_state(StreamState.RECONNECTING)
                _log.info(
                    "event stream: connection ended (%s %s); reconnecting in %.2fs",
                    outcome.code,
                    outcome.reason,
                    delay,
                )
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if not self._closing:
                raise
        except Exception as err:  # noqa: BLE001 - handed to wait_closed() and the iterator
            self._error = err
            _log.warning("event stream stopped: %r", err)
        finally:
            self._finish()

    def _finish(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result(None)
        self._pending.clear()
        self._conn = None
        self._queue.put_nowait(_END)
        self._space.set()
        self._set_state(StreamState.CLOSED)
        self._done.set()

    async def _access_token(self) -> str | None:
        """The provider's token; transient failures (server unreachable)
        return None, which counts as a failed attempt."""
        try:
            token = await _call_provider(self._token_provider)
        except AuthError as err:
            if isinstance(err, SignedOutError) or not err.transient:
                raise
            _log.info("event stream: no token yet (%s); retrying", err)
            return None
        if token is None:
            raise SignedOutError(SignedOutReason.NOT_SIGNED_IN)
        return str(token)

    async def _token_after_rejection(
        self, rejected: str | None, outcome: _Outcome, rejections: int
    ) -> str:
        """The server closed with 4001: a new token to reconnect with, or the
        error that ends the stream."""
        refused = EventStreamError(
            Code.UNAUTHENTICATED,
            f"the event stream refused the access token: {outcome.reason}",
            close_code=outcome.code,
            close_reason=outcome.reason,
        )
        if rejections > 1:
            raise refused  # a fresh token was refused too
        provider = self._token_provider
        if isinstance(provider, RefreshingTokenProvider):
            fresh = await _call_provider(provider.on_unauthenticated, rejected, refused)
        else:
            fresh = await self._access_token()
        if not fresh or fresh == rejected:
            raise refused
        return str(fresh)

    async def _connect_once(self, token: str) -> _Outcome:
        subprotocols = [SUBPROTOCOL_PROTO] if self._binary else [SUBPROTOCOL_JSON]
        options: dict[str, Any] = {
            "subprotocols": [Subprotocol(p) for p in subprotocols],
            "open_timeout": self._connect_timeout,
            "close_timeout": min(self._write_timeout, 5.0),
            # Liveness is the application heartbeat's job (the server pings too).
            "ping_interval": None,
            "user_agent_header": f"hivesync-python/{__version__} websockets/{_websockets_version}",
            **self._websocket_options,
        }
        if self._plugin_version is not None:
            headers = dict(options.get("additional_headers") or {})
            if all(name.lower() != PLUGIN_VERSION_HEADER.lower() for name in headers):
                headers[PLUGIN_VERSION_HEADER] = str(self._plugin_version)
            options["additional_headers"] = headers
        if self._ssl is not None:
            options["ssl"] = self._ssl
        try:
            ws = await connect(self.url, **options)
        except InvalidURI as err:
            raise EventStreamError(Code.INVALID_ARGUMENT, str(err)) from err
        except InvalidStatus as err:
            status = err.response.status_code
            if status in _PERMANENT_HTTP_STATUSES:
                msg = f"the event stream handshake was refused with HTTP {status}"
                raise EventStreamError(Code.FAILED_PRECONDITION, msg) from err
            return _Outcome(None, f"HTTP {status}")
        except (OSError, TimeoutError, InvalidHandshake) as err:
            return _Outcome(None, f"cannot connect: {err!r}")

        loop = asyncio.get_running_loop()
        conn = _Connection(
            ws=ws, binary=ws.subprotocol == SUBPROTOCOL_PROTO, ready=loop.create_future()
        )
        self._conn = conn
        self._last_received = loop.time()
        conn.reader = asyncio.create_task(self._read(conn), name="hivesync-event-stream-reader")
        keepalive: asyncio.Task[None] | None = None
        ready_at: float | None = None
        try:
            try:
                await self._send(conn, Event(auth=AuthEvent(token=token)))
                await asyncio.wait(
                    cast("set[asyncio.Future[object]]", {conn.ready, conn.reader}),
                    timeout=self._connect_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not conn.ready.done():
                    if not conn.reader.done():
                        _log.warning("event stream: no ready within %ss", self._connect_timeout)
                        conn.dead = True
                        ws.transport.abort()
                    outcome = await conn.reader
                    outcome.upgrade = conn.upgrade  # a refusal before ready (the header)
                    return outcome
                ready = conn.ready.result()
                ready_at = loop.time()
                self._ready = ready
                self.connections += 1
                await self._after_ready(conn)
                interval = self._heartbeat_override or float(
                    ready.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_INTERVAL_S
                )
                keepalive = asyncio.create_task(self._keepalive(conn, interval))
            except (ConnectionClosed, TimeoutError):
                pass  # the reader reports how the connection ended
            outcome = await conn.reader
            outcome.ready_at = ready_at
            outcome.upgrade = conn.upgrade
            return outcome
        finally:
            if keepalive is not None:
                keepalive.cancel()
            if not conn.reader.done():
                conn.reader.cancel()
            self._conn = None
            conn.release()
            for fut in self._pending.values():  # joined again by the next connection
                if not fut.done():
                    fut.set_result(None)
            self._pending.clear()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _after_ready(self, conn: _Connection) -> None:
        """Registers the device and joins every channel in one frame, then
        sends a heartbeat as a barrier (see :meth:`_heartbeat`): the stream is
        CONNECTED once it is answered."""
        if self._device is not None:
            await self._send(conn, Event(id=str(uuid.uuid4()), device_register=self._device))
        if not self._received:
            conn.subscribe_id = "-"  # nothing to join; later subscribe() calls send frames
            self._mark_connected(conn)
            return
        conn.subscribe_id = str(uuid.uuid4())
        conn.subscribe_channels = tuple(self._received)
        positions = [
            ChannelPosition(channel=name, last_sequence=self._received[name])
            for name in conn.subscribe_channels
        ]
        await self._send(
            conn, Event(id=conn.subscribe_id, subscribe=SubscribeEvent(channels=positions))
        )
        conn.connect_barrier = conn.heartbeats_sent + 1
        await self._heartbeat(conn)

    def _mark_connected(self, conn: _Connection) -> None:
        if not conn.connected:
            conn.connected = True
            self._set_state(StreamState.CONNECTED)

    async def _heartbeat(self, conn: _Connection) -> int:
        """Sends a heartbeat; returns its number on this connection.

        Heartbeats double as barriers. The server handles a socket's frames
        one at a time and answers in order, so the answer to heartbeat *n*
        means every frame sent before it has been fully handled. Servers
        that acknowledge a ``subscribe`` before joining its channels (the
        gateway's first release) or send no ack at all (a frame with a
        refused channel) still answer the heartbeat after the channels are
        joined, so the stream counts as CONNECTED only then."""
        conn.heartbeats_sent += 1
        number = conn.heartbeats_sent
        heartbeat_id = str(uuid.uuid4())
        conn.heartbeat_ids[heartbeat_id] = number
        await self._send(
            conn, Event(id=heartbeat_id, heartbeat=HeartbeatEvent(client_time=_timestamp_now()))
        )
        return number

    def _heartbeat_answered(self, conn: _Connection, number: int) -> None:
        conn.heartbeats_answered = max(conn.heartbeats_answered, number)
        answered = conn.heartbeats_answered
        for heartbeat_id, n in list(conn.heartbeat_ids.items()):
            if n <= answered:
                del conn.heartbeat_ids[heartbeat_id]
        waiting = []
        for n, fut in conn.barriers:
            if n <= answered:
                if not fut.done():
                    fut.set_result(None)
            else:
                waiting.append((n, fut))
        conn.barriers = waiting
        if conn.connect_barrier and answered >= conn.connect_barrier:
            self._mark_connected(conn)

    async def _barrier(self, conn: _Connection, timeout: float) -> None:
        """Waits until the server has handled every frame sent so far on
        ``conn`` (or the connection ends, or ``timeout`` passes: a heartbeat
        dropped by the server's rate limiter is never answered)."""
        try:
            number = await self._heartbeat(conn)
        except (ConnectionClosed, TimeoutError):
            return
        if conn.heartbeats_answered >= number:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conn.barriers.append((number, fut))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await fut

    async def _keepalive(self, conn: _Connection, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval / 2)
            silent = loop.time() - self._last_received
            if self._blocked == 0 and silent > 2 * interval:
                _log.warning("event stream: nothing received for %.1fs; reconnecting", silent)
                conn.dead = True
                conn.ws.transport.abort()
                return
            try:
                await self._heartbeat(conn)
            except (ConnectionClosed, TimeoutError):
                return

    async def _send(self, conn: _Connection, event: Event) -> None:
        data: str | bytes = (
            event.SerializeToString()
            if conn.binary
            else json_format.MessageToJson(event, indent=None)
        )
        try:
            async with asyncio.timeout(self._write_timeout):
                await conn.ws.send(data)
        except TimeoutError:
            conn.dead = True
            conn.ws.transport.abort()
            raise

    async def _request(self, conn: _Connection, event: Event, timeout: float) -> Event | None:
        """Sends a frame with a new id and waits for the ``ack`` or ``error``
        frame answering it; None when the connection was lost first."""
        event.id = str(uuid.uuid4())
        fut: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self._pending[event.id] = fut
        try:
            try:
                await self._send(conn, event)
            except (ConnectionClosed, TimeoutError):
                return None
            async with asyncio.timeout(timeout):
                return await fut
        finally:
            self._pending.pop(event.id, None)

    # -- internals: frames in ----------------------------------------------------------------

    async def _read(self, conn: _Connection) -> _Outcome:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await conn.ws.recv()
            except ConnectionClosed as closed:
                if closed.rcvd is not None:
                    return _Outcome(closed.rcvd.code, closed.rcvd.reason)
                reason = "no heartbeat answer" if conn.dead else "the connection dropped"
                return _Outcome(_CLOSE_ABNORMAL, reason)
            self._last_received = loop.time()
            event = Event()
            try:
                if isinstance(data, bytes):
                    event.ParseFromString(data)
                else:
                    json_format.Parse(data, event, ignore_unknown_fields=True)
            except (DecodeError, json_format.ParseError) as err:
                _log.warning("event stream: undecodable frame skipped: %s", err)
                continue
            await self._dispatch(conn, event)

    async def _dispatch(self, conn: _Connection, event: Event) -> None:
        kind = event.WhichOneof("payload")
        if kind == "ready":
            if not conn.ready.done():
                conn.ready.set_result(event.ready)
        elif kind == "heartbeat":
            self._heartbeat_answered(conn, conn.heartbeats_answered + 1)
        elif kind == "ack":
            await self._anchor(event.ack.positions)
            self._answer(event.ack.event_id, event)
        elif kind == "error":
            self._on_server_error(conn, event)
        elif event.channel:
            await self._on_channel_event(event, kind)
        else:
            _log.debug("event stream: ignored connection-level %s frame", event.event_type)

    def _answer(self, event_id: str, answer: Event) -> bool:
        fut = self._pending.pop(event_id, None) if event_id else None
        if fut is None or fut.done():
            return False
        fut.set_result(answer)
        return True

    async def _anchor(self, positions: Iterable[ChannelPosition]) -> None:
        """A subscribe ack says where each joined channel starts. A channel
        joined "from now on" with nothing received yet takes that as its
        position (reported to ``on_position``), so a reconnect before its
        first event resumes from there instead of leaving a gap."""
        for position in positions:
            name, start = position.channel, position.last_sequence
            if self._received.get(name, 0) >= 0 or start < 0:
                continue
            self._received[name] = start
            if self._handled.get(name, FROM_NOW_ON) < 0:
                self._handled[name] = start
                if self._on_position is not None:
                    await self._wait_for_app(self._on_position, name, start)

    def _on_server_error(self, conn: _Connection, event: Event) -> None:
        error = event.error
        if error.HasField("upgrade_required"):
            conn.upgrade = error.upgrade_required  # explains the 4026 close that follows
        if self._answer(error.event_id, event):
            return  # subscribe(), unsubscribe() and send() raise it
        if error.event_id in conn.heartbeat_ids:  # a throttled heartbeat
            self._heartbeat_answered(conn, conn.heartbeat_ids[error.event_id])
        if error.event_id and error.event_id == conn.subscribe_id:
            # The protocol names the refused channel only in the message
            # ("<channel>: <why>"), so match it against the channels sent.
            for name in conn.subscribe_channels:
                if error.message.startswith(f"{name}: ") and error.code in _PERMANENT_REFUSALS:
                    _log.warning("event stream: %s refused (%s); dropped", name, error.code)
                    self._forget(name)
        _log.warning("event stream: server error %s: %s", error.code, error.message)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the stream
                _log.exception("event stream: on_error raised")

    async def _on_channel_event(self, event: Event, kind: str | None) -> None:
        name = event.channel
        if name not in self._received:
            if name != BROADCAST_CHANNEL or name in self._left:
                return  # left with unsubscribe(); in flight when it was sent
            self._received[name] = FROM_NOW_ON  # joined by the server at ready
        if kind == "rehydrate":
            # Continue after resume_sequence even when it is below what was
            # seen (a position from another server that never existed here).
            self._received[name] = event.rehydrate.resume_sequence
            if self._on_rehydrate is not None:
                await self._wait_for_app(self._on_rehydrate, name, event.rehydrate.resume_sequence)
        elif event.sequence > 0:
            if event.sequence <= self._received[name]:
                self.duplicates_dropped += 1
                return
            self._received[name] = event.sequence
        await self._deliver(event)
        if self._ends_access(event, kind):
            _log.info("event stream: no longer receiving %s", name)
            self._forget(name)

    def _ends_access(self, event: Event, kind: str | None) -> bool:
        """Whether the server stops sending this channel after ``event``."""
        if kind == "project_purged":
            return True
        return (
            kind == "member_changed"
            and event.member_changed.change == MEMBER_CHANGE_REMOVED
            and self._ready is not None
            and event.member_changed.user_id == self._ready.user_id
        )

    def _forget(self, channel: str) -> None:
        self._received.pop(channel, None)
        self._handled.pop(channel, None)

    async def _wait_for_app(self, fn: Callable[..., object], *args: object) -> None:
        """Runs an application callback from the reader; the heartbeat
        watchdog does not count the time it takes as silence."""
        self._blocked += 1
        try:
            await _maybe_await(fn(*args))
        finally:
            self._blocked -= 1
            self._last_received = asyncio.get_running_loop().time()

    async def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            await self._wait_for_app(self._on_event, event)
            await self._handled_event(event)
            return
        if self._queue.qsize() >= self._max_pending:
            self._blocked += 1
            try:
                while self._queue.qsize() >= self._max_pending:
                    self._space.clear()
                    await self._space.wait()
            finally:
                self._blocked -= 1
                self._last_received = asyncio.get_running_loop().time()
        self._queue.put_nowait(event)

    async def _handled_last(self) -> None:
        event, self._last_yielded = self._last_yielded, None
        if event is not None:
            await self._handled_event(event)

    async def _handled_event(self, event: Event) -> None:
        name = event.channel
        if event.WhichOneof("payload") == "rehydrate":
            sequence = event.rehydrate.resume_sequence
        elif event.sequence > 0:
            sequence = event.sequence
        else:
            return
        if name in self._received:
            self._handled[name] = sequence
        if self._on_position is not None:
            await _maybe_await(self._on_position(name, sequence))


class EventStream:
    """Blocking twin of :class:`AsyncEventStream`, for code without an event loop
    (editor plugins, scripts): the stream runs on a private event loop in a
    daemon thread; this object drives it.

    Takes the same arguments. Callbacks (``on_event``, ``on_position``, ...)
    run on the stream's thread; a :class:`~hivesync.TokenManager` works as the
    token provider::

        with EventStream(url, token_provider=session, channels=positions) as stream:
            for event in stream:          # blocks; ends when close() is called
                handle(event)

    or ``EventStream(..., on_event=handle).run()``, which blocks until
    :meth:`close` (from another thread) or a fatal error (raised).
    """

    def __init__(self, base_url: str, **options: Any) -> None:  # noqa: ANN401
        self._stream = AsyncEventStream(base_url, **options)
        self._iterable = options.get("on_event") is None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="hivesync-event-stream", daemon=True
        )
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def url(self) -> str:
        """The WebSocket URL connected to."""
        return self._stream.url

    @property
    def state(self) -> StreamState:
        """The current :class:`StreamState`."""
        return self._stream.state

    @property
    def ready(self) -> ReadyEvent | None:
        """See :attr:`AsyncEventStream.ready`."""
        return self._stream.ready

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the stream, if one did."""
        return self._stream.error

    @property
    def positions(self) -> dict[str, int]:
        """See :attr:`AsyncEventStream.positions` (a snapshot)."""
        return self._call(self._snapshot())

    async def _snapshot(self) -> dict[str, int]:
        return self._stream.positions

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        with self._lock:
            if self._stopped:
                coro.close()
                msg = "the event stream was closed"
                raise RuntimeError(msg)
            if not self._thread.is_alive():
                self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None

    def start(self) -> None:
        """Starts connecting in the background."""
        self._call(self._stream.start())

    def subscribe(
        self, channel: str, last_sequence: int | None = None, *, timeout: float = 10.0
    ) -> None:
        """See :meth:`AsyncEventStream.subscribe`."""
        self._call(self._stream.subscribe(channel, last_sequence, timeout=timeout))

    def unsubscribe(self, channel: str, *, timeout: float = 10.0) -> None:
        """See :meth:`AsyncEventStream.unsubscribe`."""
        self._call(self._stream.unsubscribe(channel, timeout=timeout))

    def wait_connected(self, timeout: float | None = None) -> None:
        """See :meth:`AsyncEventStream.wait_connected`.

        Raises:
            TimeoutError: not connected after ``timeout`` seconds.
        """
        self._call(self._stream.wait_connected(), timeout)

    def wait_closed(self, timeout: float | None = None) -> None:
        """Blocks until the stream stops; raises the error that stopped it.

        Raises:
            TimeoutError: still running after ``timeout`` seconds.
        """
        self._call(self._stream.wait_closed(), timeout)

    def run(self) -> None:
        """Runs the stream until :meth:`close` or a fatal error (raised)."""
        self._call(self._stream.run())

    def close(self) -> None:
        """Closes the stream and stops its thread. Idempotent; callable from
        any thread. From a callback (the stream's own thread) it only stops
        the stream: call it again from another thread to end the thread."""
        if threading.current_thread() is self._thread:
            self._loop.create_task(self._stream.close())
            return
        with self._lock:  # one caller shuts down; the others wait for it
            if self._stopped:
                return
            if self._thread.is_alive():
                asyncio.run_coroutine_threadsafe(self._stream.close(), self._loop).result()
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
            self._loop.close()
            self._stopped = True

    def __iter__(self) -> Iterator[Event]:
        if not self._iterable:
            msg = "this stream delivers events to on_event; iterate a stream created without it"
            raise TypeError(msg)
        return self

    def __next__(self) -> Event:
        if self._stopped:
            if self._stream.error is not None:
                raise self._stream.error
            raise StopIteration
        try:
            return self._call(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
