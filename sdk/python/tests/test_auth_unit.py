"""Client-side auth rules checked against a scripted local server: polling
intervals, slow_down, expiry, backoff, the retry of a rejected call, failure
paths the live server cannot be made to produce on demand, and the stores."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from hivesync import (
    AuthUnavailableError,
    ExpiredTokenError,
    FileTokenStore,
    HiveSyncClient,
    MemoryTokenStore,
    OAuthError,
    SignedOutError,
    SignedOutReason,
    TokenManager,
    Tokens,
    device_login,
)
from hivesync.v1.meta_service_pb2 import GetServerTimeRequest, GetServerTimeResponse

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

Reply = tuple[Any, ...]  # (status, JSON body or raw bytes[, Retry-After])


def _tokens_body(n: int) -> dict[str, Any]:
    return {
        "access_token": f"access-{n}",
        "refresh_token": f"refresh-{n}",
        "token_type": "Bearer",
        "expires_in": 900,
        "scope": "plugin read write live",
    }


def _pending() -> Reply:
    return 400, {"error": "authorization_pending", "error_description": "waiting"}


class FakeServer:
    """Scripted OAuth endpoints plus one Connect RPC that accepts only
    ``Bearer <good_token>``."""

    def __init__(self) -> None:
        self.device: dict[str, Any] = {"expires_in": 600, "interval": 1}
        self.token_replies: list[Reply] = []
        self.token_default: Reply = _pending()
        self.token_calls: list[tuple[float, dict[str, str]]] = []
        self.revoke_reply: Reply = (200, b"")
        self.revoke_calls: list[dict[str, str]] = []
        self.good_token = "access-1"
        self.rpc_auth: list[str | None] = []
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, h: BaseHTTPRequestHandler) -> Reply:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = h.path.split("?")[0]
        if h.command == "GET" and path == "/.well-known/oauth-authorization-server":
            return 200, {
                "issuer": self.url,
                "token_endpoint": f"{self.url}/oauth2/token",
                "device_authorization_endpoint": f"{self.url}/oauth2/device_authorization",
                "revocation_endpoint": f"{self.url}/oauth2/revoke",
            }
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        with self.lock:
            if path == "/oauth2/device_authorization":
                return 200, {
                    "device_code": "dc-1",
                    "user_code": "BCDF-GHJK",
                    "verification_uri": f"{self.url}/device",
                    "verification_uri_complete": f"{self.url}/device?user_code=BCDF-GHJK",
                    **self.device,
                }
            if path == "/oauth2/token":
                self.token_calls.append((time.monotonic(), form))
                return self.token_replies.pop(0) if self.token_replies else self.token_default
            if path == "/oauth2/revoke":
                self.revoke_calls.append(form)
                return self.revoke_reply
            if path.startswith("/hivesync.v1.MetaService/"):
                auth = h.headers.get("authorization")
                self.rpc_auth.append(auth)
                if auth != f"Bearer {self.good_token}":
                    return 401, {"code": "unauthenticated", "message": "bad token"}
                resp = GetServerTimeResponse()
                resp.server_time.GetCurrentTime()
                return 200, resp.SerializeToString()
        return 404, {"error": "not_found"}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            status, body, *rest = server.handle(self)
            if isinstance(body, bytes):
                ctype = "application/proto" if status == 200 and body else "text/plain"
                data = body
            else:
                ctype, data = "application/json", json.dumps(body).encode()
            self.send_response(status)
            if rest:
                self.send_header("retry-after", rest[0])
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve  # noqa: N815
        do_POST = _serve  # noqa: N815

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def _valid(n: int = 1, expires_in: float = 900) -> Tokens:
    return Tokens(
        access_token=f"access-{n}",
        refresh_token=f"refresh-{n}",
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


# -------------------------------------------------------------------- device flow


def test_poll_honours_interval_and_slow_down(fake: FakeServer) -> None:
    fake.token_replies = [
        (400, {"error": "slow_down", "error_description": "poll at most every 6 seconds"}),
        (200, _tokens_body(1)),
    ]
    started = time.monotonic()
    tokens = device_login(fake.url, "vscode", lambda _c: None, scopes=["read", "live"])
    assert tokens.access_token == "access-1"
    (t1, form1), (t2, form2) = fake.token_calls
    assert t1 - started >= 0.95  # the server's interval (1 s) before the first poll
    assert t2 - t1 >= 5.95  # slow_down: interval + 5 s
    assert (
        form1
        == form2
        == {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": "dc-1",
            "client_id": "vscode",
        }
    )


def test_pending_then_approved_keeps_the_interval(fake: FakeServer) -> None:
    fake.token_replies = [_pending(), _pending(), (200, _tokens_body(1))]
    device_login(fake.url, "cli", lambda _c: None)
    times = [t for t, _ in fake.token_calls]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 3
    assert all(0.95 <= g < 3 for g in gaps), gaps


def test_server_expired_token_is_typed(fake: FakeServer) -> None:
    fake.token_replies = [(400, {"error": "expired_token", "error_description": "start again"})]
    with pytest.raises(ExpiredTokenError) as exc_info:
        device_login(fake.url, "cli", lambda _c: None)
    assert exc_info.value.error == "expired_token"
    assert exc_info.value.code == Code.DEADLINE_EXCEEDED


def test_code_lapses_client_side(fake: FakeServer) -> None:
    fake.device = {"expires_in": 2, "interval": 1}
    started = time.monotonic()
    with pytest.raises(ExpiredTokenError):
        device_login(fake.url, "cli", lambda _c: None)
    assert time.monotonic() - started < 5


def test_server_trouble_while_polling_backs_off(fake: FakeServer) -> None:
    fake.token_replies = [(502, b"bad gateway"), (200, _tokens_body(1))]
    device_login(fake.url, "cli", lambda _c: None)
    (t1, _), (t2, _) = fake.token_calls
    assert t2 - t1 >= 1.95  # doubled


def test_rate_limited_poll_waits_retry_after(fake: FakeServer) -> None:
    fake.token_replies = [
        (429, {"error": "temporarily_unavailable", "error_description": "retry in 3 s"}, "3"),
        (200, _tokens_body(1)),
    ]
    device_login(fake.url, "cli", lambda _c: None)
    (t1, _), (t2, _) = fake.token_calls
    assert t2 - t1 >= 2.95


def test_other_errors_stop_polling(fake: FakeServer) -> None:
    fake.token_replies = [(401, {"error": "invalid_client", "error_description": "unknown"})]
    with pytest.raises(OAuthError) as exc_info:
        device_login(fake.url, "nope", lambda _c: None)
    assert exc_info.value.error == "invalid_client"
    assert exc_info.value.status == 401
    assert len(fake.token_calls) == 1


def test_callback_error_aborts(fake: FakeServer) -> None:
    def boom(_code: object) -> None:
        raise RuntimeError("no UI")

    with pytest.raises(RuntimeError):
        device_login(fake.url, "cli", boom)
    assert fake.token_calls == []


def test_unreachable_server_is_typed() -> None:
    with pytest.raises(AuthUnavailableError) as exc_info:
        device_login("http://127.0.0.1:9", "cli", lambda _c: None)
    assert exc_info.value.code == Code.UNAVAILABLE


# -------------------------------------------------------------------- token manager


def test_rejected_call_is_retried_once_after_refresh(fake: FakeServer) -> None:
    fake.good_token = "access-2"
    fake.token_replies = [(200, _tokens_body(2))]
    manager = TokenManager(fake.url, "vscode", store=MemoryTokenStore(_valid(1)))
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        hs.meta.get_server_time(GetServerTimeRequest())
    assert fake.rpc_auth == ["Bearer access-1", "Bearer access-2"]
    ((_, form),) = fake.token_calls
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-1",
        "client_id": "vscode",
    }
    stored = manager.tokens()
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")
    assert manager.refresh_count == 1


def test_retry_happens_only_once(fake: FakeServer) -> None:
    fake.good_token = "never"
    fake.token_replies = [(200, _tokens_body(2))]
    manager = TokenManager(fake.url, "vscode", store=MemoryTokenStore(_valid(1)))
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        with pytest.raises(ConnectError) as exc_info:
            hs.meta.get_server_time(GetServerTimeRequest())
    assert exc_info.value.code == Code.UNAUTHENTICATED
    assert not isinstance(exc_info.value, SignedOutError)
    assert fake.rpc_auth == ["Bearer access-1", "Bearer access-2"]
    assert len(fake.token_calls) == 1


def test_caller_supplied_authorization_is_not_retried(fake: FakeServer) -> None:
    manager = TokenManager(fake.url, "vscode", store=MemoryTokenStore(_valid(1)))
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        with pytest.raises(ConnectError):
            hs.meta.get_server_time(
                GetServerTimeRequest(), headers={"Authorization": "Bearer mine"}
            )
    assert fake.rpc_auth == ["Bearer mine"]
    assert fake.token_calls == []


def test_refresh_refused_clears_store_and_signs_out(fake: FakeServer) -> None:
    fake.token_replies = [(400, {"error": "invalid_grant", "error_description": "reused"})]
    events: list[SignedOutError] = []
    store = MemoryTokenStore(_valid(1, expires_in=10))  # inside the 60 s margin
    manager = TokenManager(fake.url, "vscode", store=store, on_signed_out=events.append)
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        with pytest.raises(SignedOutError) as exc_info:
            hs.meta.get_server_time(GetServerTimeRequest())
    assert exc_info.value.reason == SignedOutReason.SESSION_ENDED
    assert store.load() is None
    assert len(events) == 1
    assert fake.rpc_auth == []  # failed before sending


def test_refresh_unreachable_uses_a_still_valid_token(fake: FakeServer) -> None:
    fake.token_replies = [(503, b"down")]
    store = MemoryTokenStore(_valid(1, expires_in=30))
    manager = TokenManager(fake.url, "vscode", store=store)
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        hs.meta.get_server_time(GetServerTimeRequest())
    assert fake.rpc_auth == ["Bearer access-1"]
    stored = store.load()
    assert stored is not None
    assert stored.refresh_token == "refresh-1"


def test_refresh_unreachable_with_an_expired_token_is_unavailable(fake: FakeServer) -> None:
    fake.token_replies = [(503, b"down")]
    store = MemoryTokenStore(_valid(1, expires_in=-5))
    manager = TokenManager(fake.url, "vscode", store=store)
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        with pytest.raises(AuthUnavailableError) as exc_info:
            hs.meta.get_server_time(GetServerTimeRequest())
    assert exc_info.value.code == Code.UNAVAILABLE
    assert store.load() is not None  # transient: still signed in


def test_rate_limited_refresh_is_retried_once(fake: FakeServer) -> None:
    fake.good_token = "access-2"
    fake.token_replies = [
        (429, {"error": "temporarily_unavailable", "error_description": "retry in 1 s"}, "1"),
        (200, _tokens_body(2)),
    ]
    store = MemoryTokenStore(_valid(1, expires_in=-1))
    manager = TokenManager(fake.url, "vscode", store=store)
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        hs.meta.get_server_time(GetServerTimeRequest())
    (t1, f1), (t2, f2) = fake.token_calls
    assert t2 - t1 >= 0.95
    assert f1 == f2  # the unspent refresh token, presented again
    assert fake.rpc_auth == ["Bearer access-2"]


def test_rate_limited_refresh_keeps_a_still_valid_token(fake: FakeServer) -> None:
    fake.token_default = (429, {"error": "temporarily_unavailable"}, "30")
    manager = TokenManager(fake.url, "vscode", store=MemoryTokenStore(_valid(1, expires_in=20)))
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        hs.meta.get_server_time(GetServerTimeRequest())
    assert len(fake.token_calls) == 1  # Retry-After too long to wait for
    assert fake.rpc_auth == ["Bearer access-1"]


def test_sign_out_clears_even_if_revoke_fails(fake: FakeServer) -> None:
    fake.revoke_reply = (503, b"down")
    store = MemoryTokenStore(_valid(1))
    manager = TokenManager(fake.url, "neovim", store=store)
    assert manager.sign_out() is False
    assert store.load() is None
    assert fake.revoke_calls == [{"token": "refresh-1", "client_id": "neovim"}]


# -------------------------------------------------------------------- tokens and stores


def test_tokens_from_token_create_json() -> None:
    minted = {
        "access_token": "a.b.c",
        "refresh_token": "r",
        "token_type": "Bearer",
        "expires_in": 900,
        "expires_at": "2030-01-02T03:04:05.123456789Z",
        "scope": "user read",
        "session_id": "s",
        "user_id": "u",
    }
    tokens = Tokens.from_dict(minted)
    assert tokens.expires_at == datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert tokens.scopes == ("user", "read")
    assert Tokens.from_dict(tokens.to_dict()) == tokens
    assert "a.b.c" not in repr(tokens)
    assert "'r'" not in repr(tokens)


def test_file_store(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    store = FileTokenStore(path)
    assert store.load() is None
    tokens = _valid(3)
    store.save(tokens)
    assert path.stat().st_mode & 0o777 == 0o600
    assert FileTokenStore(path).load() == tokens
    newer = replace(tokens, access_token="access-4")
    store.save(newer)
    assert store.load() == newer
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temp files left
    path.write_text("{not json")
    assert store.load() is None
    store.clear()
    store.clear()  # idempotent
    assert not path.exists()


def test_not_signed_in_call_that_needs_a_token(fake: FakeServer) -> None:
    manager = TokenManager(fake.url, "vscode")
    with HiveSyncClient(fake.url, token_provider=manager) as hs:
        with pytest.raises(SignedOutError) as exc_info:
            hs.meta.get_server_time(GetServerTimeRequest())
    assert exc_info.value.reason == SignedOutReason.NOT_SIGNED_IN
    assert isinstance(exc_info.value.cause, ConnectError)
    assert fake.rpc_auth == [None]
    assert fake.token_calls == []
