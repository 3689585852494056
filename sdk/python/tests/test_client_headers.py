"""What the client factory puts on the wire, observed by a local HTTP server
that records requests (the live-server smoke tests cannot see headers)."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

import hivesync
from hivesync import HiveSyncClient
from hivesync.v1.errors_pb2 import UpgradeRequired
from hivesync.v1.meta_service_pb2 import GetCompatibilityRequest, GetCompatibilityResponse

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
        body = GetCompatibilityResponse(server_version="test").SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/proto")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer  # noqa: N815
    do_POST = _answer  # noqa: N815

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _headers(req: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in req["headers"].items()}


def test_defaults_plugin_version_get_no_auth(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = recorder
    with HiveSyncClient(url) as hs:
        assert hs.meta.get_compatibility(GetCompatibilityRequest()).server_version == "test"
    (req,) = seen
    assert req["method"] == "GET"
    assert req["path"].startswith("/hivesync.v1.MetaService/GetCompatibility?")
    headers = _headers(req)
    assert headers["x-hivesync-plugin-version"] == str(hivesync.PLUGIN_PROTOCOL_VERSION) == "1"
    assert "authorization" not in headers
    assert headers["user-agent"].startswith("hivesync-python/")


def test_token_provider_and_overrides(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = recorder
    tokens = iter(["tok-1", None])
    with HiveSyncClient(url, token_provider=lambda: next(tokens), plugin_version=5, use_get=False) as hs:
        hs.meta.get_compatibility(GetCompatibilityRequest())
        hs.meta.get_compatibility(
            GetCompatibilityRequest(), headers={hivesync.PLUGIN_VERSION_HEADER: "9"}
        )
    first, second = (_headers(r) for r in seen)
    assert [r["method"] for r in seen] == ["POST", "POST"]
    assert first["authorization"] == "Bearer tok-1"
    assert first["x-hivesync-plugin-version"] == "5"
    assert "authorization" not in second  # provider returned None
    assert second["x-hivesync-plugin-version"] == "9"  # per-call header wins


def test_plugin_version_none_omits_header(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = recorder
    with HiveSyncClient(url, plugin_version=None) as hs:
        hs.meta.get_compatibility(GetCompatibilityRequest())
    assert "x-hivesync-plugin-version" not in _headers(seen[0])


def test_error_helpers_ignore_other_exceptions() -> None:
    assert hivesync.upgrade_required(ValueError("x")) is None
    assert hivesync.details(RuntimeError()) == []
    assert hivesync.upgrade_required(ConnectError(Code.UNKNOWN, "x")) is None


def test_details_from_json_both_shapes() -> None:
    detail = UpgradeRequired(
        reason=UpgradeRequired.REASON_PLUGIN_PROTOCOL_TOO_OLD, min_supported_version=2
    )
    connect_shape = {
        "code": "failed_precondition",
        "message": "upgrade",
        "details": [
            {
                "type": "hivesync.v1.UpgradeRequired",
                "value": base64.b64encode(detail.SerializeToString()).decode().rstrip("="),
            },
            {"type": "example.Unknown", "value": "AA"},
        ],
    }
    google_shape = {
        "code": 9,
        "message": "upgrade",
        "details": [
            {
                "@type": "type.googleapis.com/hivesync.v1.UpgradeRequired",
                "reason": "REASON_PLUGIN_PROTOCOL_TOO_OLD",
                "minSupportedVersion": 2,
            }
        ],
    }
    assert hivesync.details_from_json(connect_shape) == [detail]
    assert hivesync.details_from_json(google_shape) == [detail]
