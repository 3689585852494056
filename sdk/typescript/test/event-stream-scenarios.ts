/**
 * The event stream (`EventStream`, WebSocket `/api/v1/ws`) against the live
 * server: saves made over Connect arrive as events; connections cut or
 * frozen by a TCP proxy mid-stream lose and repeat nothing; rehydrate;
 * revocation; refused tokens; duplicates, the binary subprotocol and an
 * injected WebSocket; runtime subscribe / unsubscribe; "from now on"
 * channels across a lost connection; outdated clients refused with 4026.
 *
 * The server runs with a 1 s ping interval and a replay window of
 * WS_REPLAY_WINDOW (see server.ts). Waits are on events, with timeouts only
 * as upper bounds.
 *
 * Registered by smoke.test.ts so that they share its one server.
 */
import { strict as assert } from "node:assert";
import { createHash, randomUUID } from "node:crypto";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { createClient, type Client } from "@connectrpc/connect";
import { WebSocket as NodeWebSocket } from "ws";
import {
  AuthSession,
  BROADCAST_CHANNEL,
  ClientType,
  Code,
  EventStream,
  EventStreamError,
  MemoryTokenStore,
  SignedOutError,
  PLUGIN_PROTOCOL_VERSION,
  PLUGIN_VERSION_HEADER,
  StreamRevokedError,
  StreamUpgradeRequiredError,
  UpgradeRequired_Reason,
  createEventStream as createSdkEventStream,
  createHiveSyncClient,
  errorCode,
  eventStreamUrl,
  isSignedOut,
  projectChannel,
  userChannel,
  type Event,
  type EventStreamOptions,
  type EventStreamState,
  type HiveSyncClient,
  type StreamTokenRequest,
  type WebSocketConstructor,
  type WebSocketInit,
  type WebSocketLike,
  upgradeRequired,
} from "@hivesync/sdk/node";
import { AdminService } from "@hivesync/sdk/gen/hivesync/v1/admin_service_pb";
import { HistoryService } from "@hivesync/sdk/gen/hivesync/v1/history_service_pb";
import {
  CURRENT_PLUGIN_PROTOCOL_VERSION as CURRENT,
  MIN_PLUGIN_PROTOCOL_VERSION,
  UPGRADE_URL,
  WS_PING_INTERVAL_S,
  WS_REPLAY_WINDOW,
  type CreatedToken,
  type LiveServer,
} from "./server.js";

/** Upper bound for anything the tests wait for. */
const WAIT_MS = 20_000;

/** Fast reconnects, so the tests do not wait out production backoff. */
const FAST_RECONNECT = { baseDelayMs: 20, maxDelayMs: 200 };

/** The server's HIVESYNC_MIN_CLIENT_VERSION (see server.ts). */
const MIN_CLIENT_VERSION = 3;

/**
 * The server under test requires plugin protocol >= 2 (see server.ts), above
 * the SDK's default PLUGIN_PROTOCOL_VERSION, and refuses an outdated stream
 * with 4026. Like the RPC clients of these tests, the streams therefore
 * announce the current version; E11 uses the SDK's own default.
 */
function createEventStream(options: EventStreamOptions): EventStream {
  return createSdkEventStream({ pluginProtocolVersion: CURRENT, ...options });
}

function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

/** Resolves with `p`, or rejects after `ms` naming what did not happen. */
async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a stream reported through its hooks, with waits on it. */
class Recorder {
  readonly events: Event[] = [];
  readonly errors: unknown[] = [];
  readonly states: EventStreamState[] = [];
  readonly positions: [string, bigint][] = [];
  readonly rehydrates: [string, bigint][] = [];
  private watchers: { ok: () => boolean; resolve: () => void }[] = [];

  /** The hooks to spread into the stream options. */
  hooks(): Pick<EventStreamOptions, "onEvent" | "onError" | "onStateChange" | "onPosition"> {
    return {
      onEvent: (ev) => {
        this.events.push(ev);
        this.poke();
      },
      onError: (err) => {
        this.errors.push(err);
        this.poke();
      },
      onStateChange: (state) => {
        this.states.push(state);
        this.poke();
      },
      onPosition: (channel, seq) => {
        this.positions.push([channel, seq]);
        this.poke();
      },
    };
  }

  /** Wakes waits whose condition may now hold. */
  poke(): void {
    this.watchers = this.watchers.filter((w) => {
      if (w.ok()) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** Resolves once `ok()` holds (checked on every hook call). */
  until(ok: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (ok()) {
      return Promise.resolve();
    }
    return within(new Promise<void>((resolve) => this.watchers.push({ ok, resolve })), `${what}; states ${JSON.stringify(this.states)}, errors ${this.errors.map(String).join(" | ")}`, ms);
  }

  /** The positions reported for `channel`, in order. */
  positionsOf(channel: string): bigint[] {
    return this.positions.filter(([c]) => c === channel).map(([, seq]) => seq);
  }

  count(state: EventStreamState): number {
    return this.states.filter((s) => s === state).length;
  }

  /** Sequences of the events received on `channel` (rehydrate markers excluded). */
  sequences(channel: string): bigint[] {
    return this.events.filter((e) => e.channel === channel && e.sequence > 0n).map((e) => e.sequence);
  }
}

/** Settles `p`, which must reject; returns the rejection. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

/**
 * A TCP proxy between the stream and the server that can cut every
 * connection (RST-like destroy) or freeze them (stop forwarding without
 * closing, like a dead network path). New connections always work.
 */
interface Proxy {
  baseUrl: string;
  /** Destroys every open connection; returns how many. */
  cut(): number;
  /** While blocked, new connections are closed at once. */
  block(on: boolean): void;
  /**
   * Stops forwarding on every open connection, leaving it open (its close
   * is not passed on either); returns how many.
   */
  freeze(): number;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  let blocked = false;
  const server: Server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = netConnect(Number(port), hostname);
    const pair = { client, upstream, frozen: false };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
      from.on("end", () => {
        if (!pair.frozen) to.end();
      });
      from.on("error", () => undefined);
      from.on("close", () => {
        if (!pair.frozen) {
          to.destroy();
          pairs.delete(pair);
        }
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  assert.ok(addr && typeof addr === "object");
  return {
    baseUrl: `http://127.0.0.1:${addr.port}`,
    cut() {
      const n = pairs.size;
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      return n;
    },
    block(on) {
      blocked = on;
    },
    freeze() {
      const frozen = [...pairs].filter((p) => !p.frozen);
      for (const p of frozen) p.frozen = true;
      return frozen.length;
    },
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A WebSocket wrapper, as an app would inject one: counts sockets, shows
 * every received frame to `onFrame`, and hands each to the stream `copies`
 * times (2 guarantees duplicates).
 */
function tapWebSocket(options: { copies?: number; onFrame?: (data: unknown) => void } = {}): {
  WebSocket: WebSocketConstructor;
  opened: () => number;
  /** The upgrade-request headers the stream asked each socket for. */
  headers: () => (Record<string, string> | undefined)[];
} {
  let opened = 0;
  const headers: (Record<string, string> | undefined)[] = [];
  class TapWebSocket extends WrappedWebSocket {
    constructor(url: string, protocols?: string | string[], init?: WebSocketInit) {
      super(url, protocols, options.copies ?? 1, options.onFrame, init);
      opened += 1;
      headers.push(init?.headers);
    }
  }
  return { WebSocket: TapWebSocket, opened: () => opened, headers: () => headers };
}

/** A `ws` socket behind the WHATWG surface the stream uses. */
class WrappedWebSocket implements WebSocketLike {
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  private readonly inner: NodeWebSocket;

  constructor(
    url: string,
    protocols: string | string[] | undefined,
    copies: number,
    onFrame?: (data: unknown) => void,
    init?: WebSocketInit,
  ) {
    this.inner = new NodeWebSocket(url, protocols, { headers: init?.headers });
    this.inner.onopen = (e) => this.onopen?.(e);
    this.inner.onmessage = (e) => {
      onFrame?.(e.data);
      for (let i = 0; i < copies; i++) this.onmessage?.({ data: e.data });
    };
    this.inner.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
    this.inner.onerror = (e) => this.onerror?.(e);
  }

  get readyState(): number {
    return this.inner.readyState;
  }

  get protocol(): string {
    return this.inner.protocol;
  }

  get binaryType(): string {
    return this.inner.binaryType;
  }

  set binaryType(v: string) {
    this.inner.binaryType = v as NodeWebSocket["binaryType"];
  }

  send(data: string | Uint8Array): void {
    this.inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }
}

export function eventStreamScenarios(live: () => LiveServer): void {
  interface Device {
    hs: HiveSyncClient;
    history: Client<typeof HistoryService>;
    deviceId: string;
    token: CreatedToken;
  }

  /** A fresh session of `email` on client `clientId`, registered as a device. */
  async function device(email: string, clientId = "vscode"): Promise<Device> {
    const token = await live().tokenCreate(email, clientId);
    const hs = createHiveSyncClient({
      baseUrl: live().baseUrl,
      pluginProtocolVersion: CURRENT,
      tokenProvider: () => token.access_token,
      defaultTimeoutMs: 10_000,
    });
    const reg = await hs.devices.registerDevice({ name: `${clientId} stream test`, platform: "linux", clientVersion: "5" });
    assert.ok(reg.device?.id, "RegisterDevice returns the device id");
    return { hs, history: createClient(HistoryService, hs.transport), deviceId: reg.device.id, token };
  }

  /** A project with one file, and the head sequence of its channel. */
  async function projectWithFile(d: Device, content = "v1\n"): Promise<{ projectId: string; fileId: string; revisionId: string; head: bigint }> {
    const project = (await d.hs.projects.createProject({ name: `stream ${randomUUID()}` })).project;
    assert.ok(project?.id);
    const file = (await d.hs.files.createFile({ projectId: project.id, path: "src/app.ts", content })).file;
    assert.ok(file?.head);
    return { projectId: project.id, fileId: file.id, revisionId: file.head.id, head: await head(d, project.id) };
  }

  /** The channel's last sequence, from HistoryService (the same log). */
  async function head(d: Device, projectId: string): Promise<bigint> {
    const res = await d.history.listHistory({ projectId, pageSize: 1 });
    return res.entries[0]?.event?.sequence ?? 0n;
  }

  /** Every history entry of the project after `after`, oldest first. */
  async function historyAfter(d: Device, projectId: string, after: bigint): Promise<Event[]> {
    const out: Event[] = [];
    let pageToken = "";
    do {
      const res = await d.history.listHistory({ projectId, pageSize: 1000, oldestFirst: true, pageToken });
      for (const e of res.entries) {
        if (e.event && e.event.sequence > after) out.push(e.event);
      }
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** Saves `content` on top of `base`; returns the new revision id. */
  async function save(d: Device, fileId: string, base: string, content: string): Promise<string> {
    const v = (await d.hs.files.saveFile({ fileId, baseRevisionId: base, content, idempotencyKey: randomUUID(), deviceId: d.deviceId })).version;
    assert.ok(v);
    return v.id;
  }

  /** The wire identity of an event, for comparing streams with the history. */
  function ident(e: Event): string {
    return `${e.sequence}:${e.eventType}:${e.id}`;
  }

  test("E0. eventStreamUrl maps an API base URL to the WebSocket endpoint", () => {
    assert.equal(eventStreamUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/api/v1/ws");
    assert.equal(eventStreamUrl("https://api.hivesync.dev/prefix/"), "wss://api.hivesync.dev/prefix/api/v1/ws");
    assert.equal(eventStreamUrl("wss://api.hivesync.dev/api/v1/ws"), "wss://api.hivesync.dev/api/v1/ws", "ws_base is kept");
    assert.throws(() => eventStreamUrl("ftp://example.com"), TypeError);
    assert.throws(() => createEventStream({ baseUrl: "http://127.0.0.1:1" }), TypeError, "a token source is required");
  });

  test("E1. a save over Connect arrives as a save_file event with its channel and sequence (JSON, async iterator, device_register)", async () => {
    const d = await device(`ts-stream-save-${randomUUID()}@example.com`);
    const project = (await d.hs.projects.createProject({ name: "stream save" })).project;
    assert.ok(project?.id);
    const channel = projectChannel(project.id);
    const start = await head(d, project.id);
    assert.ok(start > 0n, "creating the project logs its first membership event");

    const rec = new Recorder();
    const { onEvent: _unused, ...hooks } = rec.hooks();
    const stream = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => d.token.access_token,
      deviceId: d.deviceId,
      clientType: ClientType.VSCODE,
      platform: "linux",
      clientVersion: "5",
      clientBuild: 5, // at or above the server's minimum (3): accepted
      channels: [{ channel, lastSequence: start }],
      ...hooks,
    });
    try {
      assert.equal(stream.url, live().baseUrl.replace("http://", "ws://") + "/api/v1/ws");
      const ready = await within(stream.opened(), "ready");
      assert.equal(ready.userId, d.token.user_id);
      assert.equal(ready.sessionId, d.token.session_id);
      assert.equal(ready.heartbeatIntervalSeconds, WS_PING_INTERVAL_S);
      assert.equal(stream.state, "open");
      assert.deepEqual(rec.states, ["connecting", "open"]);

      const file = (await d.hs.files.createFile({ projectId: project.id, path: "src/app.ts", content: "a\n" })).file;
      assert.ok(file?.head);
      const saved = (await d.hs.files.saveFile({
        fileId: file.id, baseRevisionId: file.head.id, content: "a\nb\n", idempotencyKey: randomUUID(), deviceId: d.deviceId,
      })).version;
      assert.ok(saved);

      const got: Event[] = [];
      await within((async () => {
        for await (const ev of stream) {
          got.push(ev);
          if (ev.payload.case === "saveFile") break;
        }
      })(), "the save_file event");

      assert.deepEqual(got.map((e) => [e.channel, e.sequence, e.eventType]), [
        [channel, start + 1n, "version.state_changed"],
        [channel, start + 2n, "save_file"],
      ]);
      const ev = got[1];
      assert.ok(ev?.payload.case === "saveFile");
      const s = ev.payload.value;
      assert.equal(s.projectId, project.id);
      assert.equal(s.fileId, file.id);
      assert.equal(s.path, "src/app.ts");
      assert.equal(s.revisionId, saved.id);
      assert.equal(s.revision, 2n);
      assert.equal(s.contentSha256, sha256Hex("a\nb\n"));
      assert.equal(s.authorUserId, d.token.user_id);
      assert.equal(s.deviceId, d.deviceId);
      assert.ok(ev.serverTime, "server_time is set");

      // The stream carries the log: same events, ids and sequences as the history.
      assert.deepEqual(got.map(ident), (await historyAfter(d, project.id, start)).map(ident));

      // Leaving the loop counts the last event as handled.
      await rec.until(() => stream.positions().get(channel) === start + 2n, "the position of the save");
      assert.deepEqual(rec.positionsOf(channel), [start + 1n, start + 2n]);
      // The broadcast channel is joined too, from now on: its acknowledged start is reported.
      assert.deepEqual(stream.channels(), [channel, BROADCAST_CHANNEL]);
      assert.equal(rec.positionsOf(BROADCAST_CHANNEL).length, 1);
      assert.deepEqual(rec.errors, [], "no errors (device_register, with client_build 5 and protocol 3, and subscribe were accepted)");
    } finally {
      await stream.close();
    }
    assert.equal(stream.state, "closed");
    await stream.closed(); // resolves after close()
    const after = await stream[Symbol.asyncIterator]().next();
    assert.equal(after.done, true, "a closed stream's iterator is done");
  });

  test("E2. connections cut mid-stream lose no event: 30 saves arrive exactly once, in order, with contiguous sequences", async () => {
    const d = await device(`ts-stream-cut-${randomUUID()}@example.com`);
    const f = await projectWithFile(d);
    const channel = projectChannel(f.projectId);
    const proxy = await startProxy(live().baseUrl);
    const rec = new Recorder();
    let cutOnNextOpen = false;
    let cuts = 0;
    const hooks = rec.hooks();
    const stream = createEventStream({
      baseUrl: proxy.baseUrl,
      tokenProvider: () => d.token.access_token,
      channels: [{ channel, lastSequence: f.head }],
      reconnect: FAST_RECONNECT,
      ...hooks,
      onStateChange: (state, detail) => {
        if (state === "open" && cutOnNextOpen) {
          // Cut again right after `ready`, while the subscribe is in flight.
          cutOnNextOpen = false;
          assert.ok(proxy.cut() > 0, "the cut after ready closed the connection");
          cuts += 1;
        }
        hooks.onStateChange?.(state, detail);
      },
    });
    try {
      await within(stream.opened(), "ready");
      const SAVES = 30;
      const cutAfter = new Set([4, 11, 19, 26]);
      let base = f.revisionId;
      for (let i = 0; i < SAVES; i++) {
        base = await save(d, f.fileId, base, `save ${i}\n`);
        if (cutAfter.has(i)) {
          // Every cut so far has been followed by a new connection.
          await rec.until(() => rec.count("open") === 1 + cuts, `connection ${cuts + 1} to open`);
          assert.ok(proxy.cut() > 0, "the cut closed the stream's connection");
          cuts += 1;
          if (i === 11) cutOnNextOpen = true;
        }
      }
      const last = f.head + BigInt(SAVES);
      assert.equal(await head(d, f.projectId), last);
      await rec.until(() => stream.positions().get(channel) === last, `sequence ${last}`);

      const expected = await historyAfter(d, f.projectId, f.head);
      assert.equal(expected.length, SAVES);
      assert.deepEqual(rec.events.map(ident), expected.map(ident), "every save once, in order");
      const seqs = rec.sequences(channel);
      seqs.forEach((s, i) => assert.equal(s, f.head + 1n + BigInt(i), "contiguous sequences"));
      assert.deepEqual(rec.events.map((e) => e.payload.case === "saveFile" && e.payload.value.revision), Array.from({ length: SAVES }, (_, i) => BigInt(i + 2)));

      assert.equal(cuts, 5, "four cuts mid-stream and one right after a reconnect");
      assert.equal(rec.count("open"), 1 + cuts, "one reconnect per cut");
      for (const err of rec.errors) {
        assert.ok(err instanceof EventStreamError && err.closeCode !== undefined, `only lost connections are reported: ${String(err)}`);
      }
      assert.equal(rec.errors.length, cuts);
    } finally {
      await stream.close();
      await proxy.close();
    }
  });

  test("E3. a connection that goes silent is detected by the heartbeat and replaced; nothing is lost", async () => {
    const d = await device(`ts-stream-silent-${randomUUID()}@example.com`);
    const f = await projectWithFile(d);
    const channel = projectChannel(f.projectId);
    const proxy = await startProxy(live().baseUrl);
    const rec = new Recorder();
    const stream = createEventStream({
      baseUrl: proxy.baseUrl,
      tokenProvider: () => d.token.access_token,
      channels: [{ channel, lastSequence: f.head }],
      reconnect: FAST_RECONNECT,
      ...rec.hooks(),
    });
    try {
      await within(stream.opened(), "ready");
      const r1 = await save(d, f.fileId, f.revisionId, "one\n");
      await rec.until(() => rec.sequences(channel).length === 1, "the first save");

      assert.equal(proxy.freeze(), 1, "one connection frozen");
      await save(d, f.fileId, r1, "two\n");
      // Heartbeats every 0.5 s go unanswered; after 2 s of silence the
      // stream drops the connection and resumes on a new one.
      await rec.until(() => rec.count("open") === 2, "a new connection", 10_000);
      const lost = rec.errors[0];
      assert.ok(lost instanceof EventStreamError, String(lost));
      assert.equal(lost.closeCode, 1006);
      assert.match(lost.message, /no frame for 2000 ms/);
      await rec.until(() => rec.sequences(channel).length === 2, "the save made while frozen");
      assert.deepEqual(rec.sequences(channel), [f.head + 1n, f.head + 2n]);
    } finally {
      await stream.close();
      await proxy.close();
    }
  });

  test("E4. rehydrate: a resume point past the window, or past the head, calls onRehydrate; the stream continues after it", async () => {
    const d = await device(`ts-stream-rehydrate-${randomUUID()}@example.com`);
    const f = await projectWithFile(d);
    const channel = projectChannel(f.projectId);

    // (a) More events missed than the server replays.
    const stored = f.head;
    let base = f.revisionId;
    for (let i = 0; i < WS_REPLAY_WINDOW + 5; i++) {
      base = await save(d, f.fileId, base, `offline ${i}\n`);
    }
    const headNow = await head(d, f.projectId);
    assert.equal(headNow, stored + BigInt(WS_REPLAY_WINDOW + 5));

    const rec = new Recorder();
    const order: string[] = [];
    let liveRevision = "";
    const frames: unknown[] = [];
    const hooks = rec.hooks();
    const tap = tapWebSocket({ onFrame: (data) => {
      frames.push(data);
      rec.poke();
    } });
    const arrived = (seq: bigint) =>
      frames.some((f) => typeof f === "string" && (JSON.parse(f) as { sequence?: string }).sequence === String(seq));
    const stream = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => d.token.access_token,
      channels: [{ channel, lastSequence: stored }],
      WebSocket: tap.WebSocket,
      ...hooks,
      onEvent: (ev) => {
        order.push(ev.payload.case === "rehydrate" ? "rehydrate event" : `event ${ev.sequence}`);
        hooks.onEvent?.(ev);
      },
      onRehydrate: async (ch, resume) => {
        order.push(`onRehydrate ${resume}`);
        rec.rehydrates.push([ch, resume]);
        // Refetch the state; meanwhile another save happens, whose event
        // must wait until the refetch is done.
        const current = await d.hs.files.getFile({ fileId: f.fileId });
        assert.equal(current.content, `offline ${WS_REPLAY_WINDOW + 4}\n`);
        liveRevision = await save(d, f.fileId, base, "while refetching\n");
        await rec.until(() => arrived(headNow + 1n), "the live event to reach the socket");
        order.push("refetched");
      },
    });
    try {
      await rec.until(() => stream.positions().get(channel) === headNow + 1n, "the save made during the refetch");
      assert.deepEqual(rec.rehydrates, [[channel, headNow]]);
      assert.deepEqual(order, [`onRehydrate ${headNow}`, "refetched", "rehydrate event", `event ${headNow + 1n}`]);
      assert.deepEqual(rec.positionsOf(channel), [headNow, headNow + 1n]);
      const marker = rec.events[0];
      assert.ok(marker?.payload.case === "rehydrate");
      assert.equal(marker.payload.value.channel, channel);
      assert.equal(marker.payload.value.resumeSequence, headNow);
      assert.ok(liveRevision);
    } finally {
      await stream.close();
    }

    // (b) A stored position beyond the head (e.g. the server's log was reset).
    const rec2 = new Recorder();
    const rehydrated: [string, bigint][] = [];
    const stream2 = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => d.token.access_token,
      channels: [{ channel, lastSequence: headNow + 1000n }],
      onRehydrate: (ch, resume) => {
        rehydrated.push([ch, resume]);
        rec2.poke();
      },
      ...rec2.hooks(),
    });
    try {
      await rec2.until(() => rehydrated.length === 1, "onRehydrate");
      assert.deepEqual(rehydrated, [[channel, headNow + 1n]]);
      await save(d, f.fileId, liveRevision, "after the reset\n");
      await rec2.until(() => rec2.sequences(channel).length === 1, "the next save");
      assert.deepEqual(rec2.sequences(channel), [headNow + 2n]);
    } finally {
      await stream2.close();
    }
  });

  test("E5. revoking the session ends the stream with StreamRevokedError (a SignedOutError); no reconnect", async () => {
    const email = `ts-stream-revoke-${randomUUID()}@example.com`;
    const d = await device(email, "vscode");
    const other = await device(email, "jetbrains");
    const rec = new Recorder();
    const tokenRequests: StreamTokenRequest[] = [];
    const stream = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: (req) => {
        tokenRequests.push(req);
        return d.token.access_token;
      },
      channels: [userChannel(d.token.user_id)],
      ...rec.hooks(),
    });
    const ready = await within(stream.opened(), "ready");
    assert.equal(ready.sessionId, d.token.session_id);

    await other.hs.auth.revokeSession({ sessionId: d.token.session_id });
    const err = await within(rejection(stream.closed()), "the stream to close");
    assert.ok(err instanceof StreamRevokedError, String(err));
    assert.ok(err instanceof SignedOutError);
    assert.ok(isSignedOut(err));
    assert.equal(err.reason, "session_ended");
    assert.equal(err.closeCode, 4003);
    assert.match(err.closeReason, /signed out/);
    assert.equal(errorCode(err), Code.Unauthenticated);
    assert.ok(!(err instanceof EventStreamError));

    assert.equal(stream.state, "closed");
    assert.deepEqual(rec.states, ["connecting", "open", "closed"], "stopped for good, no reconnect");
    assert.equal(tokenRequests.length, 1);
    assert.equal(rec.errors.at(-1), err, "onError receives the terminal error last");
    await assert.rejects(stream.opened(), (e) => e === err);
    await assert.rejects(stream.subscribe(["user:x"]), (e) => e === err);
    await assert.rejects(stream[Symbol.asyncIterator]().next(), (e) => e === err);
  });

  test("E6. token errors: a refused token is refreshed once then the stream opens; a token refused again, or none, is a SignedOutError", async () => {
    const email = `ts-stream-token-${randomUUID()}@example.com`;
    const d = await device(email);

    // (a) A token the server refuses, and no other: 4001, then signed out.
    const rec = new Recorder();
    const requests: (string | undefined)[] = [];
    const bad = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: ({ rejectedToken }) => {
        requests.push(rejectedToken);
        return "not-a-token";
      },
      reconnect: FAST_RECONNECT,
      ...rec.hooks(),
    });
    const err = await within(rejection(bad.closed()), "the bad-token stream to stop");
    assert.ok(err instanceof SignedOutError, String(err));
    assert.ok(!(err instanceof StreamRevokedError));
    assert.equal(err.reason, "session_ended");
    assert.deepEqual(requests, [undefined, "not-a-token"], "asked again for a fresh token after the 4001");
    assert.ok(!rec.states.includes("open"));
    const refused = rec.errors[0];
    assert.ok(refused instanceof EventStreamError, String(refused));
    assert.equal(refused.code, Code.Unauthenticated, "the server's error frame");
    assert.match(refused.eventId ?? "", /^c-/, "it names the auth frame");
    const closedWith = rec.errors[1];
    assert.ok(closedWith instanceof EventStreamError);
    assert.equal(closedWith.closeCode, 4001);
    assert.equal(rec.errors.at(-1), err);

    // (b) An AuthSession whose stored access token is refused: the stream
    // refreshes it (one refresh) and opens with the new one.
    const t = await live().tokenCreate(email, "vscode");
    const store = new MemoryTokenStore({
      accessToken: "expired-or-garbled", refreshToken: t.refresh_token, tokenType: "Bearer",
      expiresAt: Date.now() + 3_600_000, scopes: t.scope.split(" "),
    });
    let refreshes = 0;
    const session = new AuthSession({
      baseUrl: live().baseUrl,
      clientId: "vscode",
      store,
      fetch: (input, init) => {
        if (typeof init?.body === "string" && new URLSearchParams(init.body).get("grant_type") === "refresh_token") refreshes += 1;
        return fetch(input, init);
      },
    });
    const rec2 = new Recorder();
    const good = createEventStream({ baseUrl: live().baseUrl, session, reconnect: FAST_RECONNECT, ...rec2.hooks() });
    try {
      const ready = await within(good.opened(), "ready after the refresh");
      assert.equal(ready.userId, t.user_id);
      assert.equal(refreshes, 1);
      const now = store.load();
      assert.ok(now && now.accessToken !== "expired-or-garbled" && now.refreshToken !== t.refresh_token, "rotated tokens stored");
      assert.deepEqual(rec2.states, ["connecting", "reconnecting", "open"]);
      assert.ok(rec2.errors.some((e) => e instanceof EventStreamError && e.closeCode === 4001));
    } finally {
      await good.close();
    }

    // (c) Not signed in: no socket is opened at all.
    const tap = tapWebSocket();
    const none = createEventStream({
      baseUrl: live().baseUrl,
      session: new AuthSession({ baseUrl: live().baseUrl, clientId: "vscode" }),
      WebSocket: tap.WebSocket,
    });
    const notSignedIn = await within(rejection(none.closed()), "the signed-out stream to stop");
    assert.ok(isSignedOut(notSignedIn));
    assert.equal(notSignedIn.reason, "not_signed_in");
    assert.equal(tap.opened(), 0);
  });

  test("E7. duplicates are dropped (injected WebSocket delivering every frame twice, binary subprotocol); subscribe / unsubscribe at runtime", async () => {
    const d = await device(`ts-stream-dup-${randomUUID()}@example.com`);
    const a = await projectWithFile(d);
    const b = await projectWithFile(d);
    const chA = projectChannel(a.projectId);
    const chB = projectChannel(b.projectId);
    const rec = new Recorder();
    const tap = tapWebSocket({ copies: 2 });
    const stream = new EventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => d.token.access_token,
      pluginProtocolVersion: CURRENT,
      format: "binary",
      WebSocket: tap.WebSocket,
      ...rec.hooks(),
    });
    try {
      await within(stream.opened(), "ready");
      assert.deepEqual(stream.channels(), [BROADCAST_CHANNEL]);
      await within(stream.subscribe([{ channel: chA, lastSequence: a.head }]), "the subscribe ack");

      // A channel the user may not read is refused with a typed error, and dropped.
      const stranger = projectChannel(randomUUID());
      const refused = await within(rejection(stream.subscribe([stranger])), "the refusal");
      assert.ok(refused instanceof EventStreamError, String(refused));
      assert.equal(refused.code, Code.NotFound);
      assert.deepEqual(stream.channels(), [BROADCAST_CHANNEL, chA]);

      let base = a.revisionId;
      for (let i = 0; i < 5; i++) {
        base = await save(d, a.fileId, base, `dup ${i}\n`);
      }
      await rec.until(() => stream.positions().get(chA) === a.head + 5n, "five saves");
      assert.deepEqual(rec.sequences(chA), [1n, 2n, 3n, 4n, 5n].map((n) => a.head + n), "each event once");
      assert.deepEqual(rec.events.map(ident), (await historyAfter(d, a.projectId, a.head)).map(ident));

      // Switch channels at runtime.
      await within(stream.subscribe([{ channel: chB, lastSequence: b.head }]), "subscribe B");
      await within(stream.unsubscribe([chA]), "unsubscribe A");
      assert.deepEqual(stream.channels(), [BROADCAST_CHANNEL, chB]);
      await save(d, a.fileId, base, "not delivered\n");
      await save(d, b.fileId, b.revisionId, "delivered\n");
      await rec.until(() => rec.sequences(chB).length === 1, "the save in B");
      assert.deepEqual(rec.sequences(chB), [b.head + 1n]);
      assert.equal(rec.sequences(chA).length, 5, "nothing more from the channel left");
      assert.equal(tap.opened(), 1, "one connection throughout");
      assert.ok(rec.errors.length > 0);
      for (const err of rec.errors) {
        // The refusal (delivered twice by this socket); nothing else went wrong.
        assert.ok(err instanceof EventStreamError && err.code === Code.NotFound, String(err));
      }
    } finally {
      await stream.close();
    }
  });

  test("E8. channels joined from now on resume from the position the ack names; one lost before its ack asks for the head and rehydrates", async () => {
    const d = await device(`ts-stream-fromnow-${randomUUID()}@example.com`);
    const f = await projectWithFile(d);
    const g = await projectWithFile(d);
    const channel = projectChannel(f.projectId);
    const other = projectChannel(g.projectId);
    const mine = userChannel(d.token.user_id);
    const proxy = await startProxy(live().baseUrl);
    const rec = new Recorder();
    const stream = createEventStream({
      baseUrl: proxy.baseUrl,
      tokenProvider: () => d.token.access_token,
      channels: [channel, mine], // no positions: from now on
      reconnect: FAST_RECONNECT,
      onRehydrate: (ch, resume) => {
        rec.rehydrates.push([ch, resume]);
      },
      ...rec.hooks(),
    });
    try {
      // (a) The ack names where each channel starts; it is reported for persisting.
      await within(stream.opened(), "ready");
      await rec.until(() => stream.positions().size === 3, "the acknowledged starts of the three channels");
      assert.equal(stream.positions().get(channel), f.head);
      assert.deepEqual(rec.positionsOf(channel), [f.head]);
      assert.deepEqual(rec.positionsOf(mine), [0n], "the user channel is empty");
      assert.ok(stream.positions().has(BROADCAST_CHANNEL));

      // Saves made while the stream cannot connect are replayed, not rehydrated.
      proxy.block(true);
      assert.equal(proxy.cut(), 1);
      let base = await save(d, f.fileId, f.revisionId, "away 1\n");
      base = await save(d, f.fileId, base, "away 2\n");
      await rec.until(() => rec.count("reconnecting") >= 2, "a refused reconnection");
      proxy.block(false);
      await rec.until(() => rec.sequences(channel).length === 2, "the saves made while away");
      assert.deepEqual(rec.sequences(channel), [f.head + 1n, f.head + 2n]);
      assert.deepEqual(rec.rehydrates, []);

      // (b) A channel whose subscribe is cut off before its ack: the stream
      // cannot know what it missed, so the next connection asks for the head
      // and the channel is rehydrated.
      await within(stream.opened(), "the stream to be open again");
      const joined = stream.subscribe([other]);
      assert.equal(proxy.cut(), 1);
      await within(joined, "the subscription, acknowledged on the next connection");
      await rec.until(() => rec.rehydrates.length === 1, "the rehydrate of the channel");
      assert.deepEqual(rec.rehydrates, [[other, g.head]]);
      await save(d, g.fileId, g.revisionId, "after\n");
      await rec.until(() => stream.positions().get(other) === g.head + 1n, "the next save");
      assert.deepEqual(rec.sequences(other), [g.head + 1n]);
      assert.deepEqual(rec.positionsOf(other), [g.head, g.head + 1n]);
      assert.equal(rec.rehydrates.length, 1, "the other channels resumed from their positions");
    } finally {
      await stream.close();
      await proxy.close();
    }
  });

  test("E9. an admin broadcast reaches the stream on the broadcast channel (joined by default); ack() records the acknowledgement", async () => {
    const d = await device(`ts-stream-broadcast-${randomUUID()}@example.com`);
    const adminToken = await live().tokenCreate(`ts-stream-admin-${randomUUID()}@example.com`, "admin", { admin: true });
    const adminClient = createHiveSyncClient({
      baseUrl: live().baseUrl,
      pluginProtocolVersion: CURRENT,
      tokenProvider: () => adminToken.access_token,
      defaultTimeoutMs: 10_000,
    });
    const admin = createClient(AdminService, adminClient.transport);
    const rec = new Recorder();
    const stream = createEventStream({ baseUrl: live().baseUrl, tokenProvider: () => d.token.access_token, ...rec.hooks() });
    try {
      await within(stream.opened(), "ready");
      await rec.until(() => stream.positions().has(BROADCAST_CHANNEL), "the broadcast channel's acknowledged start");
      const start = stream.positions().get(BROADCAST_CHANNEL) ?? -1n;

      const sent = (await admin.sendMessage({ title: "Maintenance", body: "Back in 5 minutes.", requiresAck: true })).message;
      assert.ok(sent?.id);
      await rec.until(() => rec.events.length === 1, "the admin message");
      const ev = rec.events[0];
      assert.ok(ev?.payload.case === "adminMessage", `got ${ev?.eventType}`);
      assert.equal(ev.channel, BROADCAST_CHANNEL);
      assert.equal(ev.sequence, start + 1n);
      assert.equal(ev.payload.value.id, sent.id);
      assert.equal(ev.payload.value.title, "Maintenance");
      assert.equal(ev.payload.value.requiresAck, true);

      await within(stream.ack(ev.payload.value.id), "the server to record the acknowledgement");
      const listed = (await admin.listMessages({})).messages.find((m) => m.id === sent.id);
      assert.equal(listed?.acknowledgements, 1n);
      assert.deepEqual(rec.errors, []);
    } finally {
      await stream.close();
    }
    await assert.rejects(stream.ack(randomUUID()), (e) => e instanceof EventStreamError && e.code === Code.Canceled, "no ack on a closed stream");
  });
  test("E10. a client_build below the server's minimum ends the stream with StreamUpgradeRequiredError (CLIENT_TOO_OLD, min, upgrade URL); no reconnect", async () => {
    const d = await device(`ts-stream-outdated-build-${randomUUID()}@example.com`);
    const rec = new Recorder();
    const tap = tapWebSocket();
    let tokenRequests = 0;
    const stream = createEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => {
        tokenRequests += 1;
        return d.token.access_token;
      },
      deviceId: d.deviceId,
      clientType: ClientType.VSCODE,
      platform: "linux",
      clientVersion: "0.2.0",
      clientBuild: MIN_CLIENT_VERSION - 1,
      reconnect: FAST_RECONNECT,
      WebSocket: tap.WebSocket,
      ...rec.hooks(),
    });
    const err = await within(rejection(stream.closed()), "the outdated stream to stop");
    assert.ok(err instanceof StreamUpgradeRequiredError, String(err));
    assert.ok(!(err instanceof EventStreamError), "not a survivable stream error");
    assert.ok(!isSignedOut(err), "the session is fine: update, do not sign in again");
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.closeCode, 4026);
    const up = err.upgradeRequired;
    assert.ok(up, "the UpgradeRequired of the error frame before the close");
    assert.equal(up.reason, UpgradeRequired_Reason.CLIENT_TOO_OLD);
    assert.equal(up.clientVersion, MIN_CLIENT_VERSION - 1);
    assert.equal(up.minSupportedVersion, MIN_CLIENT_VERSION);
    assert.equal(up.upgradeUrl, UPGRADE_URL);
    assert.match(up.message, /update/i);
    assert.equal(err.rawMessage, up.message, "the server's sentence, to show as it is");
    assert.equal(upgradeRequired(err)?.upgradeUrl, UPGRADE_URL, "the RPC helper reads it too");

    // The error frame answering device_register was reported first, with the same detail.
    const frame = rec.errors.find((e) => e instanceof EventStreamError && e.code === Code.FailedPrecondition);
    assert.ok(frame instanceof EventStreamError, rec.errors.map(String).join(" | "));
    assert.match(frame.eventId ?? "", /^c-/, "it names the device_register frame");
    assert.equal(upgradeRequired(frame)?.reason, UpgradeRequired_Reason.CLIENT_TOO_OLD);
    assert.equal(rec.errors.at(-1), err, "onError receives the terminal error last");

    // Terminal: no reconnect, even with fast backoff.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(stream.state, "closed");
    assert.deepEqual(rec.states, ["connecting", "open", "closed"], "stopped for good, no reconnect");
    assert.equal(tap.opened(), 1, "one connection only");
    assert.equal(tokenRequests, 1);
    assert.deepEqual(tap.headers(), [{ [PLUGIN_VERSION_HEADER]: String(CURRENT) }], "the upgrade request stated the protocol");
    await assert.rejects(stream.opened(), (e) => e === err);
    await assert.rejects(stream[Symbol.asyncIterator]().next(), (e) => e === err);
  });

  test("E11. the SDK's default plugin protocol (below the server's minimum) is refused at the upgrade request: StreamUpgradeRequiredError (PLUGIN_PROTOCOL_TOO_OLD); no reconnect; null states none", async () => {
    assert.ok(PLUGIN_PROTOCOL_VERSION < MIN_PLUGIN_PROTOCOL_VERSION, "the server under test has moved past this SDK");
    const d = await device(`ts-stream-outdated-plugin-${randomUUID()}@example.com`);
    const rec = new Recorder();
    let tokenRequests = 0;
    const stream = createSdkEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => {
        tokenRequests += 1;
        return d.token.access_token;
      },
      reconnect: FAST_RECONNECT,
      ...rec.hooks(),
    });
    const err = await within(rejection(stream.closed()), "the outdated stream to stop");
    assert.ok(err instanceof StreamUpgradeRequiredError, String(err));
    assert.equal(err.closeCode, 4026);
    const up = err.upgradeRequired;
    assert.ok(up);
    assert.equal(up.reason, UpgradeRequired_Reason.PLUGIN_PROTOCOL_TOO_OLD);
    assert.equal(up.clientVersion, PLUGIN_PROTOCOL_VERSION);
    assert.equal(up.minSupportedVersion, MIN_PLUGIN_PROTOCOL_VERSION);
    assert.equal(up.currentVersion, CURRENT);
    assert.equal(up.upgradeUrl, UPGRADE_URL);

    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(rec.states, ["connecting", "closed"], "refused before ready; no reconnect");
    assert.equal(tokenRequests, 1);
    assert.equal(rec.errors.at(-1), err);

    // A client that states no protocol (null: no header, 0 in device_register) is let through.
    const unstated = createSdkEventStream({
      baseUrl: live().baseUrl,
      tokenProvider: () => d.token.access_token,
      deviceId: d.deviceId,
      pluginProtocolVersion: null,
    });
    try {
      await within(unstated.opened(), "ready without a stated protocol");
    } finally {
      await unstated.close();
    }
  });
}
