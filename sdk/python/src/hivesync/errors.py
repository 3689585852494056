"""Typed error details: turn a failed call into the contract's error messages.

The server never asks a client to parse an error string: every actionable
failure carries a Protobuf detail from ``hivesync/v1/errors.proto``. These
helpers find and decode them::

    from connectrpc.errors import ConnectError
    from hivesync import errors

    try:
        hs.meta.get_compatibility(req)
    except ConnectError as err:
        if (upgrade := errors.upgrade_required(err)) is not None:
            show_upgrade_screen(upgrade.upgrade_url, upgrade.message)
        else:
            raise

Each helper accepts any exception (returning ``None`` unless it is a
``ConnectError`` with that detail), so it can be used in broad ``except`` blocks.
REST callers can decode an error body with :func:`details_from_json`.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Final, TypeVar

from connectrpc.errors import ConnectError
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message

from .v1.errors_pb2 import (
    Conflict,
    EntitlementRequired,
    LimitExceeded,
    RateLimited,
    UpgradeRequired,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DETAIL_TYPES",
    "Conflict",
    "EntitlementRequired",
    "LimitExceeded",
    "RateLimited",
    "UpgradeRequired",
    "conflict",
    "details",
    "details_from_json",
    "entitlement_required",
    "find_detail",
    "limit_exceeded",
    "rate_limited",
    "upgrade_required",
]

M = TypeVar("M", bound=Message)

DETAIL_TYPES: Final[tuple[type[Message], ...]] = (
    Conflict,
    UpgradeRequired,
    EntitlementRequired,
    LimitExceeded,
    RateLimited,
)
"""The typed error details the HiveSync contract defines."""

_TYPE_URL_PREFIX: Final = "type.googleapis.com/"


def _message_class(type_name: str) -> type[Message] | None:
    """Finds the generated (or dynamic) class for a full message name."""
    for cls in DETAIL_TYPES:
        if cls.DESCRIPTOR.full_name == type_name:
            return cls
    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return None
    return message_factory.GetMessageClass(desc)


def _decode(type_name: str, data: bytes) -> Message | None:
    cls = _message_class(type_name)
    if cls is None:
        return None
    try:
        return cls.FromString(data)
    except DecodeError:
        return None


def _b64decode(value: str) -> bytes:
    # Connect sends standard base64 without padding; accept URL-safe too.
    value = value.rstrip("=").replace("-", "+").replace("_", "/")
    return base64.b64decode(value + "=" * (-len(value) % 4))


def details(err: BaseException) -> list[Message]:
    """Decodes every error detail of ``err`` whose type this process knows
    (the HiveSync details and anything else in the default descriptor pool).
    Returns an empty list when ``err`` is not a ``ConnectError``."""
    if not isinstance(err, ConnectError):
        return []
    decoded = []
    for detail in err.details:
        msg = _decode(detail.type_name, detail.message_bytes)
        if msg is not None:
            decoded.append(msg)
    return decoded


def find_detail(err: BaseException, detail_type: type[M]) -> M | None:
    """Returns the first detail of type ``detail_type`` attached to ``err``,
    decoded, or ``None`` when there is none (or ``err`` is not a ``ConnectError``)."""
    if not isinstance(err, ConnectError):
        return None
    want = detail_type.DESCRIPTOR.full_name
    for detail in err.details:
        if detail.type_name == want:
            try:
                return detail_type.FromString(detail.message_bytes)
            except DecodeError:
                return None
    return None


def upgrade_required(err: BaseException) -> UpgradeRequired | None:
    """The :class:`UpgradeRequired` detail (code ``failed_precondition``): the
    client build or plugin protocol is older than the server supports."""
    return find_detail(err, UpgradeRequired)


def entitlement_required(err: BaseException) -> EntitlementRequired | None:
    """The :class:`EntitlementRequired` detail (code ``permission_denied``): a
    tier gate denied the call; carries the upgrade-intercept text."""
    return find_detail(err, EntitlementRequired)


def conflict(err: BaseException) -> Conflict | None:
    """The :class:`Conflict` detail (code ``aborted``): a save named a base
    revision that is no longer the head. Nothing was written."""
    return find_detail(err, Conflict)


def limit_exceeded(err: BaseException) -> LimitExceeded | None:
    """The :class:`LimitExceeded` detail (``invalid_argument`` or
    ``resource_exhausted``): the request would pass a configured limit."""
    return find_detail(err, LimitExceeded)


def rate_limited(err: BaseException) -> RateLimited | None:
    """The :class:`RateLimited` detail (code ``resource_exhausted``): retry
    after ``retry_after``."""
    return find_detail(err, RateLimited)


def details_from_json(body: Mapping[str, Any]) -> list[Message]:
    """Decodes the details of a JSON error body returned by a REST route.

    Understands both shapes the server may use: Connect's
    ``{"code", "message", "details": [{"type", "value" (base64)}]}`` and
    Google's ``google.rpc.Status`` JSON, whose details are ``Any`` objects
    (``{"@type": "type.googleapis.com/<name>", ...fields}``). Details of
    unknown types are skipped.
    """
    out: list[Message] = []
    raw: Sequence[Any] = body.get("details") or ()
    for item in raw:
        if not isinstance(item, dict):
            continue
        if "type" in item and "value" in item:  # Connect shape
            msg = _decode(item["type"], _b64decode(str(item["value"])))
        elif "@type" in item:  # google.rpc.Status shape: a JSON Any
            type_name = str(item["@type"]).removeprefix(_TYPE_URL_PREFIX)
            cls = _message_class(type_name)
            msg = None
            if cls is not None:
                if "value" in item and len(item) == 2:  # WKT-style {"@type", "value"}
                    fields: Any = item["value"]
                else:
                    fields = {k: v for k, v in item.items() if k != "@type"}
                try:
                    msg = json_format.ParseDict(fields, cls(), ignore_unknown_fields=True)
                except json_format.ParseError:
                    msg = None
        else:
            msg = None
        if msg is not None:
            out.append(msg)
    return out
