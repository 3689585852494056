/**
 * Smoke tests of @hivesync/sdk against a live `hivesyncd dev` (no mocks).
 * One server is started for the whole file (node --test runs each file in
 * its own process, so all scenarios live here; the sign-in scenarios are
 * registered from auth-scenarios.ts, the file scenarios from file-scenarios.ts,
 * the event stream scenarios from event-stream-scenarios.ts).
 */
import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { create, equals, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  AdminMessageEventSchema,
  AdminMessageLevel,
  ClientType,
  Code,
  ConnectError,
  EventSchema,
  GetCompatibilityResponseSchema,
  MetaService,
  PLUGIN_PROTOCOL_VERSION,
  PLUGIN_VERSION_HEADER,
  UpgradeRequiredSchema,
  UpgradeRequired_Reason,
  accessRule,
  createHiveSyncClient,
  errorCode,
  eventRegistry,
  hiveSyncErrorDetails,
  knownEventTypes,
  restError,
  restJson,
  upgradeRequired,
  type GetCompatibilityResponse,
  type HiveSyncClient,
} from "@hivesync/sdk/node";
import { createHiveSyncClient as createWebClient } from "@hivesync/sdk/web";
import {
  CURRENT_PLUGIN_PROTOCOL_VERSION as CURRENT,
  MIN_PLUGIN_PROTOCOL_VERSION as MIN,
  startServer,
  UPGRADE_URL,
  type LiveServer,
} from "./server.js";
import { authScenarios } from "./auth-scenarios.js";
import { eventStreamScenarios } from "./event-stream-scenarios.js";
import { fileScenarios } from "./file-scenarios.js";

let server: LiveServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

/**
 * A Node client. `plugin` is the plugin protocol version to announce; leaving
 * it out uses the SDK's default, PLUGIN_PROTOCOL_VERSION (1), which this
 * server (min 2, current 3) rejects as outdated.
 */
function client(opts: { plugin?: number | null; binary?: boolean; get?: boolean } = {}): HiveSyncClient {
  return createHiveSyncClient({
    baseUrl: server.baseUrl,
    pluginProtocolVersion: opts.plugin,
    useBinaryFormat: opts.binary,
    useHttpGet: opts.get,
    defaultTimeoutMs: 10_000,
  });
}

/** Runs `fn`, which must throw; returns the error. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

function withoutServerTime(m: GetCompatibilityResponse): GetCompatibilityResponse {
  return create(GetCompatibilityResponseSchema, { ...m, serverTime: undefined });
}

function assertCompat(res: GetCompatibilityResponse, sentPluginVersion: number): void {
  assert.equal(res.currentPluginProtocolVersion, CURRENT);
  assert.equal(res.minPluginProtocolVersion, MIN);
  assert.equal(res.minClientVersion, 3);
  assert.ok(res.apiVersions.includes("v1"), `apiVersions ${JSON.stringify(res.apiVersions)}`);
  assert.equal(res.upgradeUrl, UPGRADE_URL);
  assert.equal(res.pluginProtocolVersion, sentPluginVersion);
  assert.equal(res.upgradeRecommended, sentPluginVersion < CURRENT);
  assert.notEqual(res.serverVersion, "");
  assert.ok(res.serverTime, "serverTime is set");
  const skewMs = Math.abs(timestampDate(res.serverTime).getTime() - Date.now());
  assert.ok(skewMs < 60_000, `server_time is ${skewMs} ms away from now`);
}

test("1. GetCompatibility over Connect (plugin version 3): binary/JSON, GET/POST, node and web transports agree", async () => {
  const req = { clientType: ClientType.CLI, clientVersion: 5 };
  const base = await client({ plugin: CURRENT }).meta.getCompatibility(req); // binary + GET (defaults)
  assertCompat(base, CURRENT);
  assert.equal(base.upgradeRecommended, false);

  for (const [binary, get] of [[false, true], [true, false], [false, false]] as const) {
    const res = await client({ plugin: CURRENT, binary, get }).meta.getCompatibility(req);
    assertCompat(res, CURRENT);
    assert.ok(equals(GetCompatibilityResponseSchema, withoutServerTime(res), withoutServerTime(base)),
      `binary=${binary} get=${get} differs`);
  }

  // The fetch-based transport (browsers / React Native) sends GET and the header.
  const seen: { method: string; url: string; plugin: string | null }[] = [];
  const web = createWebClient({
    baseUrl: server.baseUrl,
    pluginProtocolVersion: CURRENT,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      seen.push({ method: init?.method ?? "GET", url: String(input), plugin: headers.get(PLUGIN_VERSION_HEADER) });
      return fetch(input, init);
    },
  });
  const viaWeb = await web.meta.getCompatibility(req);
  assertCompat(viaWeb, CURRENT);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.method, "GET");
  assert.match(seen[0]?.url ?? "", /\/hivesync\.v1\.MetaService\/GetCompatibility\?/);
  assert.equal(seen[0]?.plugin, String(CURRENT));

  // A supported but older plugin (the server's minimum) is told an upgrade is recommended.
  const older = await client({ plugin: MIN }).meta.getCompatibility(req);
  assertCompat(older, MIN);
  assert.equal(older.upgradeRecommended, true);

  // Without the header the server echoes 0 and recommends an upgrade.
  const none = await client({ plugin: null }).meta.getCompatibility(req);
  assert.equal(none.pluginProtocolVersion, 0);
});

test("2. REST GET /api/v1/meta/compatibility equals the Connect answer", async () => {
  const connectRes = await client({ plugin: CURRENT }).meta.getCompatibility({ clientType: ClientType.CLI, clientVersion: 5 });
  const res = await fetch(`${server.baseUrl}/api/v1/meta/compatibility?clientType=CLIENT_TYPE_CLI&clientVersion=5`, {
    headers: { [PLUGIN_VERSION_HEADER]: String(CURRENT), Accept: "application/json" },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /json/);
  const json = (await restJson(res)) as Record<string, unknown>;
  // protojson lowerCamelCase names
  for (const key of ["serverVersion", "apiVersions", "currentPluginProtocolVersion", "minPluginProtocolVersion",
    "minClientVersion", "pluginProtocolVersion", "upgradeUrl", "serverTime"]) {
    assert.ok(key in json, `REST body lacks ${key}: ${JSON.stringify(json)}`);
  }
  const { serverTime: _a, ...restJsonBody } = json;
  const { serverTime: _b, ...connectJson } = toJson(GetCompatibilityResponseSchema, connectRes) as Record<string, unknown>;
  const restMsg = fromJson(GetCompatibilityResponseSchema, json as never);
  assert.ok(equals(GetCompatibilityResponseSchema, withoutServerTime(restMsg), withoutServerTime(connectRes)),
    `REST ${JSON.stringify(restJsonBody)} != Connect ${JSON.stringify(connectJson)}`);
});

test("3. SDK default plugin version 1 is older than the server's minimum 2 -> typed UpgradeRequired (PLUGIN_PROTOCOL_TOO_OLD), over Connect and REST", async () => {
  // The SDK speaks protocol 1; this server requires >= 2, so a client left at
  // the SDK's default is an outdated plugin.
  assert.equal(PLUGIN_PROTOCOL_VERSION, 1);
  function assertTooOld(err: unknown): void {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(errorCode(err), Code.FailedPrecondition);
    const up = upgradeRequired(err);
    assert.ok(up, `no UpgradeRequired detail on ${String(err)}`);
    assert.equal(up.reason, UpgradeRequired_Reason.PLUGIN_PROTOCOL_TOO_OLD);
    assert.equal(up.clientVersion, PLUGIN_PROTOCOL_VERSION);
    assert.equal(up.minSupportedVersion, MIN);
    assert.equal(up.currentVersion, CURRENT);
    assert.equal(up.upgradeUrl, UPGRADE_URL);
    assert.deepEqual(hiveSyncErrorDetails(err).map((d) => d.kind), ["upgradeRequired"]);
  }
  for (const binary of [true, false]) {
    assertTooOld(await rejection(() => client({ binary }).meta.getCompatibility({ clientVersion: 5 })));
  }

  // The fetch-based transport sends the same default header and gets the same error.
  const sent: (string | null)[] = [];
  const web = createWebClient({
    baseUrl: server.baseUrl,
    fetch: (input, init) => {
      sent.push(new Headers(init?.headers).get(PLUGIN_VERSION_HEADER));
      return fetch(input, init);
    },
  });
  assertTooOld(await rejection(() => web.meta.getCompatibility({ clientVersion: 5 })));
  assert.deepEqual(sent, ["1"]);

  // Same error over REST: HTTP 400 whose body carries the detail.
  const res = await fetch(`${server.baseUrl}/api/v1/meta/compatibility?clientVersion=5`, {
    headers: { [PLUGIN_VERSION_HEADER]: String(PLUGIN_PROTOCOL_VERSION) },
  });
  assert.equal(res.status, 400);
  const err = await rejection(() => restJson(res));
  assert.equal(errorCode(err), Code.FailedPrecondition);
  const up = upgradeRequired(err);
  assert.ok(up, `no UpgradeRequired detail in the REST error body`);
  assert.equal(up.reason, UpgradeRequired_Reason.PLUGIN_PROTOCOL_TOO_OLD);
  assert.equal(up.clientVersion, PLUGIN_PROTOCOL_VERSION);
  assert.equal(up.minSupportedVersion, MIN);
  assert.equal(up.currentVersion, CURRENT);
  assert.equal(up.upgradeUrl, UPGRADE_URL);
});

test("3b. non-integer plugin version header -> invalid_argument", async () => {
  const err = await rejection(() =>
    client({ plugin: CURRENT }).meta.getCompatibility({}, { headers: { [PLUGIN_VERSION_HEADER]: "three" } }));
  assert.equal(errorCode(err), Code.InvalidArgument);
});

test("4. client_version 1 -> typed UpgradeRequired (CLIENT_TOO_OLD)", async () => {
  const err = await rejection(() =>
    client({ plugin: CURRENT }).meta.getCompatibility({ clientType: ClientType.DESKTOP, clientVersion: 1 }));
  assert.equal(errorCode(err), Code.FailedPrecondition);
  const up = upgradeRequired(err);
  assert.ok(up, `no UpgradeRequired detail on ${String(err)}`);
  assert.equal(up.reason, UpgradeRequired_Reason.CLIENT_TOO_OLD);
  assert.equal(up.clientVersion, 1);
  assert.equal(up.minSupportedVersion, 3);
  assert.equal(up.upgradeUrl, UPGRADE_URL);
});

test("5. GetBootstrapConfig: REST snake_case body, works with the outdated plugin header", async () => {
  const res = await fetch(`${server.baseUrl}/api/v1/meta/bootstrap`, {
    headers: { [PLUGIN_VERSION_HEADER]: String(PLUGIN_PROTOCOL_VERSION) },
  });
  assert.equal(res.status, 200, await res.clone().text());
  const json = (await restJson(res)) as Record<string, unknown>;
  for (const key of ["api_base", "ws_base", "min_client_version", "recommended_upgrade_url"]) {
    assert.ok(key in json, `bootstrap body lacks ${key}: ${JSON.stringify(json)}`);
  }
  assert.equal(json["min_client_version"], 3);
  assert.equal(json["recommended_upgrade_url"], UPGRADE_URL);
  assert.ok(!("apiBase" in json), "bootstrap body must use snake_case names");

  // Over Connect too (skip_version_check) with the SDK's default (outdated)
  // plugin version, and GetServerTime likewise.
  const old = client();
  const cfg = await old.meta.getBootstrapConfig({});
  assert.equal(cfg.config?.apiBase, json["api_base"]);
  assert.equal(cfg.config?.minClientVersion, 3);
  const t = await old.meta.getServerTime({});
  assert.ok(t.serverTime);
});

test("6. GetEventSchema lists the event types and its descriptors decode", async () => {
  const schema = await client({ plugin: CURRENT }).meta.getEventSchema({});
  assert.equal(schema.envelopeMessage, "hivesync.v1.Event");
  const types = schema.eventTypes.map((t) => t.spec?.eventType);
  for (const name of ["auth", "save_file", "admin.message", "migration.notice"]) {
    assert.ok(types.includes(name), `event type ${name} missing from ${JSON.stringify(types)}`);
  }
  // The server's list matches the contract this SDK was generated from.
  assert.deepEqual([...types].sort(), [...knownEventTypes().keys()].sort());
  const admin = schema.eventTypes.find((t) => t.spec?.eventType === "admin.message");
  assert.equal(admin?.payloadField, "admin_message");
  assert.equal(admin?.payloadMessage, "hivesync.v1.AdminMessageEvent");

  const files = schema.descriptors?.file.map((f) => f.name) ?? [];
  assert.ok(files.includes("hivesync/v1/events.proto"), `descriptor files: ${JSON.stringify(files)}`);

  // Decode an event dynamically with the served descriptors.
  const registry = eventRegistry(schema);
  const envelope = registry.getMessage("hivesync.v1.Event");
  assert.ok(envelope, "hivesync.v1.Event is in the served descriptors");
  const event = create(EventSchema, {
    id: "e1",
    eventType: "admin.message",
    payload: {
      case: "adminMessage",
      value: create(AdminMessageEventSchema, { title: "Hi", level: AdminMessageLevel.WARNING, requiresAck: true }),
    },
  });
  const decoded = fromBinary(envelope, toBinary(EventSchema, event));
  assert.deepEqual(toJson(envelope, decoded, { registry }), toJson(EventSchema, event));
});

test("7. accessRule reads the (hivesync.v1.access) option from the descriptors", () => {
  const rule = accessRule(MetaService.method.getCompatibility);
  assert.ok(rule, "GetCompatibility declares an access rule");
  assert.equal(rule.public, true);
  assert.equal(rule.skipVersionCheck, false);
  assert.equal(accessRule(MetaService.method.getBootstrapConfig)?.skipVersionCheck, true);
  for (const m of MetaService.methods) {
    assert.ok(accessRule(m), `${m.name} has no access rule`);
  }
});

test("8. restError decodes Connect-style error JSON as well as google.rpc.Status JSON", () => {
  const detail = create(UpgradeRequiredSchema, { reason: UpgradeRequired_Reason.CLIENT_TOO_OLD, clientVersion: 1, minSupportedVersion: 3 });
  const connectStyle = restError(400, {
    code: "failed_precondition",
    message: "too old",
    details: [{ type: "hivesync.v1.UpgradeRequired", value: base64Encode(toBinary(UpgradeRequiredSchema, detail), "std_raw") }],
  });
  assert.equal(connectStyle.code, Code.FailedPrecondition);
  assert.equal(connectStyle.rawMessage, "too old");
  assert.equal(upgradeRequired(connectStyle)?.minSupportedVersion, 3);
  const statusStyle = restError(400, {
    code: 9,
    message: "too old",
    details: [{ "@type": "type.googleapis.com/hivesync.v1.UpgradeRequired", reason: "REASON_CLIENT_TOO_OLD", clientVersion: 1 }],
  });
  assert.equal(statusStyle.code, Code.FailedPrecondition);
  assert.equal(upgradeRequired(statusStyle)?.reason, UpgradeRequired_Reason.CLIENT_TOO_OLD);
  assert.equal(upgradeRequired(restError(502, "<html>bad gateway</html>")), undefined);
});

authScenarios(() => server);
fileScenarios(() => server);
eventStreamScenarios(() => server);
