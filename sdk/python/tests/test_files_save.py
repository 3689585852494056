"""hivesync.files.save_file / save_file_async against a live hivesyncd.

A plain save is Saved on attempt 1 with a generated UUID v4 key; a stale base
is Conflicted (decoded detail) and not retried; not_found / invalid_argument
are raised after one call; a save whose answer is lost (a local TCP proxy
forwards the request, then cuts the connection at the answer's first byte) is
retried with the same key and returns the version the first attempt stored,
with exactly one new version on the server; cancellation stops the retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from hivesync import (
    AsyncHiveSyncClient,
    Conflicted,
    HiveSyncClient,
    RetryPolicy,
    Saved,
    is_retryable_save_error,
    save_file,
    save_file_async,
)
from hivesync.v1.device_service_pb2 import RegisterDeviceRequest
from hivesync.v1.file_service_pb2 import (
    CreateFileRequest,
    File,
    GetFileRequest,
    ListVersionsRequest,
    SaveFileRequest,
)
from hivesync.v1.project_service_pb2 import CreateProjectRequest

from .conftest import CURRENT_PLUGIN_PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FAST = RetryPolicy(base_delay=0.02, max_delay=0.1)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LossyProxy:
    """A threaded TCP relay to the server that can lose answers: after
    ``drop_next_answers(n)`` the next ``n`` connections on which the server
    starts answering are reset at the answer's first byte (the request was
    handled, the client never sees the response). While ``refusing`` is set
    every connection is closed at once."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._drop = 0
        self.dropped = 0
        self._refusing = False
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_answers(self, n: int) -> None:
        with self._lock:
            self._drop = n

    @property
    def refusing(self) -> bool:
        return self._refusing

    @refusing.setter
    def refusing(self, on: bool) -> None:
        self._refusing = on
        if on:
            self._close_all()

    def close(self) -> None:
        self._listener.close()
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            socks = list(self._open)
            self._open.clear()
        for s in socks:
            _reset(s)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            losing = [False]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, losing), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, losing: list[bool] | None) -> None:
        try:
            while data := src.recv(65536):
                if losing is not None:
                    with self._lock:
                        if not losing[0] and self._drop > 0:
                            self._drop -= 1
                            self.dropped += 1
                            losing[0] = True
                    if losing[0]:
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _reset(src)
            _reset(dst)


def _reset(s: socket.socket) -> None:
    """Cuts ``s`` (RST); shutdown() first wakes a thread blocked in recv() on it."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


@dataclass
class Editor:
    token: str
    hs: HiveSyncClient
    device_id: str


@pytest.fixture
def editor(base_url: str, mint_tokens: Callable[..., dict[str, Any]]) -> Iterator[Editor]:
    minted = mint_tokens(f"save-helper-{uuid.uuid4().hex[:12]}@example.test", "vscode")
    token = str(minted["access_token"])
    hs = HiveSyncClient(base_url, token_provider=lambda: token, plugin_version=CURRENT_PLUGIN_PROTOCOL_VERSION)
    try:
        dev = hs.devices.register_device(RegisterDeviceRequest(platform="linux", client_version="1.0.0"))
        yield Editor(token, hs, dev.device.id)
    finally:
        hs.close()


@pytest.fixture
def proxy(base_url: str) -> Iterator[LossyProxy]:
    p = LossyProxy(base_url)
    try:
        yield p
    finally:
        p.close()


def new_file(hs: HiveSyncClient, content: str) -> File:
    project = hs.projects.create_project(CreateProjectRequest(name="save helper")).project
    return hs.files.create_file(CreateFileRequest(project_id=project.id, path="notes/todo.md", content=content)).file


class Recording:
    """A files client that records each attempt's request (and counts them)."""

    def __init__(self, files: Any) -> None:  # noqa: ANN401
        self._files = files
        self.keys: list[str] = []

    def save_file(self, request: SaveFileRequest, **kw: Any) -> Any:  # noqa: ANN401
        self.keys.append(request.idempotency_key)
        return self._files.save_file(request, **kw)


class AsyncRecording(Recording):
    async def save_file(self, request: SaveFileRequest, **kw: Any) -> Any:  # noqa: ANN401
        self.keys.append(request.idempotency_key)
        return await self._files.save_file(request, **kw)


def test_saved_conflicted_and_errors_raised_at_once(editor: Editor) -> None:
    hs = editor.hs
    file = new_file(hs, "one\ntwo\n")
    retries: list[int] = []

    def on_retry(attempt: int, _delay: float, _err: ConnectError) -> None:
        retries.append(attempt)

    req = SaveFileRequest(file_id=file.id, base_revision_id=file.head.id, content="one\n2\n", device_id=editor.device_id)
    saved = save_file(hs, req, on_retry=on_retry)
    assert isinstance(saved, Saved)
    assert saved.attempts == 1
    assert saved.version.revision == 2
    assert saved.version.content_sha256 == sha256_hex("one\n2\n")
    assert UUID4.match(saved.idempotency_key), saved.idempotency_key
    assert req.idempotency_key == "", "the caller's request is not modified"

    # A stale base: Conflicted with the decoded detail, after one attempt.
    stale = save_file(
        hs.files,
        SaveFileRequest(file_id=file.id, base_revision_id=file.head.id, content="one\ntwo\nthree\n"),
        on_retry=on_retry,
    )
    assert isinstance(stale, Conflicted), stale
    assert stale.attempts == 1
    assert retries == [], "neither save was retried"
    c = stale.conflict
    assert c.file_id == file.id
    assert c.base_revision_id == file.head.id
    assert c.head_revision_id == saved.version.id
    assert c.head_revision == 2
    assert c.head_content_sha256 == saved.version.content_sha256
    assert c.client_content_sha256 == sha256_hex("one\ntwo\nthree\n")
    assert "+2" in c.unified_diff.splitlines(), c.unified_diff

    # The caller's key is used as given.
    key = str(uuid.uuid4())
    own = save_file(hs, SaveFileRequest(file_id=file.id, base_revision_id=saved.version.id, content="x\n", idempotency_key=key))
    assert isinstance(own, Saved)
    assert own.idempotency_key == key

    # Not retryable: raised after exactly one call.
    counting = Recording(hs.files)
    with pytest.raises(ConnectError) as missing:
        save_file(counting, SaveFileRequest(file_id=str(uuid.uuid4()), base_revision_id=saved.version.id, content="x\n"), policy=FAST)
    assert missing.value.code == Code.NOT_FOUND
    assert len(counting.keys) == 1
    assert not is_retryable_save_error(missing.value)
    counting = Recording(hs.files)
    with pytest.raises(ConnectError) as malformed:
        save_file(counting, SaveFileRequest(file_id=file.id, base_revision_id="not-a-uuid", content="x\n"), policy=FAST)
    assert malformed.value.code == Code.INVALID_ARGUMENT
    assert len(counting.keys) == 1

    versions = hs.files.list_versions(ListVersionsRequest(file_id=file.id)).versions
    assert [v.revision for v in versions] == [3, 2, 1]


def test_lost_answer_is_retried_with_the_same_key(editor: Editor, proxy: LossyProxy, base_url: str) -> None:
    file = new_file(editor.hs, "a\n")
    token = editor.token
    with HiveSyncClient(proxy.url, token_provider=lambda: token, plugin_version=CURRENT_PLUGIN_PROTOCOL_VERSION) as via:
        recording = Recording(via.files)
        errors: list[ConnectError] = []
        proxy.drop_next_answers(1)
        r = save_file(
            recording,
            SaveFileRequest(file_id=file.id, base_revision_id=file.head.id, content="a\nb\n", device_id=editor.device_id),
            policy=FAST,
            on_retry=lambda _a, _d, err: errors.append(err),
        )
        assert proxy.dropped == 1, "the first answer was lost"
        assert isinstance(r, Saved), r
        assert r.attempts == 2
        assert len(errors) == 1 and is_retryable_save_error(errors[0]), errors
        assert recording.keys == [r.idempotency_key, r.idempotency_key], "every attempt carries the same key"

        versions = editor.hs.files.list_versions(ListVersionsRequest(file_id=file.id)).versions
        assert [v.revision for v in versions] == [2, 1], "exactly one new version"
        assert versions[0].id == r.version.id
        head = editor.hs.files.get_file(GetFileRequest(file_id=file.id))
        assert head.file.head.id == r.version.id
        assert head.content == "a\nb\n"

        # Server out of reach: bounded attempts, then the transport error.
        proxy.refusing = True
        counting = Recording(via.files)
        with pytest.raises(ConnectError) as down:
            save_file(
                counting,
                SaveFileRequest(file_id=file.id, base_revision_id=r.version.id, content="c\n"),
                policy=RetryPolicy(max_attempts=3, base_delay=0.01),
            )
        assert down.value.code == Code.UNAVAILABLE
        assert len(counting.keys) == 3
        assert len(set(counting.keys)) == 1

        # A cancel event stops the retries.
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        with pytest.raises(ConnectError) as canceled:
            save_file(
                via,
                SaveFileRequest(file_id=file.id, base_revision_id=r.version.id, content="c\n"),
                policy=RetryPolicy(max_attempts=1000, base_delay=0.02, max_delay=0.05),
                cancel=cancel,
            )
        assert canceled.value.code == Code.CANCELED
        proxy.refusing = False
    assert len(editor.hs.files.list_versions(ListVersionsRequest(file_id=file.id)).versions) == 2


def test_async_lost_answer_and_cancellation(editor: Editor, proxy: LossyProxy) -> None:
    file = new_file(editor.hs, "a\n")
    token = editor.token

    async def scenario() -> None:
        async with AsyncHiveSyncClient(
            proxy.url, token_provider=lambda: token, plugin_version=CURRENT_PLUGIN_PROTOCOL_VERSION
        ) as via:
            recording = AsyncRecording(via.files)
            proxy.drop_next_answers(1)
            r = await save_file_async(
                recording,
                SaveFileRequest(file_id=file.id, base_revision_id=file.head.id, content="a\nb\n"),
                policy=FAST,
            )
            assert proxy.dropped == 1
            assert isinstance(r, Saved), r
            assert r.attempts == 2
            assert recording.keys == [r.idempotency_key] * 2

            stale = await save_file_async(
                via, SaveFileRequest(file_id=file.id, base_revision_id=file.head.id, content="a\nz\n")
            )
            assert isinstance(stale, Conflicted)
            assert stale.attempts == 1
            assert stale.conflict.head_revision_id == r.version.id

            with pytest.raises(ConnectError) as missing:
                await save_file_async(
                    via, SaveFileRequest(file_id=str(uuid.uuid4()), base_revision_id=r.version.id, content="x\n")
                )
            assert missing.value.code == Code.NOT_FOUND

            # Cancelling the task ends the retry loop with CancelledError.
            proxy.refusing = True
            task = asyncio.create_task(
                save_file_async(
                    via,
                    SaveFileRequest(file_id=file.id, base_revision_id=r.version.id, content="c\n"),
                    policy=RetryPolicy(max_attempts=1000, base_delay=0.02, max_delay=0.05),
                )
            )
            await asyncio.sleep(0.2)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            proxy.refusing = False

        versions = editor.hs.files.list_versions(ListVersionsRequest(file_id=file.id)).versions
        assert [v.revision for v in versions] == [2, 1], "exactly one new version"
        assert versions[0].id == r.version.id

    asyncio.run(scenario())
