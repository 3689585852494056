"""HiveSync SDK for Python.

Generated code lives in :mod:`hivesync.v1` (messages ``*_pb2``, Connect clients
``*_connect``), one module per file of the ``hivesync.v1`` contract. The
hand-written layer on top of it:

- :class:`HiveSyncClient` / :class:`AsyncHiveSyncClient` — the client factory
  (base URL, token provider, plugin-version header, GET for read-only RPCs);
- :mod:`hivesync.errors` — typed error details (:func:`upgrade_required`,
  :func:`conflict`, ...);
- :func:`content_sha256` — the hash the server reports for a file's content,
  to compare local text with a version or a
  :class:`~hivesync.v1.errors_pb2.Conflict`;
- :mod:`hivesync.files` — :func:`save_file` / :func:`save_file_async`:
  compare-and-set saves typed as :class:`Saved` or :class:`Conflicted`,
  retried on transient failures with one idempotency key;
- :func:`access_rule` — the ``(hivesync.v1.access)`` rule of any RPC;
- :mod:`hivesync.oauth` — OAuth 2.1 device sign-in approved on the phone,
  refresh and revocation, with typed errors (:class:`AccessDeniedError`, ...);
- :mod:`hivesync.session` — :class:`TokenManager` / :class:`AsyncTokenManager`:
  tokens in a pluggable :class:`TokenStore`, refreshed for every RPC, and
  :class:`SignedOutError` when the session ends;
- :mod:`hivesync.events` — :class:`AsyncEventStream` / :class:`EventStream`:
  the WebSocket event stream, resumed across reconnects, each channel event
  delivered once and in order.
"""

from ._version import __version__
from .access import AccessRule, access_rule, all_methods
from .client import (
    AUTHORIZATION_HEADER,
    PLUGIN_PROTOCOL_VERSION,
    PLUGIN_VERSION_HEADER,
    AsyncHiveSyncClient,
    AsyncTokenProvider,
    HiveSyncClient,
    RefreshingTokenProvider,
    TokenProvider,
)
from .content import content_sha256, normalize_content
from .errors import (
    conflict,
    details,
    details_from_json,
    entitlement_required,
    find_detail,
    limit_exceeded,
    rate_limited,
    upgrade_required,
)
from .files import (
    Conflicted,
    RetryPolicy,
    Saved,
    SaveResult,
    is_retryable_save_error,
    save_file,
    save_file_async,
)
from .events import (
    AsyncEventStream,
    Backoff,
    EventStream,
    EventStreamError,
    StreamRevokedError,
    StreamState,
    StreamUpgradeRequiredError,
    SubscriptionError,
    event_stream_url,
)
from .oauth import (
    AccessDeniedError,
    AsyncOAuthClient,
    AuthError,
    AuthUnavailableError,
    DeviceAuthorization,
    ExpiredTokenError,
    InvalidGrantError,
    LoginCancelledError,
    OAuthClient,
    OAuthError,
    ServerMetadata,
    Tokens,
    approve_device_code,
    approve_device_code_async,
    describe_device_code,
    describe_device_code_async,
    device_login,
    device_login_async,
)
from .session import (
    AsyncTokenManager,
    AsyncTokenStore,
    FileTokenStore,
    MemoryTokenStore,
    SignedOutError,
    SignedOutReason,
    TokenManager,
    TokenStore,
)

__all__ = [
    "AUTHORIZATION_HEADER",
    "PLUGIN_PROTOCOL_VERSION",
    "PLUGIN_VERSION_HEADER",
    "AccessDeniedError",
    "AccessRule",
    "AsyncEventStream",
    "AsyncHiveSyncClient",
    "AsyncOAuthClient",
    "AsyncTokenManager",
    "AsyncTokenProvider",
    "AsyncTokenStore",
    "AuthError",
    "AuthUnavailableError",
    "Conflicted",
    "RetryPolicy",
    "SaveResult",
    "Saved",
    "Backoff",
    "DeviceAuthorization",
    "EventStream",
    "EventStreamError",
    "ExpiredTokenError",
    "FileTokenStore",
    "HiveSyncClient",
    "InvalidGrantError",
    "LoginCancelledError",
    "MemoryTokenStore",
    "OAuthClient",
    "OAuthError",
    "RefreshingTokenProvider",
    "ServerMetadata",
    "SignedOutError",
    "SignedOutReason",
    "StreamRevokedError",
    "StreamState",
    "StreamUpgradeRequiredError",
    "SubscriptionError",
    "TokenManager",
    "TokenProvider",
    "TokenStore",
    "Tokens",
    "__version__",
    "access_rule",
    "all_methods",
    "approve_device_code",
    "approve_device_code_async",
    "describe_device_code",
    "describe_device_code_async",
    "device_login",
    "device_login_async",
    "conflict",
    "content_sha256",
    "details",
    "details_from_json",
    "entitlement_required",
    "event_stream_url",
    "find_detail",
    "is_retryable_save_error",
    "limit_exceeded",
    "normalize_content",
    "rate_limited",
    "save_file",
    "save_file_async",
    "upgrade_required",
]
