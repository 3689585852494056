"""OAuth 2.1 for plugins, desktop and the CLI: sign-in with the device flow
approved on the phone, token refresh and revocation.

HiveSync's authorization server treats every app and plugin as a *public*
client (a registered ``client_id``, no secret). Its endpoints are discovered
from RFC 8414 metadata (``/.well-known/oauth-authorization-server``) and take
form-encoded POSTs; failures are RFC 6749 JSON errors, raised here as typed
exceptions (never strings to parse)::

    from hivesync import oauth

    def show(code: oauth.DeviceAuthorization) -> None:
        print(f"Open HiveSync on your phone and enter {code.user_code}")
        # or render code.verification_uri_complete as a QR code

    try:
        tokens = oauth.device_login("https://api.hivesync.example", "neovim", on_code=show)
    except oauth.AccessDeniedError:
        print("sign-in refused on the phone")
    except oauth.ExpiredTokenError:
        print("the code expired; try again")

Most applications use :class:`hivesync.TokenManager` instead, which runs the
same flow, keeps the tokens in a store and refreshes them for every RPC.

Every exception raised here is an :class:`AuthError`, itself a
``connectrpc.errors.ConnectError`` with a fitting code, so code that already
handles failed RPCs handles failed sign-ins and refreshes too.

The HTTP requests go through ``pyqwest`` (the HTTP library connectrpc is built
on): :class:`OAuthClient` for synchronous code, :class:`AsyncOAuthClient` for
asyncio.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from pyqwest import Client as _AsyncHTTPClient, SyncClient as _SyncHTTPClient

from ._version import __version__
from .v1.auth_service_pb2 import (
    ApproveDeviceCodeRequest,
    ApproveDeviceCodeResponse,
    DescribeDeviceCodeRequest,
    DescribeDeviceCodeResponse,
)

if TYPE_CHECKING:
    from typing import Self

    from .client import AsyncHiveSyncClient, HiveSyncClient

__all__ = [
    "CLIENT_IDS",
    "DEVICE_CODE_GRANT_TYPE",
    "METADATA_PATH",
    "AccessDeniedError",
    "AsyncOAuthClient",
    "AuthError",
    "AuthUnavailableError",
    "DeviceAuthorization",
    "ExpiredTokenError",
    "InvalidGrantError",
    "LoginCancelledError",
    "OAuthClient",
    "OAuthError",
    "ServerMetadata",
    "Tokens",
    "approve_device_code",
    "approve_device_code_async",
    "describe_device_code",
    "describe_device_code_async",
    "device_login",
    "device_login_async",
]

METADATA_PATH: Final[str] = "/.well-known/oauth-authorization-server"
"""Where the RFC 8414 authorization server metadata is served."""

DEVICE_CODE_GRANT_TYPE: Final[str] = "urn:ietf:params:oauth:grant-type:device_code"
"""The RFC 8628 device-code grant type."""

CLIENT_IDS: Final[tuple[str, ...]] = (
    "desktop",
    "vscode",
    "jetbrains",
    "sublime",
    "neovim",
    "cli",
    "admin",
)
"""The registered public clients that may sign in with these flows (the mobile
app signs in through its identity provider instead)."""

DEFAULT_TIMEOUT_S: Final[float] = 30.0
_SLOW_DOWN_STEP_S: Final[float] = 5.0  # RFC 8628 §3.5
_DEFAULT_INTERVAL_S: Final[float] = 5.0  # RFC 8628 §3.2, when the server names none
_MAX_BACKOFF_S: Final[float] = 60.0
_USER_AGENT: Final[str] = f"hivesync-python/{__version__}"


# --------------------------------------------------------------------------- errors


class AuthError(ConnectError):
    """Base of every sign-in, refresh and sign-out failure.

    A ``ConnectError`` (``err.code`` tells the kind of failure), so one
    ``except ConnectError`` covers RPCs and authentication alike.
    """

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (server unreachable, rate
        limited, overloaded); nothing about the session was decided."""
        return False

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait before trying again, if it said."""
        return None


class OAuthError(AuthError):
    """The authorization server answered with an RFC 6749 error.

    Attributes:
        error: The ``error`` code, e.g. ``"invalid_grant"``.
        description: The server's ``error_description`` (for logs, not parsing).
        status: The HTTP status of the answer.
    """

    _CODES: Final[Mapping[str, Code]] = {
        "invalid_request": Code.INVALID_ARGUMENT,
        "invalid_scope": Code.INVALID_ARGUMENT,
        "unsupported_grant_type": Code.INVALID_ARGUMENT,
        "unauthorized_client": Code.PERMISSION_DENIED,
        "invalid_client": Code.UNAUTHENTICATED,
        "invalid_grant": Code.UNAUTHENTICATED,
        "access_denied": Code.PERMISSION_DENIED,
        "expired_token": Code.DEADLINE_EXCEEDED,
        "authorization_pending": Code.UNAVAILABLE,
        "slow_down": Code.UNAVAILABLE,
        "temporarily_unavailable": Code.UNAVAILABLE,
        "server_error": Code.INTERNAL,
    }

    def __init__(
        self,
        error: str,
        description: str = "",
        status: int = 400,
        retry_after: float | None = None,
    ) -> None:
        message = f"{error}: {description}" if description else error
        super().__init__(self._CODES.get(error, Code.UNKNOWN), message)
        self.error = error
        self.description = description
        self.status = status
        self._retry_after = retry_after

    @property
    def transient(self) -> bool:
        """``temporarily_unavailable`` / ``server_error``, or HTTP 429/502/503/504."""
        return self.error in {"temporarily_unavailable", "server_error"} or self.status in {
            429,
            502,
            503,
            504,
        }

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` of a rate-limited (429) or unavailable answer."""
        return self._retry_after

    @staticmethod
    def from_response(
        status: int, body: Mapping[str, Any], retry_after: float | None = None
    ) -> OAuthError:
        """The typed error for an RFC 6749 §5.2 error body."""
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or "")
        cls = _ERROR_CLASSES.get(error, OAuthError)
        return cls(error or f"http_{status}", description, status, retry_after)


class AccessDeniedError(OAuthError):
    """``access_denied``: the user refused the sign-in on the phone."""


class ExpiredTokenError(OAuthError):
    """``expired_token``: the device code lapsed before the phone approved it.
    Start the sign-in again."""


class InvalidGrantError(OAuthError):
    """``invalid_grant``: the device code or refresh token is unknown, expired,
    revoked or already used. For a refresh token this means the session is over
    (:class:`hivesync.TokenManager` turns it into ``SignedOutError``)."""


_ERROR_CLASSES: Final[Mapping[str, type[OAuthError]]] = {
    "access_denied": AccessDeniedError,
    "expired_token": ExpiredTokenError,
    "invalid_grant": InvalidGrantError,
}


class AuthUnavailableError(AuthError):
    """The authorization server could not be reached or answered something
    that is not OAuth JSON (code ``unavailable``). Retrying later may work;
    no tokens were changed."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.UNAVAILABLE, message)

    @property
    def transient(self) -> bool:
        return True


class LoginCancelledError(AuthError):
    """A device sign-in was cancelled through its ``cancel`` event (code
    ``canceled``). Async sign-ins are cancelled like any task instead and
    raise ``asyncio.CancelledError``."""

    def __init__(self, message: str = "sign-in cancelled") -> None:
        super().__init__(Code.CANCELED, message)


# --------------------------------------------------------------------------- data


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: Any) -> datetime:  # noqa: ANN401
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(value, UTC)
    else:
        text = str(value).strip().replace("Z", "+00:00")
        # Go writes nanoseconds; datetime takes at most microseconds.
        head, dot, rest = text.partition(".")
        if dot:
            digits = len(rest) - len(rest.lstrip("0123456789"))
            rest = rest[:digits][:6] + rest[digits:]
            text = f"{head}.{rest}"
        dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Tokens:
    """An access/refresh token pair with the access token's expiry.

    Attributes:
        access_token: The bearer token RPCs carry (an ES256 JWT; opaque here).
        refresh_token: Works exactly once; every refresh returns a new one.
        expires_at: When the access token expires (timezone-aware, UTC),
            computed from ``expires_in`` on this machine's clock when received.
        token_type: Always ``"Bearer"``.
        scope: Space-separated scopes the tokens carry, e.g. ``"plugin read write live"``.
    """

    access_token: str
    refresh_token: str
    expires_at: datetime
    token_type: str = "Bearer"
    scope: str = ""

    @property
    def scopes(self) -> tuple[str, ...]:
        """:attr:`scope` split into names."""
        return tuple(self.scope.split())

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """Whether the access token expires within ``seconds`` from ``now``."""
        return self.expires_at - (now or _utcnow()) <= timedelta(seconds=seconds)

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: datetime | None = None) -> Tokens:
        """Builds tokens from a token-endpoint answer (``access_token``,
        ``refresh_token``, ``expires_in``, ``token_type``, ``scope``)."""
        try:
            access = str(body["access_token"])
            refresh = str(body.get("refresh_token") or "")
            expires_in = float(body.get("expires_in") or 0)
        except (KeyError, TypeError, ValueError) as err:
            msg = f"malformed token response: {err}"
            raise AuthUnavailableError(msg) from None
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=(now or _utcnow()) + timedelta(seconds=expires_in),
            token_type=str(body.get("token_type") or "Bearer"),
            scope=str(body.get("scope") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        """A JSON-friendly dict (what :class:`hivesync.FileTokenStore` writes)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "token_type": self.token_type,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokens:
        """Reads :meth:`to_dict` output, and also ``hivesyncd token create``'s
        JSON (``expires_at`` in RFC 3339; ``expires_in`` is used when it is
        missing). Unknown keys are ignored."""
        if data.get("expires_at"):
            expires_at = _parse_time(data["expires_at"])
        else:
            expires_at = _utcnow() + timedelta(seconds=float(data.get("expires_in") or 0))
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=expires_at,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=str(data.get("scope") or ""),
        )

    def __repr__(self) -> str:  # never print secrets
        return (
            "Tokens(access_token='…', refresh_token='…', "
            f"expires_at={self.expires_at.isoformat()!r}, scope={self.scope!r})"
        )


@dataclass(frozen=True)
class DeviceAuthorization:
    """A started device sign-in (RFC 8628 §3.2), handed to the ``on_code``
    callback so the application can show it.

    Attributes:
        user_code: What the user types on the phone, e.g. ``"BCDF-GHJK"``.
        verification_uri: Where to enter it (the phone app also accepts it directly).
        verification_uri_complete: The same with the code filled in; render it
            as a QR code for the phone to scan.
        expires_in: Seconds until the code lapses.
        interval: Seconds the client waits between polls.
        device_code: The secret the client polls with; never show it.
    """

    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int
    device_code: str = field(repr=False)

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> DeviceAuthorization:
        try:
            return cls(
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=str(
                    body.get("verification_uri_complete") or body["verification_uri"]
                ),
                expires_in=int(body["expires_in"]),
                interval=int(body.get("interval") or _DEFAULT_INTERVAL_S),
                device_code=str(body["device_code"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            msg = f"malformed device authorization response: {err}"
            raise AuthUnavailableError(msg) from None


@dataclass(frozen=True)
class ServerMetadata:
    """The RFC 8414 metadata the SDK uses (the full document is in :attr:`raw`)."""

    issuer: str
    token_endpoint: str
    device_authorization_endpoint: str
    revocation_endpoint: str
    jwks_uri: str = ""
    scopes_supported: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ServerMetadata:
        try:
            return cls(
                issuer=str(body["issuer"]),
                token_endpoint=str(body["token_endpoint"]),
                device_authorization_endpoint=str(body["device_authorization_endpoint"]),
                revocation_endpoint=str(body["revocation_endpoint"]),
                jwks_uri=str(body.get("jwks_uri") or ""),
                scopes_supported=tuple(body.get("scopes_supported") or ()),
                raw=dict(body),
            )
        except KeyError as err:
            msg = f"authorization server metadata lacks {err}"
            raise AuthUnavailableError(msg) from None


# --------------------------------------------------------------------------- HTTP


def _form(params: Mapping[str, str | None]) -> tuple[dict[str, str], bytes]:
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "accept": "application/json",
        "user-agent": _USER_AGENT,
    }
    body = urlencode({k: v for k, v in params.items() if v is not None}).encode()
    return headers, body


def _retry_after(headers: Any) -> float | None:  # noqa: ANN401
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: rare enough to ignore


def _decode(
    method: str,
    url: str,
    status: int,
    content: bytes,
    headers: Any = None,  # noqa: ANN401
) -> dict[str, Any]:
    """Parses an OAuth answer; raises the typed error for a non-2xx one."""
    try:
        body = json.loads(content) if content.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        snippet = content[:200].decode("utf-8", "replace")
        msg = f"{method} {url}: HTTP {status} with a non-JSON body: {snippet!r}"
        raise AuthUnavailableError(msg)
    if 200 <= status < 300:
        return body
    if "error" not in body:
        msg = f"{method} {url}: HTTP {status} without an OAuth error: {body!r}"
        raise AuthUnavailableError(msg)
    raise OAuthError.from_response(status, body, _retry_after(headers))


def _transport_error(method: str, url: str, err: Exception) -> AuthUnavailableError:
    return AuthUnavailableError(f"{method} {url}: {type(err).__name__}: {err}")


def _scope_param(scopes: Iterable[str] | str | None) -> str | None:
    if scopes is None:
        return None
    if isinstance(scopes, str):
        return scopes.strip() or None
    return " ".join(scopes) or None


class _PollState:
    """The device flow's polling rules, shared by the sync and async loops."""

    def __init__(self, auth: DeviceAuthorization) -> None:
        self.auth = auth
        self.interval = float(max(auth.interval, 1))
        self.deadline = time.monotonic() + auth.expires_in
        self._backoff = self.interval

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> ExpiredTokenError:
        return ExpiredTokenError("expired_token", "the device code expired before it was approved")

    def next_wait(self) -> float:
        return self._backoff

    def on_error(self, err: AuthError) -> None:
        """Applies one failed poll; re-raises what ends the sign-in."""
        if isinstance(err, OAuthError) and err.error == "authorization_pending":
            self._backoff = self.interval
            return
        if isinstance(err, OAuthError) and err.error == "slow_down":
            self.interval += _SLOW_DOWN_STEP_S
            self._backoff = self.interval
            return
        if err.transient:
            # RFC 8628 §3.5: back off on connection trouble (and when rate
            # limited, at least as long as asked), keep polling.
            self._backoff = min(max(self._backoff * 2, err.retry_after or 0.0), _MAX_BACKOFF_S)
            return
        raise err


class OAuthClient:
    """Synchronous client of the HiveSync authorization server.

    Args:
        base_url: The server's base URL; the endpoints come from its RFC 8414
            metadata, fetched once (or pass ``metadata``).
        http_client: A ``pyqwest.SyncClient`` to share; the caller closes it.
        timeout: Per-request timeout in seconds.
        metadata: Skip discovery and use these endpoints.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_client: _SyncHTTPClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        metadata: ServerMetadata | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = http_client or _SyncHTTPClient()
        self._metadata = metadata
        self._lock = threading.Lock()

    def metadata(self) -> ServerMetadata:
        """The server's RFC 8414 metadata (fetched on first use, then cached)."""
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    url = self.base_url + METADATA_PATH
                    try:
                        resp = self._http.get(
                            url, {"accept": "application/json"}, timeout=self.timeout
                        )
                    except Exception as err:
                        raise _transport_error("GET", url, err) from err
                    self._metadata = ServerMetadata.from_dict(
                        _decode("GET", url, resp.status, resp.content, resp.headers)
                    )
        return self._metadata

    def _post(self, url: str, params: Mapping[str, str | None]) -> dict[str, Any]:
        headers, body = _form(params)
        try:
            resp = self._http.post(url, headers, body, timeout=self.timeout)
        except Exception as err:
            raise _transport_error("POST", url, err) from err
        return _decode("POST", url, resp.status, resp.content, resp.headers)

    def start_device_authorization(
        self, client_id: str, scopes: Iterable[str] | str | None = None
    ) -> DeviceAuthorization:
        """Starts a device sign-in (RFC 8628 §3.1) for ``client_id``. Without
        ``scopes`` the server grants the client's defaults (plugins: ``plugin
        read write live``)."""
        body = self._post(
            self.metadata().device_authorization_endpoint,
            {"client_id": client_id, "scope": _scope_param(scopes)},
        )
        return DeviceAuthorization.from_response(body)

    def poll_device_token(self, client_id: str, device_code: str) -> Tokens:
        """One poll of the token endpoint for a device code. Raises
        :class:`OAuthError` with ``error`` ``authorization_pending`` or
        ``slow_down`` while waiting; :meth:`device_login` handles those."""
        body = self._post(
            self.metadata().token_endpoint,
            {
                "grant_type": DEVICE_CODE_GRANT_TYPE,
                "device_code": device_code,
                "client_id": client_id,
            },
        )
        return Tokens.from_response(body)

    def device_login(
        self,
        client_id: str,
        on_code: Callable[[DeviceAuthorization], object],
        *,
        scopes: Iterable[str] | str | None = None,
        cancel: threading.Event | None = None,
    ) -> Tokens:
        """Runs the whole device flow and returns the tokens.

        ``on_code`` receives the :class:`DeviceAuthorization` to show (code,
        URL, QR payload) before polling starts; an exception in it aborts the
        sign-in. Polling honours the server's ``interval`` and ``slow_down``
        (+5 s each time) and backs off while the server is unreachable.

        Raises:
            AccessDeniedError: the user refused on the phone.
            ExpiredTokenError: the code lapsed (``expires_in``) unapproved.
            LoginCancelledError: ``cancel`` was set.
            OAuthError: any other refusal (e.g. ``invalid_client``, ``invalid_scope``).
        """
        auth = self.start_device_authorization(client_id, scopes)
        on_code(auth)
        state = _PollState(auth)
        while True:
            wait = min(state.next_wait(), max(state.remaining(), 0.0))
            if cancel is not None:
                if cancel.wait(wait):
                    raise LoginCancelledError
            else:
                time.sleep(wait)
            if state.remaining() <= 0:
                raise state.expired()
            try:
                return self.poll_device_token(client_id, auth.device_code)
            except AuthError as err:
                state.on_error(err)

    def refresh(self, client_id: str, refresh_token: str) -> Tokens:
        """Exchanges a refresh token for a new pair. The old refresh token is
        spent: presenting it again ends the whole session.

        Raises:
            InvalidGrantError: the refresh token is unknown, expired, revoked
                or already used (the session is over).
        """
        body = self._post(
            self.metadata().token_endpoint,
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
        )
        return Tokens.from_response(body)

    def revoke(self, client_id: str, token: str) -> None:
        """Revokes ``token`` (RFC 7009): a refresh or access token ends its
        whole session. Unknown tokens are accepted silently."""
        url = self.metadata().revocation_endpoint
        headers, body = _form({"token": token, "client_id": client_id})
        try:
            resp = self._http.post(url, headers, body, timeout=self.timeout)
        except Exception as err:
            raise _transport_error("POST", url, err) from err
        if not 200 <= resp.status < 300:
            _decode("POST", url, resp.status, resp.content, resp.headers)
            msg = f"POST {url}: HTTP {resp.status}"
            raise AuthUnavailableError(msg)

    def close(self) -> None:
        """Nothing to release (a shared ``http_client`` is the caller's)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncOAuthClient:
    """asyncio twin of :class:`OAuthClient` (same arguments; ``http_client``
    is a ``pyqwest.Client``). :meth:`device_login` is cancelled by cancelling
    its task, and ``on_code`` may be a coroutine function."""

    def __init__(
        self,
        base_url: str,
        *,
        http_client: _AsyncHTTPClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        metadata: ServerMetadata | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = http_client or _AsyncHTTPClient()
        self._metadata = metadata

    async def metadata(self) -> ServerMetadata:
        """The server's RFC 8414 metadata (fetched on first use, then cached)."""
        if self._metadata is None:
            url = self.base_url + METADATA_PATH
            try:
                async with asyncio.timeout(self.timeout):
                    resp = await self._http.get(url, {"accept": "application/json"})
            except Exception as err:
                raise _transport_error("GET", url, err) from err
            self._metadata = ServerMetadata.from_dict(
                _decode("GET", url, resp.status, resp.content, resp.headers)
            )
        return self._metadata

    async def _post_raw(self, url: str, params: Mapping[str, str | None]) -> Any:  # noqa: ANN401
        headers, body = _form(params)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._http.post(url, headers, body)
        except Exception as err:
            raise _transport_error("POST", url, err) from err

    async def _post(self, url: str, params: Mapping[str, str | None]) -> dict[str, Any]:
        resp = await self._post_raw(url, params)
        return _decode("POST", url, resp.status, resp.content, resp.headers)

    async def start_device_authorization(
        self, client_id: str, scopes: Iterable[str] | str | None = None
    ) -> DeviceAuthorization:
        """See :meth:`OAuthClient.start_device_authorization`."""
        meta = await self.metadata()
        body = await self._post(
            meta.device_authorization_endpoint,
            {"client_id": client_id, "scope": _scope_param(scopes)},
        )
        return DeviceAuthorization.from_response(body)

    async def poll_device_token(self, client_id: str, device_code: str) -> Tokens:
        """See :meth:`OAuthClient.poll_device_token`."""
        meta = await self.metadata()
        body = await self._post(
            meta.token_endpoint,
            {
                "grant_type": DEVICE_CODE_GRANT_TYPE,
                "device_code": device_code,
                "client_id": client_id,
            },
        )
        return Tokens.from_response(body)

    async def device_login(
        self,
        client_id: str,
        on_code: Callable[[DeviceAuthorization], object | Awaitable[object]],
        *,
        scopes: Iterable[str] | str | None = None,
    ) -> Tokens:
        """See :meth:`OAuthClient.device_login`; cancel the task to stop it."""
        auth = await self.start_device_authorization(client_id, scopes)
        shown = on_code(auth)
        if inspect.isawaitable(shown):
            await shown
        state = _PollState(auth)
        while True:
            await asyncio.sleep(min(state.next_wait(), max(state.remaining(), 0.0)))
            if state.remaining() <= 0:
                raise state.expired()
            try:
                return await self.poll_device_token(client_id, auth.device_code)
            except AuthError as err:
                state.on_error(err)

    async def refresh(self, client_id: str, refresh_token: str) -> Tokens:
        """See :meth:`OAuthClient.refresh`."""
        meta = await self.metadata()
        body = await self._post(
            meta.token_endpoint,
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
        )
        return Tokens.from_response(body)

    async def revoke(self, client_id: str, token: str) -> None:
        """See :meth:`OAuthClient.revoke`."""
        url = (await self.metadata()).revocation_endpoint
        resp = await self._post_raw(url, {"token": token, "client_id": client_id})
        if not 200 <= resp.status < 300:
            _decode("POST", url, resp.status, resp.content, resp.headers)
            msg = f"POST {url}: HTTP {resp.status}"
            raise AuthUnavailableError(msg)

    async def close(self) -> None:
        """Nothing to release (a shared ``http_client`` is the caller's)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def device_login(
    base_url: str,
    client_id: str,
    on_code: Callable[[DeviceAuthorization], object],
    *,
    scopes: Iterable[str] | str | None = None,
    cancel: threading.Event | None = None,
    http_client: _SyncHTTPClient | None = None,
) -> Tokens:
    """Signs ``client_id`` in with the device flow; see :meth:`OAuthClient.device_login`."""
    return OAuthClient(base_url, http_client=http_client).device_login(
        client_id, on_code, scopes=scopes, cancel=cancel
    )


async def device_login_async(
    base_url: str,
    client_id: str,
    on_code: Callable[[DeviceAuthorization], object | Awaitable[object]],
    *,
    scopes: Iterable[str] | str | None = None,
    http_client: _AsyncHTTPClient | None = None,
) -> Tokens:
    """asyncio version of :func:`device_login`; cancel the task to stop it."""
    return await AsyncOAuthClient(base_url, http_client=http_client).device_login(
        client_id, on_code, scopes=scopes
    )


# --------------------------------------------------------------------------- the phone side


def describe_device_code(phone: HiveSyncClient, user_code: str) -> DescribeDeviceCodeResponse:
    """What a pending sign-in asks for (client, scopes, expiry), for the phone
    to show before approving. ``phone`` must carry a token of the ``mobile``
    client with scope ``user``. Unknown or lapsed codes: ``not_found``."""
    return phone.auth.describe_device_code(DescribeDeviceCodeRequest(user_code=user_code))


def approve_device_code(
    phone: HiveSyncClient, user_code: str, *, approve: bool = True
) -> ApproveDeviceCodeResponse:
    """Approves (or with ``approve=False`` denies) the pending sign-in shown as
    ``user_code`` (case, spaces and dashes are ignored) as the phone's user.
    ``phone`` must carry a token of the ``mobile`` client with scope ``user``.
    A code is decided once; unknown, lapsed or decided codes: ``not_found``."""
    return phone.auth.approve_device_code(
        ApproveDeviceCodeRequest(user_code=user_code, approve=approve)
    )


async def describe_device_code_async(
    phone: AsyncHiveSyncClient, user_code: str
) -> DescribeDeviceCodeResponse:
    """asyncio version of :func:`describe_device_code`."""
    return await phone.auth.describe_device_code(DescribeDeviceCodeRequest(user_code=user_code))


async def approve_device_code_async(
    phone: AsyncHiveSyncClient, user_code: str, *, approve: bool = True
) -> ApproveDeviceCodeResponse:
    """asyncio version of :func:`approve_device_code`."""
    return await phone.auth.approve_device_code(
        ApproveDeviceCodeRequest(user_code=user_code, approve=approve)
    )
