"""Smoke tests of the SDK against a live hivesyncd (see conftest.py): the real
Connect client and plain HTTP for REST, no mocks."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.timestamp_pb2 import Timestamp

import hivesync
from hivesync import AsyncHiveSyncClient, HiveSyncClient, access_rule, errors
from hivesync.v1 import events_pb2
from hivesync.v1.access_pb2 import ClientType
from hivesync.v1.errors_pb2 import UpgradeRequired
from hivesync.v1.meta_service_connect import MetaServiceClient, MetaServiceClientSync
from hivesync.v1.meta_service_pb2 import (
    GetBootstrapConfigRequest,
    GetCompatibilityRequest,
    GetCompatibilityResponse,
    GetEventSchemaRequest,
    GetServerTimeRequest,
)

from .conftest import (
    CURRENT_PLUGIN_PROTOCOL_VERSION,
    MIN_CLIENT_VERSION,
    MIN_PLUGIN_PROTOCOL_VERSION,
    UPGRADE_URL,
)

CLIENT_VERSION = 7  # a supported client build (>= MIN_CLIENT_VERSION)
# Happy paths announce the server's current plugin protocol explicitly; the
# SDK's default (PLUGIN_PROTOCOL_VERSION = 1) is older than the server's minimum.
PLUGIN_VERSION = CURRENT_PLUGIN_PROTOCOL_VERSION


def _rest_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Plain HTTP GET returning (status, parsed JSON body) — also for 4xx/5xx."""
    req = urllib.request.Request(url, headers={"Accept": "application/json", **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body or b"{}")
        except json.JSONDecodeError:
            pytest.fail(f"GET {url} -> {err.code} with a non-JSON body: {body[:500]!r}")


def _assert_compatibility(resp: GetCompatibilityResponse, plugin_version: int) -> None:
    assert resp.server_version
    assert "v1" in resp.api_versions
    assert resp.current_plugin_protocol_version == CURRENT_PLUGIN_PROTOCOL_VERSION
    assert resp.min_plugin_protocol_version == MIN_PLUGIN_PROTOCOL_VERSION
    assert resp.min_client_version == MIN_CLIENT_VERSION
    assert resp.plugin_protocol_version == plugin_version
    assert resp.upgrade_recommended == (plugin_version < CURRENT_PLUGIN_PROTOCOL_VERSION)
    assert resp.upgrade_url == UPGRADE_URL
    assert resp.HasField("server_time")
    assert abs(resp.server_time.ToDatetime().timestamp() - time.time()) < 60


# 1. GetCompatibility over Connect (binary and JSON codecs, GET and POST).
@pytest.mark.parametrize("use_json", [False, True], ids=["proto", "json"])
@pytest.mark.parametrize("use_get", [True, False], ids=["get", "post"])
def test_compatibility_over_connect(base_url: str, use_json: bool, use_get: bool) -> None:
    with HiveSyncClient(
        base_url, plugin_version=PLUGIN_VERSION, json=use_json, use_get=use_get
    ) as hs:
        resp = hs.meta.get_compatibility(
            GetCompatibilityRequest(
                client_type=ClientType.CLIENT_TYPE_CLI, client_version=CLIENT_VERSION
            )
        )
    _assert_compatibility(resp, PLUGIN_VERSION)
    assert not resp.upgrade_recommended


def test_compatibility_supported_but_outdated_plugin(base_url: str) -> None:
    with HiveSyncClient(base_url, plugin_version=MIN_PLUGIN_PROTOCOL_VERSION) as hs:
        resp = hs.meta.get_compatibility(GetCompatibilityRequest(client_version=CLIENT_VERSION))
    _assert_compatibility(resp, MIN_PLUGIN_PROTOCOL_VERSION)
    assert resp.upgrade_recommended


def test_compatibility_async_client(base_url: str) -> None:
    async def call() -> GetCompatibilityResponse:
        async with AsyncHiveSyncClient(base_url, plugin_version=PLUGIN_VERSION) as hs:
            return await hs.meta.get_compatibility(
                GetCompatibilityRequest(client_version=CLIENT_VERSION)
            )

    _assert_compatibility(asyncio.run(call()), PLUGIN_VERSION)


# 2. The same data over REST equals the Connect answer (server_time aside).
def test_compatibility_over_rest_matches_connect(base_url: str) -> None:
    with HiveSyncClient(base_url, plugin_version=PLUGIN_VERSION) as hs:
        connect_resp = hs.meta.get_compatibility(
            GetCompatibilityRequest(
                client_type=ClientType.CLIENT_TYPE_CLI, client_version=CLIENT_VERSION
            )
        )
    status, body = _rest_get(
        f"{base_url}/api/v1/meta/compatibility"
        f"?clientType=CLIENT_TYPE_CLI&clientVersion={CLIENT_VERSION}",
        {hivesync.PLUGIN_VERSION_HEADER: str(PLUGIN_VERSION)},
    )
    assert status == 200, body
    assert "serverTime" in body
    rest_resp = json_format.ParseDict(body, GetCompatibilityResponse())
    _assert_compatibility(rest_resp, PLUGIN_VERSION)
    # protojson: lowerCamelCase keys, as the Connect JSON codec would write them.
    expected = json_format.MessageToDict(connect_resp)
    expected.pop("serverTime")
    body.pop("serverTime")
    assert body == expected


# 3. An outdated plugin protocol surfaces as a typed UpgradeRequired: this SDK
#    speaks protocol 1 (its default), older than the server's minimum of 2.
def test_sdk_default_plugin_version_is_older_than_server_minimum() -> None:
    assert hivesync.PLUGIN_PROTOCOL_VERSION == 1
    assert hivesync.PLUGIN_PROTOCOL_VERSION < MIN_PLUGIN_PROTOCOL_VERSION


@pytest.mark.parametrize("use_json", [False, True], ids=["proto", "json"])
def test_outdated_plugin_gets_typed_upgrade_required(base_url: str, use_json: bool) -> None:
    with HiveSyncClient(base_url, json=use_json) as hs:  # the SDK's default plugin version
        with pytest.raises(ConnectError) as exc_info:
            hs.meta.get_compatibility(GetCompatibilityRequest(client_version=CLIENT_VERSION))
    err = exc_info.value
    assert err.code == Code.FAILED_PRECONDITION
    upgrade = errors.upgrade_required(err)
    assert upgrade is not None, f"no UpgradeRequired detail in {err.details!r}"
    assert upgrade.reason == UpgradeRequired.REASON_PLUGIN_PROTOCOL_TOO_OLD
    assert upgrade.client_version == hivesync.PLUGIN_PROTOCOL_VERSION == 1
    assert upgrade.min_supported_version == MIN_PLUGIN_PROTOCOL_VERSION
    assert upgrade.current_version == CURRENT_PLUGIN_PROTOCOL_VERSION
    assert upgrade.upgrade_url == UPGRADE_URL
    assert upgrade.message
    # The generic helpers agree, and other detail helpers find nothing.
    assert upgrade in errors.details(err)
    assert errors.entitlement_required(err) is None
    assert errors.conflict(err) is None
    assert errors.limit_exceeded(err) is None
    assert errors.rate_limited(err) is None


def test_outdated_plugin_async_client(base_url: str) -> None:
    async def call() -> BaseException:
        async with AsyncHiveSyncClient(base_url) as hs:  # the SDK's default plugin version
            try:
                await hs.meta.get_event_schema(GetEventSchemaRequest())
            except ConnectError as err:
                return err
        pytest.fail("outdated plugin version was accepted")

    err = asyncio.run(call())
    upgrade = errors.upgrade_required(err)
    assert upgrade is not None
    assert upgrade.reason == UpgradeRequired.REASON_PLUGIN_PROTOCOL_TOO_OLD
    assert upgrade.client_version == hivesync.PLUGIN_PROTOCOL_VERSION


def test_outdated_plugin_over_rest_carries_detail(base_url: str) -> None:
    status, body = _rest_get(
        f"{base_url}/api/v1/meta/compatibility?clientVersion={CLIENT_VERSION}",
        {hivesync.PLUGIN_VERSION_HEADER: str(hivesync.PLUGIN_PROTOCOL_VERSION)},
    )
    assert status == 400, body
    details = errors.details_from_json(body)
    upgrades = [d for d in details if isinstance(d, UpgradeRequired)]
    assert upgrades, f"no UpgradeRequired detail in REST error body {body!r}"
    assert upgrades[0].reason == UpgradeRequired.REASON_PLUGIN_PROTOCOL_TOO_OLD
    assert upgrades[0].client_version == hivesync.PLUGIN_PROTOCOL_VERSION
    assert upgrades[0].min_supported_version == MIN_PLUGIN_PROTOCOL_VERSION
    assert upgrades[0].current_version == CURRENT_PLUGIN_PROTOCOL_VERSION
    assert upgrades[0].upgrade_url == UPGRADE_URL


def test_non_integer_plugin_version_is_invalid_argument(base_url: str) -> None:
    with HiveSyncClient(base_url, plugin_version=PLUGIN_VERSION) as hs:
        with pytest.raises(ConnectError) as exc_info:
            hs.meta.get_compatibility(
                GetCompatibilityRequest(client_version=CLIENT_VERSION),
                headers={hivesync.PLUGIN_VERSION_HEADER: "three"},
            )
    assert exc_info.value.code == Code.INVALID_ARGUMENT


# 4. A client build below min_client_version gets UpgradeRequired{CLIENT_TOO_OLD}.
def test_old_client_version_gets_client_too_old(base_url: str) -> None:
    with HiveSyncClient(base_url, plugin_version=PLUGIN_VERSION) as hs:
        with pytest.raises(ConnectError) as exc_info:
            hs.meta.get_compatibility(
                GetCompatibilityRequest(client_type=ClientType.CLIENT_TYPE_CLI, client_version=1)
            )
    err = exc_info.value
    assert err.code == Code.FAILED_PRECONDITION
    upgrade = errors.upgrade_required(err)
    assert upgrade is not None, f"no UpgradeRequired detail in {err.details!r}"
    assert upgrade.reason == UpgradeRequired.REASON_CLIENT_TOO_OLD
    assert upgrade.client_version == 1
    assert upgrade.min_supported_version == MIN_CLIENT_VERSION
    assert upgrade.upgrade_url == UPGRADE_URL


# 5. Bootstrap config over REST: snake_case keys, even for an outdated plugin.
def test_bootstrap_over_rest_is_snake_case_and_skips_version_check(base_url: str) -> None:
    status, body = _rest_get(
        f"{base_url}/api/v1/meta/bootstrap",
        {hivesync.PLUGIN_VERSION_HEADER: str(hivesync.PLUGIN_PROTOCOL_VERSION)},
    )
    assert status == 200, body
    for key in ("api_base", "ws_base", "min_client_version", "recommended_upgrade_url"):
        assert key in body, f"{key} missing from {body!r}"
    assert not {"apiBase", "wsBase", "minClientVersion", "recommendedUpgradeUrl"} & body.keys()
    assert body["min_client_version"] == MIN_CLIENT_VERSION


def test_bootstrap_over_connect_with_outdated_plugin(base_url: str) -> None:
    with HiveSyncClient(base_url) as hs:  # the SDK's default (outdated) plugin version
        resp = hs.meta.get_bootstrap_config(GetBootstrapConfigRequest())
    assert resp.config.api_base
    assert resp.config.ws_base
    assert resp.config.min_client_version == MIN_CLIENT_VERSION


def test_server_time_with_outdated_plugin(base_url: str) -> None:
    client_time = Timestamp()
    client_time.GetCurrentTime()
    with HiveSyncClient(base_url) as hs:  # the SDK's default (outdated) plugin version
        resp = hs.meta.get_server_time(GetServerTimeRequest(client_time=client_time))
    assert abs(resp.server_time.ToDatetime().timestamp() - time.time()) < 60
    assert resp.HasField("drift")
    assert abs(resp.drift.ToTimedelta().total_seconds()) < 60


# 6. The event schema lists the event types, and its descriptors decode events.
def test_event_schema(base_url: str) -> None:
    with HiveSyncClient(base_url, plugin_version=PLUGIN_VERSION) as hs:
        resp = hs.meta.get_event_schema(GetEventSchemaRequest())
    assert resp.envelope_message == "hivesync.v1.Event"
    types = {t.spec.event_type: t for t in resp.event_types}
    for name in ("auth", "save_file", "admin.message", "migration.notice"):
        assert name in types, f"{name} missing from {sorted(types)}"
    assert types["save_file"].payload_message == "hivesync.v1.SaveFileEvent"

    files = {f.name for f in resp.descriptors.file}
    assert "hivesync/v1/events.proto" in files

    # A private pool built only from the served descriptors decodes an Event
    # produced with the SDK's generated classes.
    pool = descriptor_pool.DescriptorPool()
    pending = list(resp.descriptors.file)
    while pending:  # add files after their dependencies, whatever the order served
        progressed = False
        for file in list(pending):
            try:
                pool.Add(file)
            except (TypeError, KeyError):
                continue
            pending.remove(file)
            progressed = True
        assert progressed, f"descriptor set does not resolve: {[f.name for f in pending]}"
    dynamic_event = message_factory.GetMessageClass(pool.FindMessageTypeByName(resp.envelope_message))
    field = types["save_file"].payload_field
    assert field in dynamic_event.DESCRIPTOR.fields_by_name

    event = events_pb2.Event(id="e1", event_type="save_file", channel="project_sync:p1", sequence=42)
    event_payload = getattr(event, field)
    event_payload.SetInParent()
    decoded = dynamic_event.FromString(event.SerializeToString())
    assert decoded.sequence == 42
    assert decoded.WhichOneof("payload") == field


# 7. accessRule from the generated descriptors.
def test_access_rule_of_get_compatibility() -> None:
    rule = access_rule(MetaServiceClientSync.get_compatibility)
    assert rule is not None
    assert rule.public is True
    for ref in (
        "hivesync.v1.MetaService/GetCompatibility",
        "/hivesync.v1.MetaService/GetCompatibility",
        "hivesync.v1.MetaService.GetCompatibility",
        MetaServiceClient.get_compatibility,
    ):
        assert access_rule(ref) == rule
    bootstrap = access_rule("hivesync.v1.MetaService/GetBootstrapConfig")
    assert bootstrap is not None
    assert bootstrap.public
    assert bootstrap.skip_version_check


def test_access_rule_from_client_instance_method(base_url: str) -> None:
    with HiveSyncClient(base_url) as hs:
        rule = access_rule(hs.meta.get_event_schema)
    assert rule is not None
    assert rule.public


def test_every_method_has_an_access_rule() -> None:
    methods = list(hivesync.all_methods())
    assert len(methods) >= 4
    missing = [m.full_name for m, rule in methods if rule is None]
    assert not missing


def test_access_rule_unknown_method() -> None:
    with pytest.raises(LookupError):
        access_rule("hivesync.v1.MetaService/NoSuchMethod")
