"""HiveSync SDK for Python.

Generated code lives in :mod:`hivesync.v1` (messages ``*_pb2``, Connect clients
``*_connect``), one module per file of the ``hivesync.v1`` contract. The
hand-written layer on top of it:

- :class:`HiveSyncClient` / :class:`AsyncHiveSyncClient` — the client factory
  (base URL, token provider, plugin-version header, GET for read-only RPCs);
- :mod:`hivesync.errors` — typed error details (:func:`upgrade_required`, ...);
- :func:`access_rule` — the ``(hivesync.v1.access)`` rule of any RPC.
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
    TokenProvider,
)
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

__all__ = [
    "AUTHORIZATION_HEADER",
    "PLUGIN_PROTOCOL_VERSION",
    "PLUGIN_VERSION_HEADER",
    "AccessRule",
    "AsyncHiveSyncClient",
    "AsyncTokenProvider",
    "HiveSyncClient",
    "TokenProvider",
    "__version__",
    "access_rule",
    "all_methods",
    "conflict",
    "details",
    "details_from_json",
    "entitlement_required",
    "find_detail",
    "limit_exceeded",
    "rate_limited",
    "upgrade_required",
]
