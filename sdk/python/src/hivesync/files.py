"""Compare-and-set saves that never lose a save.

A save names the version it edited (``base_revision_id``); when that is no
longer the head the server writes nothing and answers ``aborted`` with a
:class:`~hivesync.v1.errors_pb2.Conflict` detail. :func:`save_file` (blocking)
and :func:`save_file_async` make that outcome a type and retry transient
failures — ``unavailable``, ``deadline_exceeded``, a connection that broke
under the call — with ONE idempotency key, so a save whose answer was lost
converges on the version the server stored instead of writing twice::

    from hivesync.files import Conflicted, Saved, save_file

    result = save_file(hs, SaveFileRequest(file_id=fid, base_revision_id=base, content=text))
    match result:
        case Saved(version=v):
            base = v.id
        case Conflicted(conflict=c):
            show_merge(c.unified_diff, c.head_revision_id)

Every other failure (``not_found``, ``permission_denied``, a size limit, the
last transient error once the attempts or the deadline run out) is raised as
the call's :class:`connectrpc.errors.ConnectError`.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from .errors import conflict as _conflict_detail

if TYPE_CHECKING:
    from .client import AsyncHiveSyncClient, HiveSyncClient
    from .v1.errors_pb2 import Conflict
    from .v1.file_service_connect import FileServiceClient, FileServiceClientSync
    from .v1.file_service_pb2 import FileVersion, SaveFileRequest

__all__ = [
    "Conflicted",
    "RetryPolicy",
    "SaveResult",
    "Saved",
    "is_retryable_save_error",
    "save_file",
    "save_file_async",
]


@dataclass(frozen=True)
class Saved:
    """The save was stored as :attr:`version`. When an earlier attempt of the
    same save was stored but its answer was lost, this is the version that
    attempt created (the server recognises the idempotency key)."""

    version: FileVersion
    attempts: int
    """How many SaveFile calls it took (1 when the first one answered)."""
    idempotency_key: str
    """The key every attempt carried."""


@dataclass(frozen=True)
class Conflicted:
    """The base was stale: nothing was written. :attr:`conflict` carries the
    server head (``head_revision_id``, ``head_revision``,
    ``head_content_sha256``), ``client_content_sha256`` and a ``unified_diff``
    from the base to the head. Merge, then save again with
    ``base_revision_id=conflict.head_revision_id`` (a new save, so a new key).
    A conflict is never retried."""

    conflict: Conflict
    attempts: int
    idempotency_key: str


SaveResult = Union[Saved, Conflicted]  # noqa: UP007 - a runtime alias
"""What :func:`save_file` returns."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one save: exponential backoff with full jitter (the n-th
    retry waits a random time in ``[0, min(max_delay, base_delay * 2**(n-1))]``
    seconds), at most :attr:`max_attempts` calls (the first included) and, when
    :attr:`deadline` is set, within that many seconds in total (each attempt's
    timeout is cut to what is left)."""

    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0
    deadline: float | None = None
    attempt_timeout: float | None = None
    """Timeout of one attempt in seconds (default: none beyond the deadline)."""

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before retry number ``retry`` (1-based)."""
        return rand() * min(self.max_delay, self.base_delay * (2 ** (retry - 1)))


DEFAULT_RETRY_POLICY = RetryPolicy()

_RETRYABLE_CODES = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED})


def is_retryable_save_error(err: BaseException) -> bool:
    """Whether a failed save may be retried with the same idempotency key:
    ``unavailable`` (the Python Connect client also reports a connection that
    broke under the call this way) and ``deadline_exceeded``. Never a Conflict,
    ``invalid_argument``, ``permission_denied``, ``not_found``,
    ``resource_exhausted``, ``failed_precondition``, ``unauthenticated`` or
    ``canceled``."""
    return (
        isinstance(err, ConnectError)
        and err.code in _RETRYABLE_CODES
        and _conflict_detail(err) is None
    )


def _prepare(request: SaveFileRequest) -> tuple[SaveFileRequest, str]:
    key = request.idempotency_key or str(uuid.uuid4())
    if key == request.idempotency_key:
        return request, key
    req = type(request)()
    req.CopyFrom(request)
    req.idempotency_key = key
    return req, key


def _conflicted(err: ConnectError, attempts: int, key: str) -> Conflicted | None:
    if err.code != Code.ABORTED:
        return None
    detail = _conflict_detail(err)
    return Conflicted(detail, attempts, key) if detail is not None else None


def _timeout_ms(policy: RetryPolicy, deadline_at: float | None, attempt: int) -> int | None:
    timeout = policy.attempt_timeout
    if deadline_at is not None:
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise ConnectError(
                Code.DEADLINE_EXCEEDED, f"save deadline passed before attempt {attempt}"
            )
        timeout = left if timeout is None else min(timeout, left)
    return None if timeout is None else max(1, int(timeout * 1000))


def _files_sync(client: HiveSyncClient | FileServiceClientSync) -> FileServiceClientSync:
    return getattr(client, "files", client)  # a HiveSyncClient, or its .files


def _files_async(client: AsyncHiveSyncClient | FileServiceClient) -> FileServiceClient:
    return getattr(client, "files", client)


def save_file(
    client: HiveSyncClient | FileServiceClientSync,
    request: SaveFileRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    headers: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    on_retry: Callable[[int, float, ConnectError], None] | None = None,
) -> SaveResult:
    """Saves a file version compare-and-set, retrying transient failures.

    ``client`` is a :class:`~hivesync.HiveSyncClient` or its ``files`` client.
    ``request.idempotency_key`` is used as given, or a fresh UUID v4 when
    empty, and sent on every attempt. ``cancel``, when set, stops the retries
    (the backoff wait ends at once; an attempt in flight finishes first) and
    raises ``ConnectError(CANCELED)``. ``on_retry(attempt, delay_s, error)`` is
    called before each backoff wait.

    Returns :class:`Saved` or :class:`Conflicted`; raises every other failure.
    """
    files = _files_sync(client)
    req, key = _prepare(request)
    deadline_at = None if policy.deadline is None else time.monotonic() + policy.deadline
    attempt = 0
    while True:
        attempt += 1
        if cancel is not None and cancel.is_set():
            raise ConnectError(Code.CANCELED, "save canceled")
        try:
            res = files.save_file(
                req, headers=headers, timeout_ms=_timeout_ms(policy, deadline_at, attempt)
            )
            return Saved(res.version, attempt, key)
        except ConnectError as err:
            c = _conflicted(err, attempt, key)
            if c is not None:
                return c
            delay = _next_delay(policy, err, attempt, deadline_at)
            if on_retry is not None:
                on_retry(attempt, delay, err)
            if cancel is not None:
                if cancel.wait(delay):
                    raise ConnectError(Code.CANCELED, "save canceled") from err
            else:
                time.sleep(delay)


async def save_file_async(
    client: AsyncHiveSyncClient | FileServiceClient,
    request: SaveFileRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    headers: Mapping[str, str] | None = None,
    on_retry: Callable[[int, float, ConnectError], None] | None = None,
) -> SaveResult:
    """:func:`save_file` for an :class:`~hivesync.AsyncHiveSyncClient` (or its
    ``files`` client). Cancel it like any coroutine (``task.cancel()``,
    ``asyncio.timeout``): the attempt in flight or the backoff wait ends at
    once and :class:`asyncio.CancelledError` propagates."""
    files = _files_async(client)
    req, key = _prepare(request)
    deadline_at = None if policy.deadline is None else time.monotonic() + policy.deadline
    attempt = 0
    while True:
        attempt += 1
        try:
            res = await files.save_file(
                req, headers=headers, timeout_ms=_timeout_ms(policy, deadline_at, attempt)
            )
            return Saved(res.version, attempt, key)
        except ConnectError as err:
            task = asyncio.current_task()
            if err.code == Code.CANCELED and task is not None and task.cancelling():
                # The Connect client turns our cancellation into CANCELED; give it back.
                raise asyncio.CancelledError from err
            c = _conflicted(err, attempt, key)
            if c is not None:
                return c
            delay = _next_delay(policy, err, attempt, deadline_at)
            if on_retry is not None:
                on_retry(attempt, delay, err)
            await asyncio.sleep(delay)


def _next_delay(
    policy: RetryPolicy, err: ConnectError, attempt: int, deadline_at: float | None
) -> float:
    """The backoff before the next attempt, or re-raises ``err`` when there is none."""
    if not is_retryable_save_error(err) or attempt >= max(1, policy.max_attempts):
        raise err
    delay = policy.delay(attempt)
    if deadline_at is not None and time.monotonic() + delay >= deadline_at:
        raise err
    return delay
