"""Client factory: Connect clients for every HiveSync service, preconfigured.

A :class:`HiveSyncClient` (or :class:`AsyncHiveSyncClient`) holds the settings
every call shares — the backend's base URL, the plugin protocol version, an
optional bearer-token provider, the wire codec — and hands out the generated
Connect clients (``hivesync.v1.*_connect``) wired with them::

    from hivesync import HiveSyncClient
    from hivesync.v1.meta_service_pb2 import GetCompatibilityRequest

    with HiveSyncClient("https://api.hivesync.example") as hs:
        compat = hs.meta.get_compatibility(GetCompatibilityRequest(client_version=7))

Every call carries ``X-HiveSync-Plugin-Version`` and, when the token provider
returns a token, ``Authorization: Bearer <token>``. Side-effect-free methods
(``idempotency_level = NO_SIDE_EFFECTS``) are sent as Connect GET requests,
which proxies and CDNs can cache.

A token provider that can also refresh (a :class:`RefreshingTokenProvider`,
such as :class:`hivesync.TokenManager`) gets one more rule: a unary call that
answers ``unauthenticated`` is retried once with the token it hands back.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, runtime_checkable

from connectrpc.client import ConnectClient, ConnectClientSync
from connectrpc.code import Code
from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.request import Headers, RequestContext

from ._version import __version__
from .v1.auth_service_connect import AuthServiceClient, AuthServiceClientSync
from .v1.device_service_connect import DeviceServiceClient, DeviceServiceClientSync
from .v1.entitlement_service_connect import EntitlementServiceClient, EntitlementServiceClientSync
from .v1.file_service_connect import FileServiceClient, FileServiceClientSync
from .v1.meta_service_connect import MetaServiceClient, MetaServiceClientSync
from .v1.project_service_connect import ProjectServiceClient, ProjectServiceClientSync

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from connectrpc.interceptor import Interceptor, InterceptorSync
    from pyqwest import Client as HTTPClient, SyncClient as SyncHTTPClient

__all__ = [
    "AUTHORIZATION_HEADER",
    "PLUGIN_PROTOCOL_VERSION",
    "PLUGIN_VERSION_HEADER",
    "AsyncHiveSyncClient",
    "AsyncTokenProvider",
    "HiveSyncClient",
    "RefreshingTokenProvider",
    "TokenProvider",
]

PLUGIN_PROTOCOL_VERSION: Final[int] = 1
"""The plugin protocol version of the contract this SDK was built from, i.e. the
version it actually speaks. It is sent as ``X-HiveSync-Plugin-Version`` on every
call unless a client overrides it, and rises only when the contract changes in
a way plugins must know about. A server whose minimum is above it rejects calls
with ``failed_precondition`` + :class:`~hivesync.v1.errors_pb2.UpgradeRequired`."""

PLUGIN_VERSION_HEADER: Final[str] = "X-HiveSync-Plugin-Version"
"""Request header carrying the plugin protocol version."""

AUTHORIZATION_HEADER: Final[str] = "Authorization"
"""Request header carrying ``Bearer <token>`` when a token provider is set."""

USER_AGENT: Final[str] = f"hivesync-python/{__version__}"

TokenProvider = Callable[[], "str | None"]
"""Returns the current access token, or ``None`` to send the call unauthenticated.
Called before every request, so it can refresh an expired token."""

AsyncTokenProvider = Callable[[], "str | None | Awaitable[str | None]"]
"""Like :data:`TokenProvider`, but may also be a coroutine function."""


@runtime_checkable
class RefreshingTokenProvider(Protocol):
    """A token provider that can also recover from a rejected token, such as
    :class:`hivesync.TokenManager` / :class:`hivesync.AsyncTokenManager`.
    Given one as ``token_provider``, a client retries a unary call that answers
    ``unauthenticated`` once, with the token :meth:`on_unauthenticated` returns.
    For async clients both methods may be coroutine functions."""

    def __call__(self) -> Any:  # noqa: ANN401 - str | None, or an awaitable of it
        """Returns the access token for the next call, or ``None``."""
        ...

    def on_unauthenticated(self, rejected: str | None, error: ConnectError) -> Any:  # noqa: ANN401
        """A call sent with ``rejected`` (``None``: no token) answered
        ``unauthenticated`` (``error``). Returns a token to retry the call with
        once, or ``None`` to raise ``error``; may raise another error instead
        (e.g. :class:`hivesync.SignedOutError`)."""
        ...


_SyncC = TypeVar("_SyncC", bound=ConnectClientSync)
_AsyncC = TypeVar("_AsyncC", bound=ConnectClient)


def _codec(json: bool) -> Any:
    return google_protobuf_json_codec() if json else google_protobuf_binary_codec()


def _prefers_get(method: MethodInfo[Any, Any]) -> bool:
    return (
        method.idempotency_level == IdempotencyLevel.NO_SIDE_EFFECTS
        and method.stream_type == StreamType.UNARY
    )


def _set_common_headers(headers: Headers, plugin_version: int | None) -> None:
    # Values passed per call through `headers=` win over the client's defaults.
    user_agent = headers.get("user-agent", "")
    if not user_agent or user_agent.startswith("connectrpc/"):  # the library's default
        headers["user-agent"] = f"{USER_AGENT} {user_agent}".strip()
    if plugin_version is not None and PLUGIN_VERSION_HEADER not in headers:
        headers[PLUGIN_VERSION_HEADER] = str(plugin_version)


class _HeadersInterceptorSync:
    """Adds the plugin-version and authorization headers to every sync call."""

    def __init__(self, plugin_version: int | None, token_provider: TokenProvider | None) -> None:
        self._plugin_version = plugin_version
        self._token_provider = token_provider

    def on_start_sync(self, ctx: RequestContext, /) -> None:
        headers = ctx.request_headers
        _set_common_headers(headers, self._plugin_version)
        if self._token_provider is not None and AUTHORIZATION_HEADER not in headers:
            token = self._token_provider()
            if token:
                headers[AUTHORIZATION_HEADER] = f"Bearer {token}"

    def on_end_sync(self, token: None, ctx: RequestContext, error: Exception | None, /) -> None:
        return


class _HeadersInterceptor:
    """Adds the plugin-version and authorization headers to every async call."""

    def __init__(
        self, plugin_version: int | None, token_provider: AsyncTokenProvider | None
    ) -> None:
        self._plugin_version = plugin_version
        self._token_provider = token_provider

    async def on_start(self, ctx: RequestContext) -> None:
        headers = ctx.request_headers
        _set_common_headers(headers, self._plugin_version)
        if self._token_provider is not None and AUTHORIZATION_HEADER not in headers:
            token = self._token_provider()
            if inspect.isawaitable(token):
                token = await token
            if token:
                headers[AUTHORIZATION_HEADER] = f"Bearer {token}"

    async def on_end(self, token: None, ctx: RequestContext, error: Exception | None) -> None:
        return


class _AuthRetryInterceptorSync:
    """Sync unary calls: sets the provider's token, and on ``unauthenticated``
    asks the provider for a new one and retries the call once. Calls that
    carry their own ``Authorization`` header are left alone."""

    def __init__(self, provider: RefreshingTokenProvider) -> None:
        self._provider = provider

    def intercept_unary_sync(self, call_next: Any, request: Any, ctx: RequestContext, /) -> Any:  # noqa: ANN401
        headers = ctx.request_headers
        if AUTHORIZATION_HEADER in headers:
            return call_next(request, ctx)
        token = self._provider()
        if token:
            headers[AUTHORIZATION_HEADER] = f"Bearer {token}"
        try:
            return call_next(request, ctx)
        except ConnectError as err:
            if err.code != Code.UNAUTHENTICATED:
                raise
            fresh = self._provider.on_unauthenticated(token or None, err)
            if not fresh:
                raise
        headers[AUTHORIZATION_HEADER] = f"Bearer {fresh}"
        return call_next(request, ctx)


class _AuthRetryInterceptor:
    """Async version of :class:`_AuthRetryInterceptorSync`."""

    def __init__(self, provider: RefreshingTokenProvider) -> None:
        self._provider = provider

    async def intercept_unary(self, call_next: Any, request: Any, ctx: RequestContext) -> Any:  # noqa: ANN401
        headers = ctx.request_headers
        if AUTHORIZATION_HEADER in headers:
            return await call_next(request, ctx)
        token = self._provider()
        if inspect.isawaitable(token):
            token = await token
        if token:
            headers[AUTHORIZATION_HEADER] = f"Bearer {token}"
        try:
            return await call_next(request, ctx)
        except ConnectError as err:
            if err.code != Code.UNAUTHENTICATED:
                raise
            fresh = self._provider.on_unauthenticated(token or None, err)
            if inspect.isawaitable(fresh):
                fresh = await fresh
            if not fresh:
                raise
        headers[AUTHORIZATION_HEADER] = f"Bearer {fresh}"
        return await call_next(request, ctx)


def _sync_interceptors(
    plugin_version: int | None,
    token_provider: TokenProvider | None,
    extra: Iterable[InterceptorSync],
) -> tuple[Any, ...]:
    if inspect.iscoroutinefunction(token_provider) or inspect.iscoroutinefunction(
        getattr(token_provider, "__call__", None)  # noqa: B004
    ):
        msg = "a coroutine token provider (e.g. AsyncTokenManager) needs AsyncHiveSyncClient"
        raise TypeError(msg)
    first: tuple[Any, ...] = ()
    if isinstance(token_provider, RefreshingTokenProvider):
        first = (_AuthRetryInterceptorSync(token_provider),)
    return (*first, _HeadersInterceptorSync(plugin_version, token_provider), *extra)


def _async_interceptors(
    plugin_version: int | None,
    token_provider: AsyncTokenProvider | None,
    extra: Iterable[Interceptor],
) -> tuple[Any, ...]:
    first: tuple[Any, ...] = ()
    if isinstance(token_provider, RefreshingTokenProvider):
        first = (_AuthRetryInterceptor(token_provider),)
    return (*first, _HeadersInterceptor(plugin_version, token_provider), *extra)


class _GetPreferringSync:
    """Mixin for generated sync clients: NO_SIDE_EFFECTS unary calls use GET."""

    _hivesync_use_get: bool = True

    def execute_unary(  # type: ignore[no-untyped-def]
        self,
        *,
        request: Any,
        method: MethodInfo[Any, Any],
        headers: Headers | Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
        use_get: bool = False,
    ):
        use_get = use_get or (self._hivesync_use_get and _prefers_get(method))
        return super().execute_unary(  # type: ignore[misc]
            request=request, method=method, headers=headers, timeout_ms=timeout_ms, use_get=use_get
        )


class _GetPreferring:
    """Mixin for generated async clients: NO_SIDE_EFFECTS unary calls use GET."""

    _hivesync_use_get: bool = True

    async def execute_unary(  # type: ignore[no-untyped-def]
        self,
        *,
        request: Any,
        method: MethodInfo[Any, Any],
        headers: Headers | Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
        use_get: bool = False,
    ):
        use_get = use_get or (self._hivesync_use_get and _prefers_get(method))
        return await super().execute_unary(  # type: ignore[misc]
            request=request, method=method, headers=headers, timeout_ms=timeout_ms, use_get=use_get
        )


_subclass_cache: dict[type, type] = {}


def _get_preferring(cls: type, mixin: type) -> type:
    sub = _subclass_cache.get(cls)
    if sub is None:
        sub = type(cls.__name__, (mixin, cls), {"__module__": cls.__module__, "__doc__": cls.__doc__})
        _subclass_cache[cls] = sub
    return sub


class HiveSyncClient:
    """Synchronous entry point to a HiveSync backend.

    Args:
        base_url: The backend's base URL, for example ``"https://api.hivesync.dev"``
            (no trailing path; Connect paths are appended to it).
        token_provider: Called before every request; a returned token is sent as
            ``Authorization: Bearer <token>``. ``None`` (the default) or a provider
            returning ``None`` sends the call without credentials. Pass a
            :class:`hivesync.TokenManager` to have tokens refreshed, and calls
            answered ``unauthenticated`` retried once after a refresh.
        plugin_version: Sent as ``X-HiveSync-Plugin-Version`` on every call.
            Defaults to :data:`PLUGIN_PROTOCOL_VERSION`; ``None`` omits the header.
        json: Use the Connect JSON codec instead of binary Protobuf.
        use_get: Send side-effect-free unary methods as Connect GET requests
            (default ``True``).
        timeout_ms: Default per-call timeout in milliseconds.
        http_client: A ``pyqwest.SyncClient`` to share (TLS settings, pooling).
            The caller closes it.
        interceptors: Extra Connect interceptors, run after the SDK's own.

    Use it as a context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: TokenProvider | None = None,
        plugin_version: int | None = PLUGIN_PROTOCOL_VERSION,
        json: bool = False,
        use_get: bool = True,
        timeout_ms: int | None = None,
        http_client: SyncHTTPClient | None = None,
        interceptors: Iterable[InterceptorSync] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.plugin_version = plugin_version
        self._use_get = use_get
        self._kwargs: dict[str, Any] = {
            "codec": _codec(json),
            "timeout_ms": timeout_ms,
            "http_client": http_client,
            "interceptors": _sync_interceptors(plugin_version, token_provider, interceptors),
        }
        self._clients: dict[type, ConnectClientSync] = {}

    def service(self, client_class: type[_SyncC]) -> _SyncC:
        """Returns the generated sync client ``client_class`` (for example
        :class:`~hivesync.v1.meta_service_connect.MetaServiceClientSync`) configured
        with this client's settings. Instances are cached per class."""
        client = self._clients.get(client_class)
        if client is None:
            cls = _get_preferring(client_class, _GetPreferringSync)
            client = cls(self.base_url, **self._kwargs)
            client._hivesync_use_get = self._use_get  # type: ignore[attr-defined]
            self._clients[client_class] = client
        return client  # type: ignore[return-value]

    @property
    def meta(self) -> MetaServiceClientSync:
        """MetaService: compatibility, bootstrap config, server time, event schema."""
        return self.service(MetaServiceClientSync)

    @property
    def auth(self) -> AuthServiceClientSync:
        """AuthService: current user, sessions, device-code approval (phone)."""
        return self.service(AuthServiceClientSync)

    @property
    def devices(self) -> DeviceServiceClientSync:
        """DeviceService: register, list, rename and revoke devices."""
        return self.service(DeviceServiceClientSync)

    @property
    def entitlements(self) -> EntitlementServiceClientSync:
        """EntitlementService: the caller's tier and features."""
        return self.service(EntitlementServiceClientSync)

    @property
    def projects(self) -> ProjectServiceClientSync:
        """ProjectService: create, get and list the caller's projects."""
        return self.service(ProjectServiceClientSync)

    @property
    def files(self) -> FileServiceClientSync:
        """FileService: files and their versions; compare-and-set saves that
        answer ``aborted`` + :class:`~hivesync.v1.errors_pb2.Conflict` (decode it
        with :func:`hivesync.errors.conflict`) when the base is stale."""
        return self.service(FileServiceClientSync)

    def close(self) -> None:
        """Closes every service client handed out by this instance."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHiveSyncClient:
    """Asynchronous (asyncio) entry point to a HiveSync backend.

    Takes the same arguments as :class:`HiveSyncClient`, except that
    ``token_provider`` may be a coroutine function and ``http_client`` is a
    ``pyqwest.Client``. Use it with ``async with`` or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: AsyncTokenProvider | None = None,
        plugin_version: int | None = PLUGIN_PROTOCOL_VERSION,
        json: bool = False,
        use_get: bool = True,
        timeout_ms: int | None = None,
        http_client: HTTPClient | None = None,
        interceptors: Iterable[Interceptor] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.plugin_version = plugin_version
        self._use_get = use_get
        self._kwargs: dict[str, Any] = {
            "codec": _codec(json),
            "timeout_ms": timeout_ms,
            "http_client": http_client,
            "interceptors": _async_interceptors(plugin_version, token_provider, interceptors),
        }
        self._clients: dict[type, ConnectClient] = {}

    def service(self, client_class: type[_AsyncC]) -> _AsyncC:
        """Returns the generated async client ``client_class`` (for example
        :class:`~hivesync.v1.meta_service_connect.MetaServiceClient`) configured
        with this client's settings. Instances are cached per class."""
        client = self._clients.get(client_class)
        if client is None:
            cls = _get_preferring(client_class, _GetPreferring)
            client = cls(self.base_url, **self._kwargs)
            client._hivesync_use_get = self._use_get  # type: ignore[attr-defined]
            self._clients[client_class] = client
        return client  # type: ignore[return-value]

    @property
    def meta(self) -> MetaServiceClient:
        """MetaService: compatibility, bootstrap config, server time, event schema."""
        return self.service(MetaServiceClient)

    @property
    def auth(self) -> AuthServiceClient:
        """AuthService: current user, sessions, device-code approval (phone)."""
        return self.service(AuthServiceClient)

    @property
    def devices(self) -> DeviceServiceClient:
        """DeviceService: register, list, rename and revoke devices."""
        return self.service(DeviceServiceClient)

    @property
    def entitlements(self) -> EntitlementServiceClient:
        """EntitlementService: the caller's tier and features."""
        return self.service(EntitlementServiceClient)

    @property
    def projects(self) -> ProjectServiceClient:
        """ProjectService: create, get and list the caller's projects."""
        return self.service(ProjectServiceClient)

    @property
    def files(self) -> FileServiceClient:
        """FileService: files and their versions; compare-and-set saves that
        answer ``aborted`` + :class:`~hivesync.v1.errors_pb2.Conflict` (decode it
        with :func:`hivesync.errors.conflict`) when the base is stale."""
        return self.service(FileServiceClient)

    async def close(self) -> None:
        """Closes every service client handed out by this instance."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
