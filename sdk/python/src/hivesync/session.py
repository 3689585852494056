"""Signed-in sessions: tokens in a pluggable store, refreshed for every RPC.

A :class:`TokenManager` (asyncio: :class:`AsyncTokenManager`) signs a client in
with the device flow, keeps its access and refresh tokens in a
:class:`TokenStore`, and is the token provider of a :class:`~hivesync.HiveSyncClient`,
so every call carries a fresh access token::

    from hivesync import FileTokenStore, SignedOutError, TokenManager

    session = TokenManager(
        "https://api.hivesync.example",
        "neovim",
        store=FileTokenStore("~/.config/hivesync/tokens.json"),
        on_signed_out=lambda err: notify("HiveSync: please sign in again"),
    )
    if not session.signed_in:
        session.device_login(on_code=lambda c: print("Enter", c.user_code, "on your phone"))

    with session.client(plugin_version=3) as hs:  # HiveSyncClient(url, token_provider=session)
        me = hs.auth.get_current_user(GetCurrentUserRequest())

The rules it applies (the same in every HiveSync SDK):

- **Proactive refresh.** An access token expiring within ``refresh_margin``
  (60 s, a clock-skew margin) is refreshed before the call. Refreshes are
  single-flight: concurrent calls wait for one refresh and share its result.
  Refresh tokens rotate, so the new one is saved to the store at once.
- **Reactive refresh.** A call that still answers ``unauthenticated`` (token
  revoked server-side, clock far off...) triggers one refresh and is retried
  once with the new token.
- **Signed out.** A refresh answered ``invalid_grant`` (session revoked, refresh
  token reused or expired) clears the store, calls ``on_signed_out`` and raises
  :class:`SignedOutError`, a ``ConnectError`` with code ``unauthenticated``,
  from the RPC. So does a call needing a token when the store is empty.
- :meth:`TokenManager.sign_out` revokes the session (RFC 7009) and clears the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import json
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from .oauth import (
    DEFAULT_TIMEOUT_S,
    AsyncOAuthClient,
    AuthError,
    DeviceAuthorization,
    InvalidGrantError,
    OAuthClient,
    OAuthError,
    Tokens,
)

if TYPE_CHECKING:
    from typing import Self

    from pyqwest import Client as AsyncHTTPClient, SyncClient as SyncHTTPClient

    from .client import AsyncHiveSyncClient, HiveSyncClient
    from .events import AsyncEventStream, EventStream

__all__ = [
    "DEFAULT_REFRESH_MARGIN_S",
    "AsyncTokenManager",
    "AsyncTokenStore",
    "FileTokenStore",
    "MemoryTokenStore",
    "SignedOutError",
    "SignedOutReason",
    "TokenManager",
    "TokenStore",
]

DEFAULT_REFRESH_MARGIN_S = 60.0
"""Refresh an access token this many seconds before it expires (clock skew)."""

_MAX_RATE_LIMIT_WAIT_S = 10.0
"""A refresh answered 429 with a Retry-After up to this long is retried once."""


def _rate_limit_wait(err: AuthError) -> float | None:
    """How long to wait before retrying a refresh, or None not to retry. Only
    429 is retried: the server did not look at the refresh token, so it is
    still unspent (retrying after a lost answer could present a spent one)."""
    if isinstance(err, OAuthError) and err.status == 429:
        wait = err.retry_after if err.retry_after is not None else 1.0
        if wait <= _MAX_RATE_LIMIT_WAIT_S:
            return wait
    return None


# --------------------------------------------------------------------------- signed out


class SignedOutReason(enum.Enum):
    """Why a :class:`SignedOutError` was raised."""

    NOT_SIGNED_IN = "not_signed_in"
    """The store holds no tokens (never signed in, or signed out earlier)."""
    SESSION_ENDED = "session_ended"
    """The server refused the refresh token (``invalid_grant``): the session
    was revoked (another device, an admin, refresh-token reuse) or expired.
    The store was cleared."""
    SIGNED_OUT = "signed_out"
    """:meth:`TokenManager.sign_out` was called. The store was cleared."""


class SignedOutError(AuthError):
    """The client is signed out and must sign in again (e.g. show the device
    code prompt). A ``ConnectError`` with code ``unauthenticated``.

    Attributes:
        reason: A :class:`SignedOutReason`.
        cause: The error that ended the session (an ``InvalidGrantError`` for
            ``SESSION_ENDED``), or the RPC's ``unauthenticated`` error.
    """

    def __init__(self, reason: SignedOutReason, cause: BaseException | None = None) -> None:
        messages = {
            SignedOutReason.NOT_SIGNED_IN: "not signed in to HiveSync",
            SignedOutReason.SESSION_ENDED: "the HiveSync session ended; sign in again",
            SignedOutReason.SIGNED_OUT: "signed out of HiveSync",
        }
        super().__init__(Code.UNAUTHENTICATED, messages[reason])
        self.reason = reason
        self.cause = cause


# --------------------------------------------------------------------------- stores


@runtime_checkable
class TokenStore(Protocol):
    """Where a :class:`TokenManager` keeps its tokens. Implement it over the
    platform's secret storage (VS Code ``SecretStorage``, JetBrains
    ``PasswordSafe``, the OS keyring...); :class:`MemoryTokenStore` and
    :class:`FileTokenStore` are provided. :meth:`Tokens.to_dict` /
    :meth:`Tokens.from_dict` serialize tokens.

    The manager serializes its own writes; a store shared by several
    processes should make ``save`` atomic.
    """

    def load(self) -> Tokens | None:
        """The saved tokens, or ``None`` when signed out."""
        ...

    def save(self, tokens: Tokens) -> None:
        """Replaces the saved tokens (after sign-in and after every refresh)."""
        ...

    def clear(self) -> None:
        """Forgets the tokens (sign-out, session ended)."""
        ...


class AsyncTokenStore(Protocol):
    """A :class:`TokenStore` with coroutine methods, for :class:`AsyncTokenManager`
    (which also accepts a plain :class:`TokenStore`)."""

    async def load(self) -> Tokens | None: ...

    async def save(self, tokens: Tokens) -> None: ...

    async def clear(self) -> None: ...


class MemoryTokenStore:
    """Keeps tokens in memory only (the default): signed out on restart."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens

    def load(self) -> Tokens | None:
        return self._tokens

    def save(self, tokens: Tokens) -> None:
        self._tokens = tokens

    def clear(self) -> None:
        self._tokens = None


class FileTokenStore:
    """Keeps tokens in a JSON file readable only by the user (mode 0600),
    replaced atomically on every save: the CLI's store. A missing or
    unreadable file means signed out."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def load(self) -> Tokens | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Tokens.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, tokens: Tokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(tokens.to_dict(), f)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# --------------------------------------------------------------------------- managers


class TokenManager:
    """A signed-in session of one client, usable as the ``token_provider`` of a
    :class:`~hivesync.HiveSyncClient` (thread-safe).

    Args:
        base_url: The HiveSync server.
        client_id: The registered client signing in: ``"vscode"``,
            ``"jetbrains"``, ``"sublime"``, ``"neovim"``, ``"cli"``, ``"desktop"``
            or ``"admin"``.
        store: Where tokens live (default: a new :class:`MemoryTokenStore`).
        refresh_margin: Seconds before expiry at which the access token is
            refreshed proactively (default 60).
        on_signed_out: Called with the :class:`SignedOutError` when the session
            ends (the server refused the refresh token) or :meth:`sign_out` is
            called: the moment to prompt for a new sign-in. Its exceptions are
            ignored.
        http_client: A ``pyqwest.SyncClient`` for the OAuth requests.
        timeout: Timeout of each OAuth request, in seconds.
        oauth: Use this :class:`~hivesync.oauth.OAuthClient` (overrides
            ``http_client`` and ``timeout``).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        store: TokenStore | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN_S,
        on_signed_out: Callable[[SignedOutError], object] | None = None,
        http_client: SyncHTTPClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        oauth: OAuthClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.refresh_margin = refresh_margin
        self.on_signed_out = on_signed_out
        self.oauth = oauth or OAuthClient(self.base_url, http_client=http_client, timeout=timeout)
        self.refresh_count = 0
        """How many refreshes this manager has performed (diagnostics)."""
        self._lock = threading.Lock()

    # -- token provider -----------------------------------------------------------

    def __call__(self) -> str | None:
        """The token-provider hook: same as :meth:`access_token`."""
        return self.access_token()

    def access_token(self) -> str | None:
        """A valid access token, refreshed first when it expires within
        ``refresh_margin``; ``None`` when signed out (the call then goes
        without credentials, which public RPCs accept).

        A refresh that fails transiently (server unreachable, rate limited)
        while the old token is still valid just returns the old token; the next
        call tries again. A 429 with a short ``Retry-After`` is retried once.

        Raises:
            SignedOutError: the refresh was refused; the store is now empty.
            AuthError: the refresh failed transiently (``err.transient``) and
                the token has expired, or failed otherwise.
        """
        tokens = self.store.load()
        if tokens is None:
            return None
        if not tokens.expires_within(self.refresh_margin):
            return tokens.access_token
        try:
            return self._refresh_unless_changed(tokens).access_token
        except AuthError as err:
            if isinstance(err, SignedOutError) or not err.transient or tokens.expires_within(0):
                raise
            return tokens.access_token  # still valid: try again on the next call

    def on_unauthenticated(self, rejected: str | None, error: ConnectError) -> str | None:
        """The retry hook: a call carrying ``rejected`` answered
        ``unauthenticated``. Returns the token to retry with once (refreshing
        unless another call already did).

        Raises:
            SignedOutError: no tokens, or the refresh was refused.
        """
        try:
            return self._refresh_unless_changed(None, rejected=rejected).access_token
        except SignedOutError as err:
            if err.cause is None:
                err.cause = error
            raise

    # -- session ------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """Whether the store holds tokens (they may still turn out revoked)."""
        return self.store.load() is not None

    def tokens(self) -> Tokens | None:
        """The stored tokens, as they are."""
        return self.store.load()

    def set_tokens(self, tokens: Tokens) -> None:
        """Stores tokens obtained elsewhere (e.g. the browser flow)."""
        with self._lock:
            self.store.save(tokens)

    def refresh(self) -> Tokens:
        """Refreshes now, whatever the expiry, and returns the new tokens.

        Raises:
            SignedOutError: not signed in, or the refresh was refused.
        """
        tokens = self.store.load()
        if tokens is None:
            raise SignedOutError(SignedOutReason.NOT_SIGNED_IN)
        return self._refresh_unless_changed(tokens)

    def device_login(
        self,
        on_code: Callable[[DeviceAuthorization], object],
        *,
        scopes: Iterable[str] | str | None = None,
        cancel: threading.Event | None = None,
    ) -> Tokens:
        """Signs in with the device flow (see :meth:`hivesync.oauth.OAuthClient.device_login`)
        and stores the tokens, replacing any previous ones.

        Raises:
            AccessDeniedError, ExpiredTokenError, LoginCancelledError, OAuthError.
        """
        tokens = self.oauth.device_login(self.client_id, on_code, scopes=scopes, cancel=cancel)
        self.set_tokens(tokens)
        return tokens

    def sign_out(self) -> bool:
        """Revokes the session on the server, then clears the store (always,
        even when the server cannot be reached) and calls ``on_signed_out``.

        Returns:
            Whether the server confirmed the revocation (``False`` also when
            there was nothing to sign out).
        """
        with self._lock:
            tokens = self.store.load()
            if tokens is None:
                return False
            revoked = False
            try:
                self.oauth.revoke(self.client_id, tokens.refresh_token or tokens.access_token)
                revoked = True
            except AuthError:
                revoked = False
            finally:
                self.store.clear()
        self._emit(SignedOutError(SignedOutReason.SIGNED_OUT))
        return revoked

    def client(self, **kwargs: Any) -> HiveSyncClient:  # noqa: ANN401
        """A :class:`~hivesync.HiveSyncClient` for :attr:`base_url` with this
        manager as its token provider; ``kwargs`` go to the client."""
        from .client import HiveSyncClient  # noqa: PLC0415

        return HiveSyncClient(self.base_url, token_provider=self, **kwargs)

    def event_stream(self, **kwargs: Any) -> EventStream:  # noqa: ANN401
        """A blocking :class:`~hivesync.EventStream` for :attr:`base_url` with
        this manager as its token provider (a fresh token on every connect, a
        refresh when the server refuses one); ``kwargs`` go to the stream
        (``channels``, ``on_position``...)."""
        from .events import EventStream  # noqa: PLC0415

        return EventStream(self.base_url, token_provider=self, **kwargs)

    def close(self) -> None:
        self.oauth.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------

    def _refresh_unless_changed(
        self, seen: Tokens | None, *, rejected: str | None = None
    ) -> Tokens:
        """Single-flight refresh: under the lock, refreshes only if the stored
        tokens are still the ones the caller found stale (``seen``, or the ones
        whose access token was ``rejected``); otherwise another caller already
        refreshed (or signed in) and its tokens are returned."""
        ended: SignedOutError | None = None
        with self._lock:
            current = self.store.load()
            if current is None:
                raise SignedOutError(SignedOutReason.NOT_SIGNED_IN)
            stale = current == seen if seen is not None else current.access_token == rejected
            if not stale:
                return current
            try:
                fresh = self._call_refresh(current.refresh_token)
            except InvalidGrantError as err:
                self.store.clear()
                ended = SignedOutError(SignedOutReason.SESSION_ENDED, err)
            else:
                if not fresh.refresh_token:  # the server kept the old one
                    fresh = replace(fresh, refresh_token=current.refresh_token)
                self.store.save(fresh)
                self.refresh_count += 1
                return fresh
        self._emit(ended)
        raise ended from ended.cause

    def _call_refresh(self, refresh_token: str) -> Tokens:
        try:
            return self.oauth.refresh(self.client_id, refresh_token)
        except AuthError as err:
            wait = _rate_limit_wait(err)
            if wait is None:
                raise
        time.sleep(wait)
        return self.oauth.refresh(self.client_id, refresh_token)

    def _emit(self, err: SignedOutError) -> None:
        if self.on_signed_out is not None:
            with contextlib.suppress(Exception):
                self.on_signed_out(err)


async def _maybe_await(value: Any) -> Any:  # noqa: ANN401
    return await value if inspect.isawaitable(value) else value


class AsyncTokenManager:
    """asyncio twin of :class:`TokenManager`, the ``token_provider`` of an
    :class:`~hivesync.AsyncHiveSyncClient`.

    Takes the same arguments, except that ``store`` may also be an
    :class:`AsyncTokenStore`, ``on_signed_out`` may be a coroutine function,
    ``http_client`` is a ``pyqwest.Client`` and ``oauth`` an
    :class:`~hivesync.oauth.AsyncOAuthClient`. Concurrent tasks share one
    refresh. :meth:`device_login` is cancelled by cancelling its task.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        store: TokenStore | AsyncTokenStore | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN_S,
        on_signed_out: Callable[[SignedOutError], object | Awaitable[object]] | None = None,
        http_client: AsyncHTTPClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        oauth: AsyncOAuthClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.store: TokenStore | AsyncTokenStore = (
            store if store is not None else MemoryTokenStore()
        )
        self.refresh_margin = refresh_margin
        self.on_signed_out = on_signed_out
        self.oauth = oauth or AsyncOAuthClient(
            self.base_url, http_client=http_client, timeout=timeout
        )
        self.refresh_count = 0
        self._lock_obj: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _lock(self) -> asyncio.Lock:
        # asyncio.Lock binds to one event loop; a manager may outlive a loop.
        loop = asyncio.get_running_loop()
        if self._lock_obj is None or self._lock_loop is not loop:
            self._lock_obj = asyncio.Lock()
            self._lock_loop = loop
        return self._lock_obj

    async def _load(self) -> Tokens | None:
        tokens: Tokens | None = await _maybe_await(self.store.load())
        return tokens

    async def _save(self, tokens: Tokens) -> None:
        await _maybe_await(self.store.save(tokens))

    async def _clear(self) -> None:
        await _maybe_await(self.store.clear())

    async def __call__(self) -> str | None:
        """The token-provider hook: same as :meth:`access_token`."""
        return await self.access_token()

    async def access_token(self) -> str | None:
        """See :meth:`TokenManager.access_token`."""
        tokens = await self._load()
        if tokens is None:
            return None
        if not tokens.expires_within(self.refresh_margin):
            return tokens.access_token
        try:
            return (await self._refresh_unless_changed(tokens)).access_token
        except AuthError as err:
            if isinstance(err, SignedOutError) or not err.transient or tokens.expires_within(0):
                raise
            return tokens.access_token

    async def on_unauthenticated(self, rejected: str | None, error: ConnectError) -> str | None:
        """See :meth:`TokenManager.on_unauthenticated`."""
        try:
            return (await self._refresh_unless_changed(None, rejected=rejected)).access_token
        except SignedOutError as err:
            if err.cause is None:
                err.cause = error
            raise

    async def signed_in(self) -> bool:
        """Whether the store holds tokens."""
        return await self._load() is not None

    async def tokens(self) -> Tokens | None:
        """The stored tokens, as they are."""
        return await self._load()

    async def set_tokens(self, tokens: Tokens) -> None:
        """Stores tokens obtained elsewhere."""
        async with self._lock():
            await self._save(tokens)

    async def refresh(self) -> Tokens:
        """See :meth:`TokenManager.refresh`."""
        tokens = await self._load()
        if tokens is None:
            raise SignedOutError(SignedOutReason.NOT_SIGNED_IN)
        return await self._refresh_unless_changed(tokens)

    async def device_login(
        self,
        on_code: Callable[[DeviceAuthorization], object | Awaitable[object]],
        *,
        scopes: Iterable[str] | str | None = None,
    ) -> Tokens:
        """See :meth:`TokenManager.device_login`; cancel the task to stop it."""
        tokens = await self.oauth.device_login(self.client_id, on_code, scopes=scopes)
        await self.set_tokens(tokens)
        return tokens

    async def sign_out(self) -> bool:
        """See :meth:`TokenManager.sign_out`."""
        async with self._lock():
            tokens = await self._load()
            if tokens is None:
                return False
            try:
                await self.oauth.revoke(self.client_id, tokens.refresh_token or tokens.access_token)
                revoked = True
            except AuthError:
                revoked = False
            finally:
                await self._clear()
        await self._emit(SignedOutError(SignedOutReason.SIGNED_OUT))
        return revoked

    def client(self, **kwargs: Any) -> AsyncHiveSyncClient:  # noqa: ANN401
        """An :class:`~hivesync.AsyncHiveSyncClient` for :attr:`base_url` with
        this manager as its token provider."""
        from .client import AsyncHiveSyncClient  # noqa: PLC0415

        return AsyncHiveSyncClient(self.base_url, token_provider=self, **kwargs)

    def event_stream(self, **kwargs: Any) -> AsyncEventStream:  # noqa: ANN401
        """An :class:`~hivesync.AsyncEventStream` for :attr:`base_url` with
        this manager as its token provider; ``kwargs`` go to the stream."""
        from .events import AsyncEventStream  # noqa: PLC0415

        return AsyncEventStream(self.base_url, token_provider=self, **kwargs)

    async def close(self) -> None:
        await self.oauth.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _refresh_unless_changed(
        self, seen: Tokens | None, *, rejected: str | None = None
    ) -> Tokens:
        ended: SignedOutError | None = None
        async with self._lock():
            current = await self._load()
            if current is None:
                raise SignedOutError(SignedOutReason.NOT_SIGNED_IN)
            stale = current == seen if seen is not None else current.access_token == rejected
            if not stale:
                return current
            try:
                fresh = await self._call_refresh(current.refresh_token)
            except InvalidGrantError as err:
                await self._clear()
                ended = SignedOutError(SignedOutReason.SESSION_ENDED, err)
            else:
                if not fresh.refresh_token:
                    fresh = replace(fresh, refresh_token=current.refresh_token)
                await self._save(fresh)
                self.refresh_count += 1
                return fresh
        await self._emit(ended)
        raise ended from ended.cause

    async def _call_refresh(self, refresh_token: str) -> Tokens:
        try:
            return await self.oauth.refresh(self.client_id, refresh_token)
        except AuthError as err:
            wait = _rate_limit_wait(err)
            if wait is None:
                raise
        await asyncio.sleep(wait)
        return await self.oauth.refresh(self.client_id, refresh_token)

    async def _emit(self, err: SignedOutError) -> None:
        if self.on_signed_out is not None:
            with contextlib.suppress(Exception):
                await _maybe_await(self.on_signed_out(err))
