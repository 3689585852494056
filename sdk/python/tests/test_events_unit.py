"""Event-stream rules checked against a scripted local WebSocket server: the
close codes the live server cannot be made to send on demand (4008, 1001,
4000, 1009), duplicate and replayed frames, resume positions, callbacks, and
the backoff. The live behaviour is in test_events.py."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hivesync import (
    AsyncEventStream,
    Backoff,
    EventStreamError,
    StreamState,
    event_stream_url,
)
from hivesync.v1.events_pb2 import Event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

CHANNEL = "project_sync:5b0f3c52-6d0e-4a43-9e3c-1f1f4f2b1c11"
FAST = Backoff(base=0.01, cap=0.05)


def run(coro: Awaitable[None], timeout: float = 30.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro

    asyncio.run(bounded())


def save_event(sequence: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "eventType": "save_file",
        "channel": CHANNEL,
        "sequence": str(sequence),
        "saveFile": {"fileId": "f", "revision": str(sequence)},
    }


@dataclass
class Connection:
    """What the server saw on one connection."""

    token: str = ""
    subscribed: list[dict[str, Any]] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)


class ScriptedServer:
    """Speaks the gateway's handshake (auth → ready, subscribe → ack,
    heartbeat → heartbeat) and runs ``script(ws, n)`` on the n-th connection
    (0-based) once it has subscribed."""

    def __init__(
        self,
        script: Callable[[ServerConnection, int], Awaitable[None]],
        *,
        head: int | None = None,
    ) -> None:
        self.script = script
        self.head = head  # set: acks carry start positions (-1 starts at head)
        self.connections: list[Connection] = []
        self.url = ""

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["hivesync.v1.json"],  # type: ignore[list-item]
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        n = len(self.connections)
        conn = Connection()
        self.connections.append(conn)
        scripted: asyncio.Task[None] | None = None
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if "auth" in frame:
                    conn.token = frame["auth"]["token"]
                    await ws.send(
                        json.dumps(
                            {
                                "eventType": "ready",
                                "ready": {
                                    "userId": "u",
                                    "sessionId": "s",
                                    "heartbeatIntervalSeconds": 30,
                                },
                            }
                        )
                    )
                elif "subscribe" in frame:
                    channels = frame["subscribe"]["channels"]
                    conn.subscribed.extend(channels)
                    ack: dict[str, Any] = {"eventId": frame["id"]}
                    if self.head is not None:
                        ack["positions"] = [
                            {
                                "channel": c["channel"],
                                "lastSequence": str(
                                    self.head
                                    if int(c.get("lastSequence", "0")) < 0
                                    else c["lastSequence"]
                                ),
                            }
                            for c in channels
                        ]
                    await ws.send(json.dumps({"eventType": "ack", "ack": ack}))
                elif "ack" in frame:
                    conn.acked.append(frame["ack"]["eventId"])
                    if frame["ack"]["eventId"] == "unknown":
                        error = {
                            "code": "not_found",
                            "message": "no such message",
                            "eventId": frame["id"],
                        }
                        await ws.send(json.dumps({"eventType": "error", "error": error}))
                    else:
                        await ws.send(
                            json.dumps({"eventType": "ack", "ack": {"eventId": frame["id"]}})
                        )
                elif "heartbeat" in frame:
                    await ws.send(json.dumps({"eventType": "heartbeat", "heartbeat": {}}))
                    if scripted is None and conn.subscribed:
                        scripted = asyncio.create_task(self.script(ws, n))
        except ConnectionClosed:
            pass
        finally:
            if scripted is not None:
                scripted.cancel()


async def collect(stream: AsyncEventStream, count: int) -> list[Event]:
    got: list[Event] = []
    async for event in stream:
        got.append(event)
        if len(got) == count:
            break
    return got


def test_resumes_after_slow_consumer_and_going_away_and_drops_duplicates() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        if n == 0:
            for seq in (1, 2, 3, 2, 4):  # 2 is sent twice
                await ws.send(json.dumps(save_event(seq)))
            await ws.close(4008, "too slow")
        elif n == 1:
            for seq in (3, 4, 5):  # a replay overlapping what was seen
                await ws.send(json.dumps(save_event(seq)))
            await ws.close(1001, "restarting")
        elif n == 2:
            await ws.send(json.dumps(save_event(6)))
            await ws.close(4000, "bad frames")
        else:
            await ws.send(json.dumps(save_event(7)))

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            tokens = iter(["t1", "t2", "t3", "t4"])
            stream = AsyncEventStream(
                server.url, token_provider=lambda: next(tokens), channels=[CHANNEL], backoff=FAST
            )
            async with stream:
                got = await collect(stream, 7)
            assert [e.sequence for e in got] == [1, 2, 3, 4, 5, 6, 7]
            assert stream.duplicates_dropped == 3
            assert [c.subscribed for c in server.connections] == [
                [{"channel": CHANNEL, "lastSequence": "-1"}],  # from now on
                [{"channel": CHANNEL, "lastSequence": "4"}],
                [{"channel": CHANNEL, "lastSequence": "5"}],
                [{"channel": CHANNEL, "lastSequence": "6"}],
            ]
            assert [c.token for c in server.connections] == ["t1", "t2", "t3", "t4"], (
                "a fresh token on every connect"
            )
            assert stream.connections == 4
            assert stream.positions == {CHANNEL: 6}, "the 7th is handled once the next is asked for"

    run(scenario())


def test_ack_positions_anchor_a_channel_joined_from_now_on() -> None:
    """The connection drops before the first event: the stream resumes from
    the start position the subscribe ack gave, so nothing published in
    between is lost, and reports that position to on_position."""

    async def script(ws: ServerConnection, n: int) -> None:
        if n == 0:
            await ws.close(1001, "restarting")
        else:
            await ws.send(json.dumps(save_event(42)))

    async def scenario() -> None:
        async with ScriptedServer(script, head=41) as server:
            persisted: list[tuple[str, int]] = []
            stream = AsyncEventStream(
                server.url,
                token_provider=lambda: "t",
                channels=[CHANNEL],
                backoff=FAST,
                on_position=lambda channel, seq: persisted.append((channel, seq)),
            )
            async with stream:
                first = await anext(stream)
            assert first.sequence == 42
            assert [c.subscribed for c in server.connections] == [
                [{"channel": CHANNEL, "lastSequence": "-1"}],
                [{"channel": CHANNEL, "lastSequence": "41"}],
            ]
            assert persisted == [(CHANNEL, 41)]

    run(scenario())


def test_broadcasts_arrive_unasked_and_resume() -> None:
    """The server puts every socket on the broadcast channel at ready: its
    events are delivered without a subscription and resumed on reconnect."""

    def broadcast(sequence: int) -> str:
        return json.dumps(
            {
                "eventType": "admin.message",
                "channel": "broadcast",
                "sequence": str(sequence),
                "adminMessage": {"id": f"m{sequence}", "title": "Hi", "requiresAck": True},
            }
        )

    async def script(ws: ServerConnection, n: int) -> None:
        if n == 0:
            await ws.send(broadcast(7))
            await ws.close(4008, "too slow")
        else:
            await ws.send(broadcast(8))

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            stream = AsyncEventStream(
                server.url, token_provider=lambda: "t", channels=[CHANNEL], backoff=FAST
            )
            async with stream:
                got = await collect(stream, 2)
            assert [(e.channel, e.sequence) for e in got] == [("broadcast", 7), ("broadcast", 8)]
            assert got[0].admin_message.requires_ack
            assert server.connections[1].subscribed == [
                {"channel": CHANNEL, "lastSequence": "-1"},
                {"channel": "broadcast", "lastSequence": "7"},
            ]

    run(scenario())


def test_ack_is_confirmed_or_refused() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await asyncio.sleep(3600)

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            stream = AsyncEventStream(server.url, token_provider=lambda: "t", channels=[CHANNEL])
            with pytest.raises(ConnectError) as info:
                await stream.ack("m1")
            assert info.value.code == Code.UNAVAILABLE, "not connected yet"
            async with stream:
                await stream.wait_connected()
                await stream.ack("m1")
                with pytest.raises(ConnectError) as info:
                    await stream.ack("unknown")
                assert info.value.code == Code.NOT_FOUND
            assert server.connections[0].acked == ["m1", "unknown"]

    run(scenario())


def test_frame_too_big_stops_the_stream() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.close(1009, "frames may be at most 65536 bytes")

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            stream = AsyncEventStream(
                server.url, token_provider=lambda: "t", channels=[CHANNEL], backoff=FAST
            )
            with pytest.raises(EventStreamError) as info:
                await stream.run()
            assert info.value.close_code == 1009
            assert info.value.code == Code.INVALID_ARGUMENT
            assert len(server.connections) == 1
            assert stream.state is StreamState.CLOSED

    run(scenario())


def test_on_event_callbacks_and_positions() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        for seq in (11, 12, 13):
            await ws.send(json.dumps(save_event(seq)))

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            handled: list[int] = []
            persisted: list[tuple[str, int]] = []

            async def on_event(event: Event) -> None:
                handled.append(event.sequence)
                assert persisted[-1:] != [(CHANNEL, event.sequence)], "persisted after handling"
                if event.sequence == 13:
                    raise RuntimeError("handler failed")

            stream = AsyncEventStream(
                server.url,
                token_provider=lambda: "t",
                channels={CHANNEL: 10},
                on_event=on_event,
                on_position=lambda channel, seq: persisted.append((channel, seq)),
            )
            with pytest.raises(TypeError):
                aiter(stream)
            with pytest.raises(RuntimeError, match="handler failed"):
                await stream.run()
            assert handled == [11, 12, 13]
            assert persisted == [(CHANNEL, 11), (CHANNEL, 12)], "the failed event is not handled"
            assert stream.positions == {CHANNEL: 12}
            assert server.connections[0].subscribed == [{"channel": CHANNEL, "lastSequence": "10"}]

    run(scenario())


def test_close_ends_iteration() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(json.dumps(save_event(1)))

    async def scenario() -> None:
        async with ScriptedServer(script) as server:
            stream = AsyncEventStream(server.url, token_provider=lambda: "t", channels=[CHANNEL])
            async with stream:
                first = await anext(stream)
                assert first.sequence == 1
                asyncio.get_running_loop().call_later(
                    0.05, lambda: asyncio.ensure_future(stream.close())
                )
                rest = [e async for e in stream]
            assert rest == []
            assert stream.state is StreamState.CLOSED
            assert stream.error is None

    run(scenario())


def test_unreachable_server_keeps_retrying_until_closed() -> None:
    async def scenario() -> None:
        states: list[StreamState] = []
        stream = AsyncEventStream(
            "http://127.0.0.1:9",  # discard port: nothing listens
            token_provider=lambda: "t",
            backoff=FAST,
            on_state=states.append,
        )
        await stream.start()
        async with asyncio.timeout(10):
            while states.count(StreamState.RECONNECTING) < 3:
                await asyncio.sleep(0.01)
        await stream.close()
        assert stream.state is StreamState.CLOSED
        assert stream.error is None
        assert stream.last_close_code is None
        assert "cannot connect" in stream.last_close_reason

    run(scenario())


def test_backoff_is_exponential_with_full_jitter() -> None:
    backoff = Backoff(base=0.25, cap=30.0)
    rng = random.Random(7)
    for attempt in range(12):
        bound = min(30.0, 0.25 * 2**attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.8, "spread over the whole range"
        assert min(delays) < bound * 0.2
    assert backoff.delay(10_000, rng) <= 30.0


@pytest.mark.parametrize(
    ("base", "want"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/api/v1/ws"),
        ("https://api.hivesync.dev/", "wss://api.hivesync.dev/api/v1/ws"),
        ("https://example.com/hivesync", "wss://example.com/hivesync/api/v1/ws"),
        ("wss://edge.hivesync.dev/api/v1/ws", "wss://edge.hivesync.dev/api/v1/ws"),
    ],
)
def test_event_stream_url(base: str, want: str) -> None:
    assert event_stream_url(base) == want


def test_bad_arguments_are_refused_early() -> None:
    with pytest.raises(ValueError, match="scheme"):
        event_stream_url("ftp://example.com")
    with pytest.raises(ValueError, match="kind:id"):
        AsyncEventStream("http://x", token_provider=lambda: "t", channels=["nope"])
    with pytest.raises(ValueError, match=">= -1"):
        AsyncEventStream("http://x", token_provider=lambda: "t", channels={CHANNEL: -2})
    AsyncEventStream("http://x", token_provider=lambda: "t", channels=["broadcast", CHANNEL])
