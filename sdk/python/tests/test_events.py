"""The event stream against a live hivesyncd (see conftest.py).

Saves made through the SDK's Connect clients must reach an AsyncEventStream as
``save_file`` events, exactly once and in order, even when the connection is
cut mid-stream (a TCP relay between the stream and the server drops or
freezes its connections); a resume point the server cannot serve must run
``on_rehydrate``; a revoked session must end the stream with the typed
StreamRevokedError; a bad token must not loop; an outdated client (plugin
protocol or client build below the server's minimum) must end the stream with
the typed StreamUpgradeRequiredError, without reconnecting.

The server runs with HIVESYNC_WS_PING_INTERVAL=1s (conftest): ready announces
a 1 s heartbeat and revoked sessions are closed within about a second.
Timeouts below are upper bounds only: every step awaits an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from connectrpc.code import Code

from hivesync import (
    PLUGIN_PROTOCOL_VERSION,
    AsyncEventStream,
    AsyncHiveSyncClient,
    Backoff,
    EventStream,
    EventStreamError,
    HiveSyncClient,
    MemoryTokenStore,
    SignedOutError,
    SignedOutReason,
    StreamRevokedError,
    StreamState,
    StreamUpgradeRequiredError,
    SubscriptionError,
    TokenManager,
    Tokens,
    upgrade_required,
)
from hivesync.v1.auth_service_pb2 import RevokeSessionRequest
from hivesync.v1.device_service_pb2 import RegisterDeviceRequest
from hivesync.v1.errors_pb2 import UpgradeRequired
from hivesync.v1.events_pb2 import (
    WS_CLOSE_CODE_REVOKED,
    WS_CLOSE_CODE_UNAUTHENTICATED,
    WS_CLOSE_CODE_UPGRADE_REQUIRED,
    ErrorEvent,
    Event,
)
from hivesync.v1.file_service_pb2 import CreateFileRequest, SaveFileRequest
from hivesync.v1.project_service_pb2 import CreateProjectRequest

from .conftest import (
    CURRENT_PLUGIN_PROTOCOL_VERSION,
    MIN_CLIENT_VERSION,
    MIN_PLUGIN_PROTOCOL_VERSION,
    UPGRADE_URL,
    WS_REPLAY_WINDOW,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

PLUGIN_VERSION = CURRENT_PLUGIN_PROTOCOL_VERSION
STEP_TIMEOUT_S = 20.0
"""Upper bound for one awaited step (an event, a connection)."""


def run(coro: Awaitable[None], timeout: float = 120.0) -> None:
    """Runs a scenario with an overall upper bound."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro

    asyncio.run(bounded())


@dataclass
class Editor:
    """A signed-in editor session (vscode) of a fresh user."""

    token: str
    refresh_token: str
    user_id: str
    session_id: str

    def provider(self) -> Callable[[], str]:
        return lambda: self.token


@pytest.fixture
def editor(mint_tokens: Callable[..., dict[str, Any]]) -> Editor:
    minted = mint_tokens(f"events-{uuid.uuid4().hex[:12]}@example.test", "vscode")
    return Editor(
        token=str(minted["access_token"]),
        refresh_token=str(minted["refresh_token"]),
        user_id=str(minted["user_id"]),
        session_id=str(minted["session_id"]),
    )


@dataclass
class ProjectFile:
    """A file of a new project, and its current head (for the next save)."""

    hs: AsyncHiveSyncClient
    project_id: str
    file_id: str
    head: str
    revision: int = 1

    @property
    def channel(self) -> str:
        return f"project_sync:{self.project_id}"

    async def save(self) -> int:
        """Saves a new version on the head; returns its revision number."""
        version = (
            await self.hs.files.save_file(
                SaveFileRequest(
                    file_id=self.file_id,
                    base_revision_id=self.head,
                    content=f"revision {self.revision + 1}\n",
                    idempotency_key=str(uuid.uuid4()),
                )
            )
        ).version
        assert version.revision == self.revision + 1
        self.head, self.revision = version.id, version.revision
        return version.revision


async def new_file(hs: AsyncHiveSyncClient) -> ProjectFile:
    project = (await hs.projects.create_project(CreateProjectRequest(name="Events"))).project
    created = (
        await hs.files.create_file(
            CreateFileRequest(project_id=project.id, path="src/app.ts", content="revision 1\n")
        )
    ).file
    return ProjectFile(hs, project.id, created.id, created.head.id)


def client(base_url: str, ed: Editor) -> AsyncHiveSyncClient:
    return AsyncHiveSyncClient(
        base_url, token_provider=ed.provider(), plugin_version=PLUGIN_VERSION
    )


def stream_of(base_url: str, **options: Any) -> AsyncEventStream:  # noqa: ANN401
    """An AsyncEventStream announcing the current plugin protocol: the server
    under test requires at least MIN_PLUGIN_PROTOCOL_VERSION, above the SDK's
    default, and would refuse the stream with 4026 (see the upgrade tests)."""
    options.setdefault("plugin_version", PLUGIN_VERSION)
    return AsyncEventStream(base_url, **options)


async def next_event(stream: AsyncEventStream) -> Event:
    async with asyncio.timeout(STEP_TIMEOUT_S):
        return await anext(stream)


async def connected(stream: AsyncEventStream) -> None:
    async with asyncio.timeout(STEP_TIMEOUT_S):
        await stream.wait_connected()


# --------------------------------------------------------------------------- a TCP relay


@dataclass(eq=False)
class _Link:
    """One relayed connection: the client's socket and the server's."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    frozen: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        self.client.transport.abort()
        self.upstream.transport.abort()


class TcpProxy:
    """A TCP relay on 127.0.0.1 in front of the server. ``drop()`` cuts every
    current connection without a close frame (a network failure);
    ``freeze()`` keeps them open but stops relaying (a dead NAT mapping);
    while ``refusing`` is set, new connections are cut at once (the network
    is still down). Otherwise new connections are relayed normally."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self.accepted = 0
        self.refusing = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        await self._server.wait_closed()

    def drop(self) -> int:
        """Cuts every current connection; returns how many there were."""
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        return len(links)

    def freeze(self) -> int:
        """Stops relaying on every current connection (bytes are discarded)."""
        for link in self._links:
            link.frozen = True
        return len(self._links)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        link = _Link(writer, up_writer)
        self._links.add(link)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if link.frozen:
                        continue
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                link.abort()
                self._links.discard(link)

        link.tasks = [
            asyncio.create_task(pump(reader, up_writer)),
            asyncio.create_task(pump(up_reader, writer)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("binary", [False, True], ids=["json", "proto"])
def test_a_save_arrives_as_a_save_file_event(base_url: str, editor: Editor, binary: bool) -> None:
    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            f = await new_file(hs)
            states: list[StreamState] = []
            positions: list[tuple[str, int]] = []
            async with stream_of(
                base_url,
                token_provider=editor.provider(),
                channels=[f.channel],
                binary=binary,
                on_state=states.append,
                on_position=lambda channel, seq: positions.append((channel, seq)),
            ) as stream:
                await connected(stream)
                assert stream.ready is not None
                assert stream.ready.user_id == editor.user_id
                assert stream.ready.session_id == editor.session_id
                assert stream.ready.heartbeat_interval_seconds == 1  # conftest's ping interval

                revision = await f.save()
                event = await next_event(stream)
                assert event.event_type == "save_file"
                assert event.WhichOneof("payload") == "save_file"
                assert event.channel == f.channel
                assert event.sequence > 0
                assert event.id
                assert event.save_file.project_id == f.project_id
                assert event.save_file.file_id == f.file_id
                assert event.save_file.revision_id == f.head
                assert event.save_file.revision == revision == 2
                assert event.save_file.author_user_id == editor.user_id
                # A server whose subscribe ack carries start positions has
                # anchored the channel there; the event itself counts as
                # handled only when the next one is asked for.
                anchor = [(f.channel, event.sequence - 1)]
                assert positions in ([], anchor)
                positions.clear()

                await f.save()
                second = await next_event(stream)
                assert second.sequence == event.sequence + 1
                assert positions == [(f.channel, event.sequence)]
                assert stream.positions == {f.channel: event.sequence}
            assert states[:2] == [StreamState.CONNECTING, StreamState.CONNECTED]
            assert states[-1] is StreamState.CLOSED
            assert stream.connections == 1

    run(scenario())


def test_forced_disconnects_lose_no_event(base_url: str, editor: Editor) -> None:
    """30 saves while the relay cuts the connection four times, each time
    keeping the network down for the next two saves: every save arrives
    exactly once, in order, with contiguous sequences."""
    saves, drops_after = 30, {3, 9, 16, 24}

    async def scenario() -> None:
        async with client(base_url, editor) as hs, TcpProxy(base_url) as proxy:
            f = await new_file(hs)
            received: list[Event] = []
            enough = asyncio.Event()
            want = 1

            async def consume(stream: AsyncEventStream) -> None:
                async for event in stream:
                    received.append(event)
                    if len(received) >= want:
                        enough.set()

            async with stream_of(
                proxy.url,
                token_provider=editor.provider(),
                channels=[f.channel],
                backoff=Backoff(base=0.05, cap=0.5),  # failed attempts pile up while refusing
            ) as stream:
                consumer = asyncio.create_task(consume(stream))
                await connected(stream)
                # One event first, so the stream holds a resume point (a
                # channel joined "from now on" has none until then).
                await f.save()
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    await enough.wait()

                drops = 0
                for i in range(saves):
                    await f.save()
                    if i in drops_after:
                        await connected(stream)  # a live connection to cut
                        proxy.refusing = True
                        assert proxy.drop() == 1
                        drops += 1
                    elif i - 2 in drops_after:  # two saves made while down
                        proxy.refusing = False
                # A last save on a settled connection: events of a channel
                # arrive in order, so any duplicate of an earlier one would
                # have been delivered before it.
                await connected(stream)
                await f.save()
                want = saves + 2
                enough.clear()
                if len(received) < want:
                    async with asyncio.timeout(60):
                        await enough.wait()
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer

            revisions = [e.save_file.revision for e in received]
            assert revisions == list(range(2, saves + 4)), "every save, once, in order"
            assert all(e.event_type == "save_file" and e.channel == f.channel for e in received)
            sequences = [e.sequence for e in received]
            assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
            assert len({e.id for e in received}) == len(received)
            assert stream.connections == 1 + drops
            assert proxy.accepted == 1 + drops

    run(scenario())


def test_a_silent_connection_is_replaced(base_url: str, editor: Editor) -> None:
    """The relay freezes the connection (nothing passes, nothing closes): the
    heartbeat notices within two intervals, reconnects and resumes."""

    async def scenario() -> None:
        async with client(base_url, editor) as hs, TcpProxy(base_url) as proxy:
            f = await new_file(hs)
            states: list[StreamState] = []
            async with stream_of(
                proxy.url,
                token_provider=editor.provider(),
                channels=[f.channel],
                on_state=states.append,
            ) as stream:
                await connected(stream)
                await f.save()
                first = await next_event(stream)
                assert proxy.freeze() == 1
                await f.save()  # made while the stream hears nothing
                second = await next_event(stream)
                assert second.sequence == first.sequence + 1
                assert second.save_file.revision == 3
                assert stream.connections == 2
                assert stream.last_close_code == 1006
                assert StreamState.RECONNECTING in states

    run(scenario())


def test_rehydrate_when_the_resume_point_cannot_be_served(base_url: str, editor: Editor) -> None:
    """A position the channel never reached (e.g. from a restored backup) is
    answered with rehydrate: on_rehydrate runs, the stream continues after
    resume_sequence (below the stale position) and delivers what follows."""

    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            f = await new_file(hs)
            await f.save()
            calls: list[tuple[str, int]] = []
            persisted: dict[str, int] = {}

            async def refetch(channel: str, resume: int) -> None:
                await asyncio.sleep(0)  # coroutine callbacks are awaited
                calls.append((channel, resume))

            async with stream_of(
                base_url,
                token_provider=editor.provider(),
                channels={f.channel: 1_000_000},
                on_rehydrate=refetch,
                on_position=persisted.__setitem__,
            ) as stream:
                marker = await next_event(stream)
                assert marker.WhichOneof("payload") == "rehydrate"
                assert marker.channel == f.channel
                resume = marker.rehydrate.resume_sequence
                assert 0 < resume < 1_000_000
                assert calls == [(f.channel, resume)], "ran before the marker was delivered"

                await f.save()
                after = await next_event(stream)
                assert after.event_type == "save_file"
                assert after.sequence == resume + 1
                assert persisted == {f.channel: resume}
                assert stream.positions == {f.channel: resume}

    run(scenario())


def test_resume_from_persisted_positions_replays_or_rehydrates(
    base_url: str, editor: Editor
) -> None:
    """Positions persisted from on_position resume a later stream (here
    driven by on_event): a short absence is replayed event by event; one
    longer than the server's replay window (conftest: 40) gets rehydrate."""

    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            f = await new_file(hs)
            persisted: dict[str, int] = {}

            async def session(saves_while_offline: int) -> list[Event]:
                """Saves while no stream runs, then follows the channel from
                the persisted positions until one more save arrives."""
                for _ in range(saves_while_offline):
                    await f.save()
                got: list[Event] = []
                rehydrated: list[tuple[str, int]] = []
                arrived = asyncio.Event()
                target = f.revision + 1

                def on_event(event: Event) -> None:
                    got.append(event)
                    if event.save_file.revision == target:
                        arrived.set()

                stream = stream_of(
                    base_url,
                    token_provider=editor.provider(),
                    channels=dict(persisted) or [f.channel],
                    on_event=on_event,
                    on_position=persisted.__setitem__,
                    on_rehydrate=lambda channel, resume: rehydrated.append((channel, resume)),
                )
                try:
                    await connected(stream)
                    await f.save()
                    async with asyncio.timeout(STEP_TIMEOUT_S):
                        await arrived.wait()
                finally:
                    await stream.close()
                assert persisted == {f.channel: got[-1].sequence}, "on_event returned: handled"
                if rehydrated:
                    assert rehydrated == [(f.channel, got[0].rehydrate.resume_sequence)]
                return got

            first = await session(0)
            assert [e.save_file.revision for e in first] == [2]

            short = await session(3)  # missed 3 saves: replayed
            assert [e.save_file.revision for e in short] == [3, 4, 5, 6]
            assert [e.sequence for e in short] == [first[0].sequence + i for i in range(1, 5)]

            long = await session(WS_REPLAY_WINDOW + 2)  # missed too many: rehydrate
            assert long[0].WhichOneof("payload") == "rehydrate"
            resume = long[0].rehydrate.resume_sequence
            assert resume == short[-1].sequence + WS_REPLAY_WINDOW + 2
            assert [(e.sequence, e.save_file.revision) for e in long[1:]] == [
                (resume + 1, f.revision)
            ]

    run(scenario())


def test_a_revoked_session_ends_the_stream(base_url: str, editor: Editor) -> None:
    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            f = await new_file(hs)
            stream = stream_of(
                base_url, token_provider=editor.provider(), channels=[f.channel]
            )
            try:
                await connected(stream)
                assert stream.ready is not None
                await hs.auth.revoke_session(
                    RevokeSessionRequest(session_id=stream.ready.session_id)
                )
                with pytest.raises(StreamRevokedError) as info:
                    async with asyncio.timeout(STEP_TIMEOUT_S):
                        await stream.wait_closed()
                err = info.value
                assert isinstance(err, SignedOutError)
                assert isinstance(err, EventStreamError)
                assert err.reason is SignedOutReason.SESSION_ENDED
                assert err.code == Code.UNAUTHENTICATED
                assert err.close_code == WS_CLOSE_CODE_REVOKED
                assert stream.state is StreamState.CLOSED
                assert stream.connections == 1, "no reconnect after 4003"
                with pytest.raises(StreamRevokedError):
                    await next_event(stream)
            finally:
                await stream.close()

    run(scenario())


def test_a_bad_token_stops_instead_of_looping(base_url: str) -> None:
    calls = 0

    def garbage() -> str:
        nonlocal calls
        calls += 1
        return "not-a-token"

    async def scenario() -> None:
        stream = stream_of(base_url, token_provider=garbage, channels=["user:nobody"])
        with pytest.raises(EventStreamError) as info:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                await stream.run()
        assert info.value.code == Code.UNAUTHENTICATED
        assert info.value.close_code == WS_CLOSE_CODE_UNAUTHENTICATED
        assert not isinstance(info.value, SignedOutError)
        assert stream.connections == 0
        assert calls == 2, "asked once more after the refusal, then gave up"

    run(scenario())


def test_a_refused_token_is_refreshed_by_the_token_manager(base_url: str, editor: Editor) -> None:
    """A TokenManager whose access token the server refuses (4001): the stream
    asks it to refresh and reconnects with the new token."""
    manager = TokenManager(
        base_url,
        "vscode",
        store=MemoryTokenStore(
            Tokens(
                access_token="stale-access-token",
                refresh_token=editor.refresh_token,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        ),
    )

    async def scenario() -> None:
        async with stream_of(
            base_url, token_provider=manager, channels=[f"user:{editor.user_id}"]
        ) as stream:
            await connected(stream)
            assert manager.refresh_count == 1
            assert stream.connections == 1
            assert stream.last_close_code == WS_CLOSE_CODE_UNAUTHENTICATED
            assert stream.ready is not None
            assert stream.ready.user_id == editor.user_id

    try:
        run(scenario())
    finally:
        manager.close()


def test_a_signed_out_provider_stops_the_stream(base_url: str) -> None:
    async def scenario() -> None:
        stream = stream_of(base_url, token_provider=lambda: None)
        with pytest.raises(SignedOutError) as info:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                await stream.wait_connected()
        assert info.value.reason is SignedOutReason.NOT_SIGNED_IN

    run(scenario())


def test_subscribe_and_unsubscribe_at_runtime(base_url: str, editor: Editor) -> None:
    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            a, b = await new_file(hs), await new_file(hs)
            refused: list[str] = []
            async with stream_of(
                base_url,
                token_provider=editor.provider(),
                on_error=lambda err: refused.append(err.code),
            ) as stream:
                await connected(stream)  # no channels yet
                await stream.subscribe(a.channel)
                assert stream.channels == [a.channel]
                await a.save()
                got = await next_event(stream)
                assert (got.channel, got.save_file.revision) == (a.channel, 2)

                stranger = f"project_sync:{uuid.uuid4()}"
                with pytest.raises(SubscriptionError) as info:
                    await stream.subscribe(stranger)
                assert info.value.code == Code.NOT_FOUND
                assert info.value.channel == stranger
                assert stranger not in stream.channels, "a refused channel is dropped"
                with pytest.raises(ValueError, match="kind:id"):
                    await stream.subscribe("no-kind")

                await stream.unsubscribe(a.channel)
                assert stream.channels == []
                await a.save()
                await stream.subscribe(b.channel)
                await b.save()
                got = await next_event(stream)
                assert got.channel == b.channel, "nothing more from the channel left"
                assert refused == [], "answers to subscribe() do not go to on_error"

    run(scenario())


def test_a_refused_channel_at_connect_goes_to_on_error(base_url: str, editor: Editor) -> None:
    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            f = await new_file(hs)
            errors: list[tuple[str, str]] = []
            stranger = f"project_sync:{uuid.uuid4()}"
            async with stream_of(
                base_url,
                token_provider=editor.provider(),
                channels=[stranger, f.channel],
                on_error=lambda err: errors.append((err.code, err.message)),
            ) as stream:
                await connected(stream)
                assert [code for code, _ in errors] == ["not_found"]
                assert stream.channels == [f.channel]
                await f.save()
                assert (await next_event(stream)).channel == f.channel

    run(scenario())


def test_blocking_event_stream(base_url: str, editor: Editor) -> None:
    """EventStream drives an AsyncEventStream from plain threads."""
    with HiveSyncClient(
        base_url, token_provider=editor.provider(), plugin_version=PLUGIN_VERSION
    ) as hs:
        project = hs.projects.create_project(CreateProjectRequest(name="Blocking")).project
        created = hs.files.create_file(
            CreateFileRequest(project_id=project.id, path="a.txt", content="1\n")
        ).file
        channel = f"project_sync:{project.id}"
        with EventStream(
            base_url,
            token_provider=editor.provider(),
            plugin_version=PLUGIN_VERSION,
            channels=[channel],
            backoff=Backoff(base=0.05),
        ) as stream:
            stream.wait_connected(STEP_TIMEOUT_S)
            hs.files.save_file(
                SaveFileRequest(file_id=created.id, base_revision_id=created.head.id, content="2\n")
            )
            event = next(iter(stream))
            assert event.event_type == "save_file"
            assert event.save_file.revision == 2

            # close() from another thread ends a blocked iteration.
            threading.Timer(0.2, stream.close).start()
            assert list(stream) == []
        assert stream.state is StreamState.CLOSED


class _CountingProvider:
    """A token provider that counts the connection attempts asking it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.token


def test_a_client_build_below_the_minimum_ends_the_stream_with_upgrade_required(
    base_url: str, editor: Editor
) -> None:
    """device_register states client_build 2 < HIVESYNC_MIN_CLIENT_VERSION 3: an
    error frame with upgrade_required, then close 4026; the stream stops with
    StreamUpgradeRequiredError and does not reconnect."""
    too_old = MIN_CLIENT_VERSION - 1

    async def scenario() -> None:
        async with client(base_url, editor) as hs:
            device = (
                await hs.devices.register_device(
                    RegisterDeviceRequest(name="python outdated", platform="linux")
                )
            ).device
        provider = _CountingProvider(editor.token)
        errors: list[ErrorEvent] = []
        states: list[StreamState] = []
        stream = stream_of(
            base_url,
            token_provider=provider,
            device=device.id,
            client_build=too_old,
            backoff=Backoff(base=0.02, cap=0.1),
            on_error=errors.append,
            on_state=states.append,
        )
        with pytest.raises(StreamUpgradeRequiredError) as info:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                await stream.run()
        err = info.value
        assert isinstance(err, EventStreamError)
        assert not isinstance(err, SignedOutError), "update the client; the session is fine"
        assert err.code == Code.FAILED_PRECONDITION
        assert err.close_code == WS_CLOSE_CODE_UPGRADE_REQUIRED
        up = err.upgrade_required
        assert up is not None, "the UpgradeRequired of the error frame before the close"
        assert up.reason == UpgradeRequired.REASON_CLIENT_TOO_OLD
        assert up.client_version == too_old
        assert up.min_supported_version == MIN_CLIENT_VERSION
        assert up.upgrade_url == UPGRADE_URL
        assert "update" in up.message.lower()
        assert err.message == up.message, "the server's sentence, to show as it is"
        assert upgrade_required(err) == up, "the RPC helper reads it too"
        # The error frame answering device_register reached on_error first.
        assert [e.code for e in errors] == ["failed_precondition"]
        assert errors[0].upgrade_required == up

        await asyncio.sleep(1.0)  # longer than many fast backoffs: no reconnect
        assert stream.state is StreamState.CLOSED
        assert StreamState.RECONNECTING not in states
        assert stream.connections == 1, "ready once, then refused for good"
        assert provider.calls == 1, "no second connection attempt"
        assert stream.last_close_code == WS_CLOSE_CODE_UPGRADE_REQUIRED

    run(scenario())


def test_the_default_plugin_protocol_is_refused_at_the_upgrade_request(
    base_url: str, editor: Editor
) -> None:
    """The SDK's own PLUGIN_PROTOCOL_VERSION (1) is below the server's minimum
    (2): the X-HiveSync-Plugin-Version header of the upgrade request is
    refused before ready, and the stream stops with StreamUpgradeRequiredError
    (PLUGIN_PROTOCOL_TOO_OLD) without reconnecting. plugin_version=None
    states no protocol and is let through."""
    assert PLUGIN_PROTOCOL_VERSION < MIN_PLUGIN_PROTOCOL_VERSION

    async def scenario() -> None:
        provider = _CountingProvider(editor.token)
        states: list[StreamState] = []
        stream = AsyncEventStream(  # the SDK's defaults
            base_url,
            token_provider=provider,
            channels=[f"user:{editor.user_id}"],
            backoff=Backoff(base=0.02, cap=0.1),
            on_state=states.append,
        )
        with pytest.raises(StreamUpgradeRequiredError) as info:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                await stream.run()
        err = info.value
        assert err.close_code == WS_CLOSE_CODE_UPGRADE_REQUIRED
        up = err.upgrade_required
        assert up is not None
        assert up.reason == UpgradeRequired.REASON_PLUGIN_PROTOCOL_TOO_OLD
        assert up.client_version == PLUGIN_PROTOCOL_VERSION
        assert up.min_supported_version == MIN_PLUGIN_PROTOCOL_VERSION
        assert up.current_version == CURRENT_PLUGIN_PROTOCOL_VERSION
        assert up.upgrade_url == UPGRADE_URL

        await asyncio.sleep(1.0)
        assert stream.connections == 0, "refused before ready"
        assert provider.calls == 1, "no second connection attempt"
        assert StreamState.RECONNECTING not in states
        assert stream.state is StreamState.CLOSED

        # No stated protocol (no header): accepted.
        async with AsyncEventStream(
            base_url, token_provider=editor.provider(), plugin_version=None
        ) as unstated:
            await connected(unstated)

    run(scenario())
