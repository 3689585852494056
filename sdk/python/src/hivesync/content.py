"""File content as the server stores it, to compare local text with a
:class:`~hivesync.v1.file_service_pb2.FileVersion` or a
:class:`~hivesync.v1.errors_pb2.Conflict` by hash, without fetching content::

    from hivesync import content_sha256, errors

    try:
        hs.files.save_file(SaveFileRequest(file_id=fid, base_revision_id=base, content=text, ...))
    except ConnectError as err:
        if (c := errors.conflict(err)) is None:
            raise
        if c.head_content_sha256 == content_sha256(text):
            ...  # the head already has this text: adopt c.head_revision_id, nothing to merge
        else:
            ...  # merge view from c.unified_diff (base -> head), then save with base c.head_revision_id
"""

from __future__ import annotations

import hashlib

__all__ = ["content_sha256", "normalize_content"]


def normalize_content(content: str) -> str:
    """``content`` as the server stores it: CRLF line endings become LF
    (nothing else changes)."""
    return content.replace("\r\n", "\n")


def content_sha256(content: str) -> str:
    """The lowercase hex SHA-256 the server reports for ``content``
    (``FileVersion.content_sha256``, ``Conflict.head_content_sha256`` and
    ``client_content_sha256``): of its UTF-8 bytes after
    :func:`normalize_content`."""
    return hashlib.sha256(normalize_content(content).encode("utf-8")).hexdigest()
