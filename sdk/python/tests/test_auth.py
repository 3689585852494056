"""Sign-in, refresh and sign-out against a live hivesyncd (see conftest.py).

The "phone" is a mobile-client session minted with `hivesyncd token create`;
it approves or denies the device codes through the SDK's AuthService client,
exactly as the mobile app would.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

import hivesync
from hivesync import (
    AccessDeniedError,
    AsyncHiveSyncClient,
    AsyncTokenManager,
    DeviceAuthorization,
    HiveSyncClient,
    InvalidGrantError,
    LoginCancelledError,
    MemoryTokenStore,
    OAuthClient,
    SignedOutError,
    SignedOutReason,
    TokenManager,
    Tokens,
)
from hivesync.v1.access_pb2 import ClientType, Scope
from hivesync.v1.auth_service_pb2 import GetCurrentUserRequest, SignInKind
from hivesync.v1.meta_service_pb2 import GetServerTimeRequest

from .conftest import CURRENT_PLUGIN_PROTOCOL_VERSION, DEVICE_POLL_INTERVAL_S

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PLUGIN_VERSION = CURRENT_PLUGIN_PROTOCOL_VERSION
PLUGIN_SCOPES = "plugin read write live"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


class Phone:
    """The mobile app of one user: approves or denies sign-ins."""

    def __init__(self, base_url: str, email: str, access_token: str) -> None:
        self.email = email
        self.access_token = access_token
        self.client = HiveSyncClient(
            base_url, token_provider=lambda: access_token, plugin_version=PLUGIN_VERSION
        )
        self.seen: list[DeviceAuthorization] = []

    def approve(self, code: DeviceAuthorization) -> None:
        self.seen.append(code)
        hivesync.approve_device_code(self.client, code.user_code)

    def deny(self, code: DeviceAuthorization) -> None:
        self.seen.append(code)
        hivesync.approve_device_code(self.client, code.user_code, approve=False)

    def async_client(self, base_url: str) -> AsyncHiveSyncClient:
        token = self.access_token
        return AsyncHiveSyncClient(
            base_url, token_provider=lambda: token, plugin_version=PLUGIN_VERSION
        )


@pytest.fixture
def phone(base_url: str, mint_tokens: Callable[..., dict[str, Any]]) -> Iterator[Phone]:
    email = f"phone-{uuid.uuid4().hex[:12]}@example.test"
    minted = mint_tokens(email, "mobile")
    p = Phone(base_url, email, str(minted["access_token"]))
    try:
        yield p
    finally:
        p.client.close()


class CountingStore(MemoryTokenStore):
    """A memory store that counts writes (one per sign-in or refresh)."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0
        self.clears = 0
        self._count_lock = threading.Lock()

    def save(self, tokens: Tokens) -> None:
        with self._count_lock:
            self.saves += 1
        super().save(tokens)

    def clear(self) -> None:
        with self._count_lock:
            self.clears += 1
        super().clear()


def _expire(tokens: Tokens) -> Tokens:
    return replace(tokens, expires_at=datetime.now(UTC) - timedelta(seconds=1))


def _signed_in(
    base_url: str, phone: Phone, client_id: str = "vscode", **kwargs: Any
) -> TokenManager:
    manager = TokenManager(base_url, client_id, **kwargs)
    manager.device_login(on_code=phone.approve)
    return manager


# a. Full device login, approved from the phone.
def test_device_login_approved_on_phone(base_url: str, phone: Phone) -> None:
    described: list[Any] = []

    def on_code(code: DeviceAuthorization) -> None:
        # The phone first looks at what is asked, then approves.
        described.append(hivesync.describe_device_code(phone.client, code.user_code.lower()))
        phone.approve(code)

    events: list[SignedOutError] = []
    manager = TokenManager(base_url, "vscode", on_signed_out=events.append)
    assert not manager.signed_in
    started = time.monotonic()
    tokens = manager.device_login(on_code=on_code)
    elapsed = time.monotonic() - started

    (code,) = phone.seen
    assert USER_CODE.match(code.user_code), code.user_code
    assert code.verification_uri == f"{base_url}/device"
    assert code.user_code in code.verification_uri_complete
    assert code.verification_uri_complete.startswith(code.verification_uri)
    assert code.expires_in > 60
    assert code.interval == DEVICE_POLL_INTERVAL_S
    assert code.device_code
    assert code.device_code not in repr(code)  # the secret is not printed
    # One interval, one successful poll.
    assert DEVICE_POLL_INTERVAL_S * 0.9 <= elapsed < DEVICE_POLL_INTERVAL_S + 10

    (desc,) = described
    assert desc.client_id == "vscode"
    assert desc.client_type == ClientType.CLIENT_TYPE_VSCODE
    assert desc.kind == SignInKind.SIGN_IN_KIND_DEVICE
    assert set(desc.scopes) == {
        Scope.SCOPE_PLUGIN,
        Scope.SCOPE_READ,
        Scope.SCOPE_WRITE,
        Scope.SCOPE_LIVE,
    }

    assert tokens.token_type == "Bearer"
    assert set(tokens.scopes) == set(PLUGIN_SCOPES.split())
    assert tokens.access_token.count(".") == 2  # a JWT
    assert tokens.refresh_token
    assert not tokens.expires_within(60)
    assert manager.tokens() == tokens
    assert manager.signed_in

    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        me = hs.auth.get_current_user(GetCurrentUserRequest())
    assert me.user.email == phone.email
    assert me.session.client_id == "vscode"
    assert me.session.client_type == ClientType.CLIENT_TYPE_VSCODE
    assert me.session.current
    assert manager.refresh_count == 0
    assert events == []


def test_device_login_async_with_scopes(base_url: str, phone: Phone) -> None:
    async def run() -> tuple[Tokens, Any]:
        async with phone.async_client(base_url) as phone_async:

            async def on_code(code: DeviceAuthorization) -> None:
                await hivesync.approve_device_code_async(phone_async, code.user_code)

            manager = AsyncTokenManager(base_url, "cli")
            tokens = await manager.device_login(on_code, scopes=["user", "read"])
            async with manager.client(plugin_version=PLUGIN_VERSION) as hs:
                me = await hs.auth.get_current_user(GetCurrentUserRequest())
            return tokens, me

    tokens, me = asyncio.run(run())
    assert set(tokens.scopes) == {"user", "read"}
    assert me.user.email == phone.email
    assert me.session.client_id == "cli"
    assert set(me.session.scopes) == {Scope.SCOPE_USER, Scope.SCOPE_READ}


# d. Denial on the phone is a typed error, and nothing is stored.
def test_device_login_denied_on_phone(base_url: str, phone: Phone) -> None:
    store = CountingStore()
    manager = TokenManager(base_url, "jetbrains", store=store)
    with pytest.raises(AccessDeniedError) as exc_info:
        manager.device_login(on_code=phone.deny)
    err = exc_info.value
    assert err.error == "access_denied"
    assert isinstance(err, ConnectError)
    assert err.code == Code.PERMISSION_DENIED
    assert store.saves == 0
    assert not manager.signed_in


def test_device_login_denied_async(base_url: str, phone: Phone) -> None:
    async def run() -> None:
        async with phone.async_client(base_url) as phone_async:

            async def on_code(code: DeviceAuthorization) -> None:
                await hivesync.approve_device_code_async(phone_async, code.user_code, approve=False)

            await hivesync.device_login_async(base_url, "sublime", on_code)

    with pytest.raises(AccessDeniedError):
        asyncio.run(run())


def test_device_login_cancelled(base_url: str) -> None:
    cancel = threading.Event()
    codes: list[DeviceAuthorization] = []

    def on_code(code: DeviceAuthorization) -> None:
        codes.append(code)
        threading.Timer(0.3, cancel.set).start()  # the user closes the prompt

    started = time.monotonic()
    with pytest.raises(LoginCancelledError) as exc_info:
        hivesync.device_login(base_url, "neovim", on_code, cancel=cancel)
    assert exc_info.value.code == Code.CANCELED
    assert time.monotonic() - started < DEVICE_POLL_INTERVAL_S + 5
    assert len(codes) == 1


def test_device_login_async_task_cancelled(base_url: str) -> None:
    async def run() -> None:
        shown = asyncio.Event()
        manager = AsyncTokenManager(base_url, "neovim")
        task = asyncio.create_task(manager.device_login(lambda _code: shown.set()))
        await asyncio.wait_for(shown.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await manager.signed_in()

    asyncio.run(run())


def test_unknown_client_and_scope_are_typed_errors(base_url: str) -> None:
    oauth = OAuthClient(base_url)
    with pytest.raises(hivesync.OAuthError) as exc_info:
        oauth.start_device_authorization("mobile")  # mobile signs in elsewhere
    assert exc_info.value.error == "invalid_client"
    with pytest.raises(hivesync.OAuthError) as exc_info:
        oauth.start_device_authorization("vscode", ["admin"])
    assert exc_info.value.error == "invalid_scope"
    assert exc_info.value.code == Code.INVALID_ARGUMENT


def test_metadata_discovery(base_url: str) -> None:
    meta = OAuthClient(base_url).metadata()
    assert meta.token_endpoint == f"{base_url}/oauth2/token"
    assert meta.device_authorization_endpoint == f"{base_url}/oauth2/device_authorization"
    assert meta.revocation_endpoint == f"{base_url}/oauth2/revoke"
    assert meta.issuer
    assert {"plugin", "read", "write", "live", "user"} <= set(meta.scopes_supported)
    assert "urn:ietf:params:oauth:grant-type:device_code" in meta.raw["grant_types_supported"]


# b. Transparent refresh: an access token about to expire is refreshed before
#    the call, and the rotated refresh token is stored.
def test_expired_access_token_is_refreshed_before_the_call(base_url: str, phone: Phone) -> None:
    store = CountingStore()
    manager = _signed_in(base_url, phone, store=store)
    before = manager.tokens()
    assert before is not None
    store.save(_expire(before))
    saves = store.saves

    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        me = hs.auth.get_current_user(GetCurrentUserRequest())
        assert me.user.email == phone.email
        after = manager.tokens()
        assert after is not None
        assert after.access_token != before.access_token
        assert after.refresh_token != before.refresh_token
        assert not after.expires_within(60)
        assert manager.refresh_count == 1
        assert store.saves == saves + 1
        # Within the margin counts as expired too (60 s of clock skew).
        store.save(replace(after, expires_at=datetime.now(UTC) + timedelta(seconds=30)))
        hs.auth.get_current_user(GetCurrentUserRequest())
        assert manager.refresh_count == 2
        # A fresh token is used as is.
        hs.auth.get_current_user(GetCurrentUserRequest())
        assert manager.refresh_count == 2

    # The first refresh token was spent: presenting it again is refused.
    with pytest.raises(InvalidGrantError):
        OAuthClient(base_url).refresh("vscode", before.refresh_token)


def test_rejected_access_token_is_refreshed_and_the_call_retried(
    base_url: str, phone: Phone
) -> None:
    manager = _signed_in(base_url, phone, client_id="desktop")
    good = manager.tokens()
    assert good is not None
    # Not expired as far as the client knows, but the server refuses it.
    manager.store.save(replace(good, access_token="not-a-valid-token"))
    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        me = hs.auth.get_current_user(GetCurrentUserRequest())
    assert me.user.email == phone.email
    assert me.session.client_id == "desktop"
    assert manager.refresh_count == 1
    now = manager.tokens()
    assert now is not None
    assert now.access_token not in {good.access_token, "not-a-valid-token"}
    assert now.refresh_token != good.refresh_token


def test_async_refresh_before_the_call(base_url: str, phone: Phone) -> None:
    manager = _signed_in(base_url, phone)
    tokens = manager.tokens()
    assert tokens is not None
    store = MemoryTokenStore(_expire(tokens))

    async def run() -> str:
        amanager = AsyncTokenManager(base_url, "vscode", store=store)
        async with amanager.client(plugin_version=PLUGIN_VERSION) as hs:
            me = await hs.auth.get_current_user(GetCurrentUserRequest())
        assert amanager.refresh_count == 1
        return me.user.email

    assert asyncio.run(run()) == phone.email
    after = store.load()
    assert after is not None
    assert after.refresh_token != tokens.refresh_token


# c. Concurrent calls with an expired token share exactly one refresh.
def test_concurrent_calls_share_one_refresh(base_url: str, phone: Phone) -> None:
    store = CountingStore()
    manager = _signed_in(base_url, phone, store=store)
    tokens = manager.tokens()
    assert tokens is not None
    store.save(_expire(tokens))
    saves = store.saves

    n = 8
    barrier = threading.Barrier(n)
    results: list[str] = []
    errors: list[BaseException] = []
    with manager.client(plugin_version=PLUGIN_VERSION) as hs:

        def call() -> None:
            try:
                barrier.wait(10)
                results.append(hs.auth.get_current_user(GetCurrentUserRequest()).user.email)
            except BaseException as err:  # noqa: BLE001
                errors.append(err)

        threads = [threading.Thread(target=call) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert results == [phone.email] * n
        assert manager.refresh_count == 1
        assert store.saves == saves + 1
        # Had two refreshes raced with the same refresh token, reuse detection
        # would have revoked the session; it is still alive.
        assert hs.auth.get_current_user(GetCurrentUserRequest()).user.email == phone.email


def test_concurrent_async_calls_share_one_refresh(base_url: str, phone: Phone) -> None:
    tokens = _signed_in(base_url, phone).tokens()
    assert tokens is not None
    store = CountingStore()
    store.save(_expire(tokens))

    async def run() -> list[str]:
        manager = AsyncTokenManager(base_url, "vscode", store=store)
        async with manager.client(plugin_version=PLUGIN_VERSION) as hs:
            answers = await asyncio.gather(
                *(hs.auth.get_current_user(GetCurrentUserRequest()) for _ in range(8))
            )
            assert manager.refresh_count == 1
            await hs.auth.get_current_user(GetCurrentUserRequest())
        return [a.user.email for a in answers]

    assert asyncio.run(run()) == [phone.email] * 8
    assert store.saves == 2  # the expired pair, then the one refresh


def test_concurrent_rejections_share_one_refresh(base_url: str, phone: Phone) -> None:
    store = CountingStore()
    manager = _signed_in(base_url, phone, store=store)
    tokens = manager.tokens()
    assert tokens is not None
    store.save(replace(tokens, access_token="revoked-looking-token"))

    async def run() -> None:
        amanager = AsyncTokenManager(base_url, "vscode", store=store)
        async with amanager.client(plugin_version=PLUGIN_VERSION) as hs:
            await asyncio.gather(
                *(hs.auth.get_current_user(GetCurrentUserRequest()) for _ in range(6))
            )
        assert amanager.refresh_count == 1

    asyncio.run(run())


# e. Revoked sessions surface as a typed signed-out error, with the store empty.
def test_sign_out_revokes_and_clears(base_url: str, phone: Phone) -> None:
    events: list[SignedOutError] = []
    store = CountingStore()
    manager = _signed_in(base_url, phone, store=store, on_signed_out=events.append)
    tokens = manager.tokens()
    assert tokens is not None

    assert manager.sign_out() is True
    assert manager.tokens() is None
    assert store.load() is None
    assert [e.reason for e in events] == [SignedOutReason.SIGNED_OUT]
    assert manager.sign_out() is False  # nothing left to sign out

    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        with pytest.raises(SignedOutError) as exc_info:
            hs.auth.get_current_user(GetCurrentUserRequest())
    err = exc_info.value
    assert err.reason == SignedOutReason.NOT_SIGNED_IN
    assert err.code == Code.UNAUTHENTICATED
    assert isinstance(err, ConnectError)

    # The server ended the session: neither old token works any more.
    with HiveSyncClient(
        base_url, token_provider=lambda: tokens.access_token, plugin_version=PLUGIN_VERSION
    ) as raw:
        with pytest.raises(ConnectError) as raw_err:
            raw.auth.get_current_user(GetCurrentUserRequest())
    assert raw_err.value.code == Code.UNAUTHENTICATED
    with pytest.raises(InvalidGrantError):
        OAuthClient(base_url).refresh("vscode", tokens.refresh_token)


def test_reused_refresh_token_ends_the_session(base_url: str, phone: Phone) -> None:
    events: list[SignedOutError] = []
    manager = _signed_in(base_url, phone, on_signed_out=events.append)
    first = manager.tokens()
    assert first is not None
    manager.refresh()  # rotates: `first.refresh_token` is now spent
    assert manager.refresh_count == 1

    # Someone replays the spent refresh token: the server revokes the session.
    with pytest.raises(InvalidGrantError):
        OAuthClient(base_url).refresh("vscode", first.refresh_token)

    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        # The stored access token is unexpired but revoked: the call answers
        # unauthenticated, the refresh answers invalid_grant -> signed out.
        with pytest.raises(SignedOutError) as exc_info:
            hs.auth.get_current_user(GetCurrentUserRequest())
        assert exc_info.value.reason == SignedOutReason.SESSION_ENDED
        assert isinstance(exc_info.value.cause, InvalidGrantError)
        assert manager.tokens() is None
        assert [e.reason for e in events] == [SignedOutReason.SESSION_ENDED]

        # Later calls: still signed out, no second event.
        with pytest.raises(SignedOutError) as again:
            hs.auth.get_current_user(GetCurrentUserRequest())
        assert again.value.reason == SignedOutReason.NOT_SIGNED_IN
    assert len(events) == 1


def test_refresh_refused_before_the_call_signs_out(base_url: str, phone: Phone) -> None:
    events: list[SignedOutError] = []
    manager = _signed_in(base_url, phone, on_signed_out=events.append)
    tokens = manager.tokens()
    assert tokens is not None
    OAuthClient(base_url).revoke("vscode", tokens.access_token)  # e.g. from another device
    manager.store.save(_expire(tokens))
    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        with pytest.raises(SignedOutError) as exc_info:
            hs.auth.get_current_user(GetCurrentUserRequest())
    assert exc_info.value.reason == SignedOutReason.SESSION_ENDED
    assert not manager.signed_in
    assert len(events) == 1


def test_async_sign_out(base_url: str, phone: Phone) -> None:
    tokens = _signed_in(base_url, phone).tokens()
    assert tokens is not None

    async def run() -> None:
        events: list[SignedOutError] = []

        async def on_signed_out(err: SignedOutError) -> None:
            events.append(err)

        manager = AsyncTokenManager(
            base_url, "vscode", store=MemoryTokenStore(tokens), on_signed_out=on_signed_out
        )
        async with manager.client(plugin_version=PLUGIN_VERSION) as hs:
            assert (
                await hs.auth.get_current_user(GetCurrentUserRequest())
            ).user.email == phone.email
            assert await manager.sign_out() is True
            assert await manager.tokens() is None
            with pytest.raises(SignedOutError):
                await hs.auth.get_current_user(GetCurrentUserRequest())
        assert [e.reason for e in events] == [SignedOutReason.SIGNED_OUT]

    asyncio.run(run())


def test_public_rpcs_work_signed_out(base_url: str) -> None:
    manager = TokenManager(base_url, "vscode")
    with manager.client(plugin_version=PLUGIN_VERSION) as hs:
        assert hs.meta.get_server_time(GetServerTimeRequest()).HasField("server_time")


def test_file_store_round_trip_with_the_live_server(
    base_url: str, phone: Phone, tmp_path: Any
) -> None:
    path = tmp_path / "cfg" / "tokens.json"
    manager = TokenManager(base_url, "cli", store=hivesync.FileTokenStore(path))
    manager.device_login(on_code=phone.approve)
    assert path.stat().st_mode & 0o777 == 0o600
    # A new process (a new manager on the same file) is still signed in.
    again = TokenManager(base_url, "cli", store=hivesync.FileTokenStore(path))
    assert again.tokens() == manager.tokens()
    with again.client(plugin_version=PLUGIN_VERSION) as hs:
        assert hs.auth.get_current_user(GetCurrentUserRequest()).user.email == phone.email
    again.sign_out()
    assert not path.exists()
