/**
 * The realtime event stream: one WebSocket to `GET /api/v1/ws` that carries
 * the `hivesync.v1.Event` frames of the channels a client subscribes to
 * (`project_sync:<project_id>`, `user:<user_id>`), and keeps carrying them
 * across lost connections without losing or repeating an event.
 *
 * This module is transport-neutral: it runs on any WHATWG-compatible
 * `WebSocket` (browsers, React Native, Node.js ≥ 22, or the `ws` package,
 * which `createEventStream` from `@hivesync/sdk/node` uses on Node.js 20).
 *
 * @module
 */
import {
  create,
  fromBinary,
  fromJsonString,
  toBinary,
  toJsonString,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { SignedOutError, isSignedOut, type AuthSession } from "./auth.js";
import { PLUGIN_PROTOCOL_VERSION, PLUGIN_VERSION_HEADER } from "./client.js";
import { ClientType } from "./gen/hivesync/v1/access_pb.js";
import { UpgradeRequiredSchema, type UpgradeRequired } from "./gen/hivesync/v1/errors_pb.js";
import { EventSchema, WsCloseCode, type Event, type ReadyEvent } from "./gen/hivesync/v1/events_pb.js";

// ---------------------------------------------------------------------------
// Protocol constants

/** Path of the event stream endpoint, below the API base URL. */
export const EVENT_STREAM_PATH = "/api/v1/ws";

/** Subprotocol for protobuf JSON in text frames (the default). */
export const SUBPROTOCOL_JSON = "hivesync.v1.json";

/** Subprotocol for binary protobuf in binary frames. */
export const SUBPROTOCOL_BINARY = "hivesync.v1.proto";

/**
 * The channel of admin broadcasts and migration notices. The server sends it
 * to every socket from `ready` on; the stream also subscribes to it (unless
 * `broadcast: false`), so that it learns its position and resumes it.
 */
export const BROADCAST_CHANNEL = "broadcast";

/** The resume point meaning "from now on" (no position yet). */
const FROM_NOW_ON = -1n;

/**
 * The resume point that asks the server where a channel's head is: a
 * sequence beyond any real one, which the gateway answers with `rehydrate`
 * carrying the head. Used for a channel joined "from now on" whose
 * subscription was never acknowledged with a position (the connection was
 * lost first), since events may have been missed since.
 */
const PROBE_SEQUENCE = 0x7fff_ffff_ffff_ffffn;

/** A standard close status the stream uses for connections it gives up on. */
const CLOSE_ABNORMAL = 1006;

/** The name of the project channel of `projectId`: `project_sync:<projectId>`. */
export function projectChannel(projectId: string): string {
  return `project_sync:${projectId}`;
}

/** The name of a user's own channel: `user:<userId>` (see {@link ReadyEvent.userId}). */
export function userChannel(userId: string): string {
  return `user:${userId}`;
}

/**
 * The event stream URL for an API base URL: `http(s)://host/prefix` becomes
 * `ws(s)://host/prefix/api/v1/ws`. A `ws(s)://` URL is kept, with the path
 * appended unless it already ends with it (so the bootstrap document's
 * `ws_base` can be passed as it is). Throws a `TypeError` for other schemes.
 */
export function eventStreamUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  switch (url.protocol) {
    case "http:":
      url.protocol = "ws:";
      break;
    case "https:":
      url.protocol = "wss:";
      break;
    case "ws:":
    case "wss:":
      break;
    default:
      throw new TypeError(`event stream: ${baseUrl} is not an http(s) or ws(s) URL`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith(EVENT_STREAM_PATH) ? path : path + EVENT_STREAM_PATH;
  url.search = "";
  url.hash = "";
  return url.toString();
}

// ---------------------------------------------------------------------------
// The WebSocket the stream runs on

/** A handler type checked bivariantly, so DOM and `ws` sockets both fit. */
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

/**
 * The part of the WHATWG `WebSocket` the stream uses. The browser's and
 * React Native's `WebSocket` and the `ws` package's class all satisfy it.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The subprotocol the server selected. */
  readonly protocol: string;
  /** Set to `"arraybuffer"` so binary frames arrive as `ArrayBuffer`. */
  binaryType: string;
  /** Sends one frame: a string as a text frame, bytes as a binary frame. */
  send(data: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Called once the handshake has completed. */
  onopen: Handler<unknown> | null;
  /** Called with each frame: `data` is a string (text) or an `ArrayBuffer` / byte view (binary). */
  onmessage: Handler<{ data: unknown }> | null;
  /** Called once when the socket has closed, with the close status and reason. */
  onclose: Handler<{ code: number; reason: string }> | null;
  /** Called on a failure; a close follows. */
  onerror: Handler<unknown> | null;
}

/**
 * The third argument the stream passes to a {@link WebSocketConstructor}: the
 * headers of the upgrade request (`X-HiveSync-Plugin-Version`). The `ws`
 * package and React Native's `WebSocket` send them; browsers ignore the
 * argument (they cannot set headers on a WebSocket).
 */
export interface WebSocketInit {
  /** Extra headers of the upgrade request. */
  headers?: Record<string, string>;
}

/**
 * A `WebSocket` constructor, e.g. `globalThis.WebSocket` or `ws`'s. It may
 * ignore the third argument ({@link WebSocketInit}).
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], init?: WebSocketInit) => WebSocketLike;

// ---------------------------------------------------------------------------
// Errors

const STREAM_ERROR_BRAND = Symbol.for("@hivesync/sdk.EventStreamError");
const REVOKED_BRAND = Symbol.for("@hivesync/sdk.StreamRevokedError");
const UPGRADE_BRAND = Symbol.for("@hivesync/sdk.StreamUpgradeRequiredError");

/**
 * A failure on the event stream that the stream itself survives: an `error`
 * frame from the server (a refused subscription, device registration, or a
 * project channel taken away), or a lost connection (then `closeCode` is
 * set and the stream is already reconnecting). An `error` frame that carries
 * `upgrade_required` (just before a 4026 close) has it as a detail:
 * `upgradeRequired(err)` returns it. It is a `ConnectError` whose
 * `code` is the server's Connect code, so `errorCode(err)` works; its `name`
 * stays `"ConnectError"` as Connect requires. Test with
 * `err instanceof EventStreamError`.
 */
export class EventStreamError extends ConnectError {
  /** The id of the client frame the server refused, when there is one. */
  readonly eventId: string | undefined;
  /** The WebSocket close status, when the error is a lost connection. */
  readonly closeCode: number | undefined;

  constructor(
    message: string,
    code: Code,
    options: { eventId?: string; closeCode?: number; cause?: unknown; upgradeRequired?: UpgradeRequired } = {},
  ) {
    super(
      message,
      code,
      undefined,
      options.upgradeRequired ? [{ desc: UpgradeRequiredSchema, value: options.upgradeRequired }] : undefined,
      options.cause,
    );
    this.eventId = options.eventId || undefined;
    this.closeCode = options.closeCode;
    Object.defineProperty(this, STREAM_ERROR_BRAND, { value: true });
  }

  /** Narrows `instanceof` to stream errors (`ConnectError` matches any of its kind). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[STREAM_ERROR_BRAND] === true;
  }
}

/**
 * The server closed the stream with 4003: the session or the device was
 * revoked, or the account disabled. The stream has stopped for good; the
 * user must sign in again. It is a {@link SignedOutError} (reason
 * `"session_ended"`), so `isSignedOut(err)` is true and sign-out handling
 * shared with RPCs applies.
 */
export class StreamRevokedError extends SignedOutError {
  /** Always 4003 ({@link WsCloseCode.REVOKED}). */
  readonly closeCode: number = WsCloseCode.REVOKED;
  /** The server's reason, e.g. "the session was signed out" or "the device was revoked". */
  readonly closeReason: string;

  constructor(closeReason: string) {
    super("session_ended", `the event stream was closed: ${closeReason || "the session was revoked"}; sign in again`);
    this.closeReason = closeReason;
    Object.defineProperty(this, REVOKED_BRAND, { value: true });
  }

  /** Narrows `instanceof` to this class (it inherits the signed-out check). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[REVOKED_BRAND] === true;
  }
}

/**
 * The server closed the stream with 4026 ({@link WsCloseCode.UPGRADE_REQUIRED}):
 * this client is older than the server accepts, either its plugin protocol
 * (the `X-HiveSync-Plugin-Version` header of the upgrade request, or
 * `pluginProtocolVersion` in `device_register`) or its build (`clientBuild`
 * in `device_register`, held to the bootstrap document's
 * `min_client_version`). The stream has stopped for good and does not
 * reconnect: the user must update the client (see
 * {@link StreamUpgradeRequiredError.upgradeRequired}'s `upgradeUrl` and
 * `message`).
 *
 * It is a `ConnectError` with code `failed_precondition` carrying the
 * `UpgradeRequired` detail, like an RPC refused for the same reason, so
 * `upgradeRequired(err)` and `hiveSyncErrorDetails(err)` work on it too.
 * It is not an {@link EventStreamError} (the stream does not survive it).
 */
export class StreamUpgradeRequiredError extends ConnectError {
  /** Always 4026 ({@link WsCloseCode.UPGRADE_REQUIRED}). */
  readonly closeCode: number = WsCloseCode.UPGRADE_REQUIRED;
  /** The server's close reason, for logs (never parse it). */
  readonly closeReason: string;
  /**
   * What is too old and where to update: the `upgrade_required` of the
   * server's `error` frame before the close (reason, the version sent, the
   * minimum, the current version, `upgradeUrl`, a `message` to show as it
   * is). `undefined` when the server sent none.
   */
  readonly upgradeRequired: UpgradeRequired | undefined;

  constructor(closeReason: string, upgradeRequired?: UpgradeRequired, cause?: unknown) {
    super(
      upgradeRequired?.message || `the event stream was closed: ${closeReason || "this client is too old"}; update it`,
      Code.FailedPrecondition,
      undefined,
      upgradeRequired ? [{ desc: UpgradeRequiredSchema, value: upgradeRequired }] : undefined,
      cause,
    );
    this.closeReason = closeReason;
    this.upgradeRequired = upgradeRequired;
    Object.defineProperty(this, UPGRADE_BRAND, { value: true });
  }

  /** Narrows `instanceof` to this class (`ConnectError` matches any of its kind). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[UPGRADE_BRAND] === true;
  }
}

/** The Connect code named by an `ErrorEvent.code` such as `"not_found"`. */
function codeFromName(name: string): Code {
  const key = name
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
  const code = (Code as unknown as Record<string, unknown>)[key === "Cancelled" ? "Canceled" : key];
  return typeof code === "number" ? (code as Code) : Code.Unknown;
}

/** The Connect code that best describes a close status. */
function codeFromClose(status: number): Code {
  switch (status) {
    case WsCloseCode.UNAUTHENTICATED:
    case WsCloseCode.REVOKED:
      return Code.Unauthenticated;
    case WsCloseCode.BAD_FRAMES:
      return Code.InvalidArgument;
    case WsCloseCode.UPGRADE_REQUIRED:
      return Code.FailedPrecondition;
    case WsCloseCode.SLOW_CONSUMER:
    case 1009: // frame too big
      return Code.ResourceExhausted;
    default:
      return Code.Unavailable;
  }
}

// ---------------------------------------------------------------------------
// Options

/** What the stream is asking a token provider for. */
export interface StreamTokenRequest {
  /**
   * The access token the server just refused (close 4001), when it did:
   * return a refreshed one. `undefined` on an ordinary (re)connect.
   */
  rejectedToken: string | undefined;
}

/**
 * Supplies the access token for each connection. It is called before every
 * connect and again after the server refused a token (then with
 * `rejectedToken`). Returning nothing means signed out; throwing a
 * `SignedOutError` stops the stream; any other error is retried with
 * backoff. A plain `TokenProvider` of the RPC clients fits too.
 */
export type StreamTokenProvider = (
  request: StreamTokenRequest,
) => string | null | undefined | Promise<string | null | undefined>;

/** A channel to subscribe to, optionally with the last sequence already processed. */
export type ChannelSubscription =
  | string
  | {
      /** The channel name, e.g. `projectChannel(id)`. */
      channel: string;
      /**
       * The last sequence the client processed (as reported by
       * `onPosition` in an earlier run). The stream then delivers exactly
       * the events after it, or calls `onRehydrate` when they are no longer
       * kept. `0` means "nothing seen since the channel began" (everything
       * still kept is replayed). Leave out (or give -1) to start from now on.
       */
      lastSequence?: bigint | number | string;
    };

/** Lifecycle states of an {@link EventStream}. */
export type EventStreamState =
  /** The first connection is being made. */
  | "connecting"
  /** Authenticated (`ready` received) and subscribed; events flow. */
  | "open"
  /** The connection was lost; the stream is waiting to reconnect, or reconnecting. */
  | "reconnecting"
  /** Stopped for good: {@link EventStream.close} or a terminal error. */
  | "closed";

/** Details passed to `onStateChange`. */
export interface EventStreamStateDetail {
  /** For `"reconnecting"`: why the connection ended. For `"closed"`: the terminal error, if any. */
  error?: unknown;
  /** For `"reconnecting"`: how long the stream waits before the next attempt. */
  retryInMs?: number;
  /** For `"open"`: the server's `ready` frame. */
  ready?: ReadyEvent;
}

/** Reconnection tuning: exponential backoff with full jitter. */
export interface ReconnectOptions {
  /** The first retry waits up to this long (uniformly at random). Default 250 ms. */
  baseDelayMs?: number;
  /** No retry waits longer than this. Default 30 000 ms. */
  maxDelayMs?: number;
  /** A connection open this long resets the backoff to `baseDelayMs`. Default 10 000 ms. */
  stableAfterMs?: number;
}

/** Options of an {@link EventStream}. */
export interface EventStreamOptions {
  /**
   * Base URL of the HiveSync API, the same as for the RPC clients, e.g.
   * `https://api.hivesync.dev` (connects to `wss://api.hivesync.dev/api/v1/ws`).
   */
  baseUrl: string;
  /**
   * The full WebSocket URL, overriding the one derived from `baseUrl` (e.g.
   * `ws_base` from `MetaService.GetBootstrapConfig`).
   */
  url?: string;
  /**
   * A signed-in {@link AuthSession}: each connection authenticates with its
   * current access token, and a token the server refuses is refreshed first.
   */
  session?: AuthSession;
  /** Supplies access tokens instead of `session` (wins over it when both are given). */
  tokenProvider?: StreamTokenProvider;
  /**
   * The registered device this client runs on (`DeviceService.RegisterDevice`);
   * sent as `device_register` after authentication.
   */
  deviceId?: string;
  /** Sent with `device_register`: the kind of client. */
  clientType?: ClientType;
  /** Sent with `device_register`: the operating system, e.g. `"linux"`. */
  platform?: string;
  /** Sent with `device_register`: the client's own version string. */
  clientVersion?: string;
  /**
   * The plugin protocol version this client speaks; defaults to
   * {@link PLUGIN_PROTOCOL_VERSION}, like the RPC clients. It is sent as the
   * `X-HiveSync-Plugin-Version` header of every upgrade request (with the
   * `ws` package and on React Native; browsers cannot set the header) and
   * in `device_register`. `null` states none (no header, 0 in
   * `device_register`). Below the server's minimum the stream stops with
   * {@link StreamUpgradeRequiredError}.
   */
  pluginProtocolVersion?: number | null;
  /**
   * Sent with `device_register`: the client's integer build, which the
   * server holds to the bootstrap document's `min_client_version`; below it
   * the stream stops with {@link StreamUpgradeRequiredError}. Default 0
   * (not stated: never refused for its build).
   */
  clientBuild?: number;
  /** Channels to subscribe to from the start. More can be added with {@link EventStream.subscribe}. */
  channels?: readonly ChannelSubscription[];
  /**
   * Whether to receive the {@link BROADCAST_CHANNEL} (admin messages,
   * migration notices). Default `true`: it is subscribed to like the other
   * channels (give it in `channels` with a `lastSequence` to resume it).
   */
  broadcast?: boolean;
  /**
   * Called with every channel event, in order per channel, each exactly once.
   * The next event waits for a returned promise. A thrown error goes to
   * `onError` and the stream goes on.
   */
  onEvent?: (event: Event) => void | Promise<void>;
  /**
   * Called after an event was handled (by `onEvent` and every iterator) with
   * its channel and sequence: persist it and pass it back as
   * `lastSequence` after a restart. Also called with the starting position
   * the server acknowledges for a channel joined "from now on", and with the
   * resume sequence after a rehydrate. Awaited.
   */
  onPosition?: (channel: string, sequence: bigint) => void | Promise<void>;
  /**
   * The events missed on `channel` are no longer kept: refetch the channel's
   * state (files, history...) and resolve. Events after `resumeSequence`
   * follow once the returned promise settles. The `rehydrate` event itself
   * then reaches `onEvent` and iterators too.
   */
  onRehydrate?: (channel: string, resumeSequence: bigint) => void | Promise<void>;
  /**
   * Every error: `error` frames and lost connections (as
   * {@link EventStreamError}; the stream carries on), failing handlers, and
   * finally the terminal error that closed the stream.
   */
  onError?: (error: unknown) => void;
  /** Called on every state change. */
  onStateChange?: (state: EventStreamState, detail: EventStreamStateDetail) => void;
  /** Wire format: `"json"` (default, `hivesync.v1.json`) or `"binary"` (`hivesync.v1.proto`). */
  format?: "json" | "binary";
  /**
   * The `WebSocket` constructor; defaults to `globalThis.WebSocket`.
   * `createEventStream` from `@hivesync/sdk/node` passes the `ws` package's.
   */
  WebSocket?: WebSocketConstructor;
  /** Backoff between reconnection attempts. */
  reconnect?: ReconnectOptions;
  /**
   * How long a connection may take to open and receive `ready` before it is
   * abandoned and retried. Default 15 000 ms.
   */
  connectTimeoutMs?: number;
  /**
   * Overrides the heartbeat interval the server announces in `ready`. The
   * stream sends a `heartbeat` every half interval and treats a connection
   * that delivered no frame for two intervals as dead.
   */
  heartbeatIntervalMs?: number;
}

// ---------------------------------------------------------------------------
// Internals

/** Where the stream is on one subscribed channel. */
interface ChannelState {
  /** The highest sequence accepted for delivery; `undefined` before the first one. */
  received: bigint | undefined;
  /** The highest sequence handed to the application (what `onPosition` reported). */
  delivered: bigint | undefined;
  /** A subscribe frame has named the channel, so "from now on" is used up. */
  joined: boolean;
  /** The last subscribe asked for the head (see {@link PROBE_SEQUENCE}). */
  probing: boolean;
  /**
   * A subscribe resuming from a known position is not acknowledged yet:
   * frames of the channel that arrive before the `ack` come from an earlier
   * subscription (the server puts every socket on the broadcast channel
   * "from now on" at `ready`) and may be ahead of the replay, so they are
   * dropped; the resumed subscription delivers them again, in order.
   */
  awaitingAck: boolean;
}

/** A caller waiting for the server to answer a frame (`ack` or `error`). */
interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A client frame the server has not answered yet. */
interface PendingFrame {
  kind: "subscribe" | "unsubscribe" | "ack";
  /** The channels it named. */
  channels: string[];
  waiters: Waiter[];
  /** `error` frames answering it so far (one per refused channel for a subscribe). */
  errors: EventStreamError[];
}

/** One WebSocket connection and its bookkeeping. */
interface Connection {
  ws: WebSocketLike;
  /** Whether frames are binary protobuf (the server selected `hivesync.v1.proto`). */
  binary: boolean;
  ready: ReadyEvent | undefined;
  readyAt: number;
  lastFrameAt: number;
  timers: ReturnType<typeof setTimeout>[];
  /** Unanswered frames by id. */
  pending: Map<string, PendingFrame>;
  /** The last `error` frame, which explains a close that follows it. */
  lastError: EventStreamError | undefined;
  /** The `upgrade_required` of the last `error` frame that carried one (explains a 4026). */
  lastUpgradeRequired: UpgradeRequired | undefined;
  ended: boolean;
  end: (code: number, reason: string, cause?: unknown) => void;
}

/** How a connection ended. */
interface ConnectionEnd {
  code: number;
  reason: string;
  /** How long it was open after `ready` (0 when it never was). */
  openForMs: number;
  lastError: EventStreamError | undefined;
  lastUpgradeRequired: UpgradeRequired | undefined;
  cause: unknown;
}

type Delivery =
  | { kind: "event"; event: Event; channel: ChannelState }
  | { kind: "position"; name: string; channel: ChannelState; sequence: bigint }
  | { kind: "rehydrate"; event: Event; channel: ChannelState; resume: bigint; silent: boolean }
  | { kind: "end" };

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A resume point: `undefined` for "from now on" (left out or negative). */
function toSequence(v: bigint | number | string | undefined): bigint | undefined {
  if (v === undefined) {
    return undefined;
  }
  const n = BigInt(v);
  return n < 0n ? undefined : n;
}

let frameCounter = 0;
const framePrefix = Math.random().toString(36).slice(2, 10);

/** A client frame id, unique within this process (no `crypto` needed, for React Native). */
function frameId(): string {
  frameCounter += 1;
  return `c-${framePrefix}-${frameCounter}`;
}

// ---------------------------------------------------------------------------
// The stream

/**
 * A self-healing subscription to HiveSync's realtime events.
 *
 * ```ts
 * const stream = createEventStream({             // from "@hivesync/sdk/node" or "/web"
 *   baseUrl, session,
 *   channels: [{ channel: projectChannel(projectId), lastSequence: saved.get(projectId) }],
 *   onEvent: (ev) => { if (ev.payload.case === "saveFile") refetch(ev.payload.value.fileId); },
 *   onPosition: (channel, seq) => saved.set(channel, seq),
 *   onRehydrate: async () => { await refetchEverything(); },
 *   onError: (err) => log(err),
 * });
 * await stream.closed(); // rejects with StreamRevokedError when the session is revoked
 * ```
 *
 * The stream connects as soon as it is created and then, per connection:
 * sends `auth` with a fresh access token and waits for `ready`; sends
 * `device_register` when a `deviceId` is set; subscribes to every channel
 * (and the {@link BROADCAST_CHANNEL}) in one frame, each from the last
 * sequence received; sends a `heartbeat` every half interval and drops a
 * connection that is silent for two intervals.
 *
 * - **Exactly once, in order.** The stream remembers the last sequence of
 *   each channel, resumes from it after a reconnect (the server replays the
 *   gap), and drops anything at or below it. A channel joined "from now on"
 *   takes the position the server's `ack` names. Events are delivered one at
 *   a time: a handler's promise is awaited before the next event.
 * - **Rehydrate.** When the gap is no longer kept, `onRehydrate` runs and the
 *   stream continues after the sequence the server named. A channel joined
 *   "from now on" whose connection was lost before the `ack` asks the
 *   server for its head on the next connection and is rehydrated too, unless
 *   the channel is still empty.
 * - **Reconnects** use exponential backoff with full jitter (250 ms doubling
 *   up to 30 s, reset by a connection that stays open 10 s). Close 4001 (token
 *   refused) refreshes the token first; 4008 (slow consumer) and 1001 (node
 *   restarting) resume like any other loss.
 * - **Terminal errors** stop the stream: 4003 ({@link StreamRevokedError}),
 *   4026 (this client's plugin protocol or build is older than the server
 *   accepts: {@link StreamUpgradeRequiredError}, carrying the
 *   `UpgradeRequired` detail; update the client), no token or a token
 *   refused again after a refresh ({@link SignedOutError}), or
 *   {@link close}. `closed()` rejects with them and iterators throw them.
 * - **Versions.** Every upgrade request carries `X-HiveSync-Plugin-Version`
 *   (`pluginProtocolVersion`, where the `WebSocket` can send headers), and
 *   `device_register` states `pluginProtocolVersion` and `clientBuild`.
 *
 * Events can be consumed with `onEvent`, with `for await (const ev of
 * stream)`, or both. An iterator's event counts as handled (for
 * `onPosition`) when the loop asks for the next one. With neither, events
 * wait for an iterator.
 */
export class EventStream implements AsyncIterable<Event> {
  /** The WebSocket URL the stream connects to. */
  readonly url: string;

  private readonly options: EventStreamOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly tokenProvider: StreamTokenProvider;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly stableAfterMs: number;

  private currentState: EventStreamState = "connecting";
  private readonly subs = new Map<string, ChannelState>();
  private conn: Connection | undefined;
  /** Subscribe waiters whose frame was lost with its connection. */
  private carried: Waiter[] = [];
  private readonly stop = new AbortController();
  private ended = false;
  private userClosed = false;
  private terminalError: unknown;
  private finished = false;

  private readonly queue: Delivery[] = [];
  private pumping = false;
  private readonly iterators = new Set<EventIterator>();
  private consumerWaiters: (() => void)[] = [];
  private openWaiters: { resolve: (r: ReadyEvent) => void; reject: (e: unknown) => void }[] = [];
  private closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  /**
   * Creates the stream and starts connecting. Throws a `TypeError` for an
   * unusable URL, no token source, or no `WebSocket` implementation.
   */
  constructor(options: EventStreamOptions) {
    this.options = options;
    this.url = options.url !== undefined ? eventStreamUrl(options.url) : eventStreamUrl(options.baseUrl);
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) {
      throw new TypeError(
        "event stream: no WebSocket implementation; pass the WebSocket option (on Node.js 20 use createEventStream from @hivesync/sdk/node)",
      );
    }
    this.WebSocketImpl = impl;
    const session = options.session;
    if (options.tokenProvider) {
      this.tokenProvider = options.tokenProvider;
    } else if (session) {
      this.tokenProvider = async ({ rejectedToken }) =>
        rejectedToken === undefined ? session.accessToken() : (await session.refresh({ rejectedToken })).accessToken;
    } else {
      throw new TypeError("event stream: give a session or a tokenProvider");
    }
    this.baseDelayMs = options.reconnect?.baseDelayMs ?? 250;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    this.stableAfterMs = options.reconnect?.stableAfterMs ?? 10_000;
    for (const c of options.channels ?? []) {
      this.addChannel(c);
    }
    if (options.broadcast ?? true) {
      this.addChannel(BROADCAST_CHANNEL);
    }
    // Start on the next tick, so no hook runs before the constructor returns.
    void Promise.resolve()
      .then(() => this.run())
      .catch((err: unknown) => this.terminate(err));
  }

  /** The current lifecycle state. */
  get state(): EventStreamState {
    return this.currentState;
  }

  /** The `ready` frame of the open connection; `undefined` while not open. */
  get ready(): ReadyEvent | undefined {
    return this.conn?.ready;
  }

  /** The subscribed channels. */
  channels(): string[] {
    return [...this.subs.keys()];
  }

  /**
   * The last sequence handled per channel (what `onPosition` reported), for
   * channels with a known position: given at subscription, acknowledged by
   * the server, or reached by an event or a rehydrate.
   */
  positions(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [name, st] of this.subs) {
      if (st.delivered !== undefined) {
        out.set(name, st.delivered);
      }
    }
    return out;
  }

  /**
   * Resolves with the `ready` frame once the stream is open (at once if it
   * is). Rejects with the terminal error if the stream closes first.
   */
  opened(): Promise<ReadyEvent> {
    const ready = this.conn?.ready;
    if (ready && this.currentState === "open") {
      return Promise.resolve(ready);
    }
    if (this.ended) {
      return Promise.reject(this.closedError());
    }
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /**
   * Settles when the stream has stopped for good and every event received
   * before has been delivered: resolves after {@link close}, rejects with
   * the terminal error (e.g. {@link StreamRevokedError}).
   */
  closed(): Promise<void> {
    if (this.finished) {
      return this.terminalError === undefined ? Promise.resolve() : Promise.reject(this.terminalError);
    }
    return new Promise((resolve, reject) => this.closeWaiters.push({ resolve, reject }));
  }

  /**
   * Subscribes to more channels. Channels already subscribed are left as
   * they are (to replay one from an older sequence, unsubscribe it first).
   * Resolves when the server has acknowledged the subscription, on this
   * connection or the next one; rejects with an {@link EventStreamError}
   * (e.g. `not_found` for a project the user is not a member of) when it
   * refused any of them. Refused channels are dropped (unless the refusal
   * was `unavailable` or `resource_exhausted`, which the next connection
   * retries); the others stay.
   */
  subscribe(channels: readonly ChannelSubscription[]): Promise<void> {
    if (this.ended) {
      return Promise.reject(this.closedError());
    }
    const added = channels.map((c) => this.addChannel(c)).filter((name): name is string => name !== undefined);
    if (added.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const conn = this.conn;
      if (conn?.ready && !conn.ended) {
        this.sendSubscribe(conn, added, [waiter]);
      } else {
        this.carried.push(waiter);
      }
    });
  }

  /**
   * Leaves channels. Their events stop at once (anything still queued for
   * them is dropped) and their positions are forgotten. Resolves when the
   * server has acknowledged, or at once when not connected.
   */
  unsubscribe(channels: readonly string[]): Promise<void> {
    const removed = channels.filter((name) => this.subs.delete(name));
    const conn = this.conn;
    if (removed.length === 0 || !conn?.ready || conn.ended) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const id = frameId();
      conn.pending.set(id, { kind: "unsubscribe", channels: removed, waiters: [{ resolve, reject }], errors: [] });
      this.send(conn, { id, eventType: "unsubscribe", payload: { case: "unsubscribe", value: { channels: removed } } });
    });
  }

  /**
   * Acknowledges an event that asks for it: an admin message with
   * `requiresAck` (send its id once the user dismissed it) or a
   * notification (its `notificationId` marks it delivered). Resolves when
   * the server has recorded it; rejects with an {@link EventStreamError}
   * when it could not (`unavailable` also when the stream is not connected
   * or the connection was lost first: acknowledge again, it is idempotent).
   */
  ack(eventId: string): Promise<void> {
    const conn = this.conn;
    if (this.ended) {
      return Promise.reject(this.closedError());
    }
    if (!conn?.ready || conn.ended) {
      return Promise.reject(new EventStreamError("not connected; acknowledge again once the stream is open", Code.Unavailable));
    }
    return new Promise((resolve, reject) => {
      const id = frameId();
      conn.pending.set(id, { kind: "ack", channels: [], waiters: [{ resolve, reject }], errors: [] });
      this.send(conn, { id, eventType: "ack", payload: { case: "ack", value: { eventId } } });
    });
  }

  /**
   * Stops the stream for good: closes the connection (status 1000), drops
   * undelivered events and ends iterators. Resolves once done.
   */
  close(): Promise<void> {
    if (!this.ended) {
      this.userClosed = true;
      this.terminate(undefined);
    }
    return this.closed().catch(() => undefined);
  }

  /** Iterates over the channel events, like `onEvent` (see the class notes). */
  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    const it = new EventIterator((self) => this.iterators.delete(self));
    if (this.finished || this.userClosed) {
      it.end(this.terminalError);
    } else {
      this.iterators.add(it);
      const waiters = this.consumerWaiters;
      this.consumerWaiters = [];
      for (const w of waiters) w();
    }
    return it;
  }

  // -------------------------------------------------------------------------
  // Connection loop

  /** The plugin protocol version stated (header and `device_register`); 0 for none. */
  private pluginProtocolVersion(): number {
    const v = this.options.pluginProtocolVersion;
    return v === undefined ? PLUGIN_PROTOCOL_VERSION : (v ?? 0);
  }

  private async run(): Promise<void> {
    if (this.ended) {
      return;
    }
    this.setState("connecting", {});
    let attempt = 0;
    let rejectedToken: string | undefined;
    let refusals = 0;
    while (!this.ended) {
      let token: string | null | undefined;
      let retryError: unknown;
      try {
        token = await this.tokenProvider({ rejectedToken });
      } catch (err) {
        if (isSignedOut(err)) {
          this.terminate(err);
          return;
        }
        retryError = err;
      }
      if (this.ended) {
        return;
      }
      if (retryError === undefined) {
        if (!token) {
          this.terminate(new SignedOutError("not_signed_in", "the event stream has no access token: not signed in"));
          return;
        }
        if (rejectedToken !== undefined && token === rejectedToken) {
          this.terminate(
            new SignedOutError(
              "session_ended",
              "the server refused the event stream's access token and no other could be had; sign in again",
            ),
          );
          return;
        }
        const end = await this.connect(token);
        if (this.ended) {
          return;
        }
        if (end.code === WsCloseCode.REVOKED) {
          this.terminate(new StreamRevokedError(end.reason));
          return;
        }
        if (end.code === WsCloseCode.UPGRADE_REQUIRED) {
          this.terminate(new StreamUpgradeRequiredError(end.reason, end.lastUpgradeRequired, end.lastError));
          return;
        }
        if (end.code === WsCloseCode.UNAUTHENTICATED) {
          rejectedToken = token;
          refusals += 1;
          if (refusals >= 3) {
            this.terminate(
              new SignedOutError("session_ended", "the server refused three access tokens in a row; sign in again", end.lastError),
            );
            return;
          }
        } else {
          rejectedToken = undefined;
          if (end.openForMs > 0) {
            refusals = 0;
          }
        }
        if (end.openForMs >= this.stableAfterMs) {
          attempt = 0;
        }
        retryError = new EventStreamError(
          `connection lost (${end.code}${end.reason ? ` ${end.reason}` : ""}); reconnecting`,
          codeFromClose(end.code),
          { closeCode: end.code, cause: end.cause ?? end.lastError },
        );
      }
      // Full jitter: uniform in [0, min(cap, base * 2^attempt)].
      const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt, 30));
      const wait = Math.floor(Math.random() * ceiling);
      attempt += 1;
      this.report(retryError);
      this.setState("reconnecting", { error: retryError, retryInMs: wait });
      await pause(wait, this.stop.signal);
    }
  }

  /** Runs one connection until it ends. */
  private connect(token: string): Promise<ConnectionEnd> {
    return new Promise((resolve) => {
      const wantBinary = this.options.format === "binary";
      let ws: WebSocketLike;
      const plugin = this.pluginProtocolVersion();
      const init: WebSocketInit | undefined = plugin ? { headers: { [PLUGIN_VERSION_HEADER]: String(plugin) } } : undefined;
      try {
        ws = init
          ? new this.WebSocketImpl(this.url, [wantBinary ? SUBPROTOCOL_BINARY : SUBPROTOCOL_JSON], init)
          : new this.WebSocketImpl(this.url, [wantBinary ? SUBPROTOCOL_BINARY : SUBPROTOCOL_JSON]);
        ws.binaryType = "arraybuffer";
      } catch (err) {
        resolve({
          code: CLOSE_ABNORMAL,
          reason: "could not open a WebSocket",
          openForMs: 0,
          lastError: undefined,
          lastUpgradeRequired: undefined,
          cause: err,
        });
        return;
      }
      const conn: Connection = {
        ws,
        binary: wantBinary,
        ready: undefined,
        readyAt: 0,
        lastFrameAt: Date.now(),
        timers: [],
        pending: new Map(),
        lastError: undefined,
        lastUpgradeRequired: undefined,
        ended: false,
        end: (code, reason, cause) => {
          if (conn.ended) {
            return;
          }
          conn.ended = true;
          for (const t of conn.timers) {
            clearTimeout(t);
            clearInterval(t);
          }
          ws.onopen = ws.onmessage = ws.onclose = null;
          // Keep an error handler: `ws` throws an error event nobody listens to
          // (closing a socket that is still connecting emits one).
          ws.onerror = ignore;
          if (ws.readyState !== 3) {
            dropSocket(ws, this.userClosed ? 1000 : undefined);
          }
          if (this.conn === conn) {
            this.conn = undefined;
          }
          for (const st of this.subs.values()) st.awaitingAck = false;
          for (const frame of conn.pending.values()) {
            for (const w of frame.waiters) {
              if (frame.kind === "subscribe" && !this.ended) {
                this.carried.push(w); // the next connection subscribes again
              } else if (frame.kind === "unsubscribe") {
                w.resolve(); // the channel is no longer subscribed: nothing to do
              } else if (frame.kind === "ack" && !this.ended) {
                w.reject(new EventStreamError("the connection was lost before the server answered; acknowledge again", Code.Unavailable));
              } else {
                w.reject(this.closedError());
              }
            }
          }
          conn.pending.clear();
          resolve({
            code,
            reason,
            openForMs: conn.ready ? Date.now() - conn.readyAt : 0,
            lastError: conn.lastError,
            lastUpgradeRequired: conn.lastUpgradeRequired,
            cause,
          });
        },
      };
      this.conn = conn;
      const connectTimeout = this.options.connectTimeoutMs ?? 15_000;
      conn.timers.push(
        setTimeout(() => {
          if (!conn.ready) {
            conn.end(CLOSE_ABNORMAL, `no ready frame within ${connectTimeout} ms`);
          }
        }, connectTimeout),
      );
      let socketError: unknown;
      ws.onopen = () => {
        conn.binary = ws.protocol === SUBPROTOCOL_BINARY;
        this.send(conn, { id: frameId(), eventType: "auth", payload: { case: "auth", value: { token } } });
      };
      ws.onmessage = (e) => this.onFrame(conn, e.data);
      ws.onerror = (e) => {
        socketError = (e as { error?: unknown } | undefined)?.error ?? e;
      };
      ws.onclose = (e) => conn.end(e.code, e.reason, socketError);
    });
  }

  private onFrame(conn: Connection, data: unknown): void {
    if (conn.ended) {
      return;
    }
    conn.lastFrameAt = Date.now();
    let ev: Event;
    try {
      ev = this.decode(data);
    } catch (err) {
      this.report(new EventStreamError("an undecodable frame was skipped", Code.Internal, { cause: err }));
      return;
    }
    switch (ev.payload.case) {
      case "ready":
        if (!conn.ready) {
          this.onReady(conn, ev.payload.value);
        }
        return;
      case "ack":
        this.onAnswer(conn, ev.payload.value.eventId, ev.payload.value.positions, undefined);
        return;
      case "error": {
        const e = ev.payload.value;
        const err = new EventStreamError(e.message, codeFromName(e.code), {
          eventId: e.eventId,
          upgradeRequired: e.upgradeRequired,
        });
        conn.lastError = err;
        if (e.upgradeRequired) {
          conn.lastUpgradeRequired = e.upgradeRequired;
        }
        this.report(err);
        this.onAnswer(conn, e.eventId, [], err);
        return;
      }
      case "heartbeat":
        return;
    }
    if (conn.ready && ev.channel !== "") {
      this.receive(ev);
    }
  }

  private onReady(conn: Connection, ready: ReadyEvent): void {
    conn.ready = ready;
    conn.readyAt = Date.now();
    const o = this.options;
    if (o.deviceId) {
      this.send(conn, {
        id: frameId(),
        eventType: "device_register",
        payload: {
          case: "deviceRegister",
          value: {
            deviceId: o.deviceId,
            clientType: o.clientType ?? ClientType.UNSPECIFIED,
            platform: o.platform ?? "",
            clientVersion: o.clientVersion ?? "",
            pluginProtocolVersion: this.pluginProtocolVersion(),
            clientBuild: o.clientBuild ?? 0,
          },
        },
      });
    }
    const carried = this.carried;
    this.carried = [];
    if (this.subs.size > 0) {
      this.sendSubscribe(conn, [...this.subs.keys()], carried);
    } else {
      for (const w of carried) w.resolve();
    }
    const intervalMs =
      o.heartbeatIntervalMs ?? (ready.heartbeatIntervalSeconds > 0 ? ready.heartbeatIntervalSeconds * 1000 : 30_000);
    conn.timers.push(
      setInterval(() => {
        if (Date.now() - conn.lastFrameAt > 2 * intervalMs) {
          conn.end(CLOSE_ABNORMAL, `no frame for ${2 * intervalMs} ms`);
          return;
        }
        this.send(conn, { id: frameId(), eventType: "heartbeat", payload: { case: "heartbeat", value: { clientTime: timestampNow() } } });
      }, intervalMs / 2),
    );
    this.setState("open", { ready });
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve(ready);
  }

  /** Sends one subscribe frame for `names`, each from its resume point. */
  private sendSubscribe(conn: Connection, names: string[], waiters: Waiter[]): void {
    const positions = [];
    for (const name of names) {
      const st = this.subs.get(name);
      if (!st) {
        continue;
      }
      st.probing = st.received === undefined && st.joined;
      const lastSequence = st.received ?? (st.probing ? PROBE_SEQUENCE : FROM_NOW_ON);
      st.awaitingAck = lastSequence !== FROM_NOW_ON;
      st.joined = true;
      positions.push({ channel: name, lastSequence });
    }
    if (positions.length === 0) {
      for (const w of waiters) w.resolve();
      return;
    }
    const id = frameId();
    conn.pending.set(id, { kind: "subscribe", channels: positions.map((p) => p.channel), waiters, errors: [] });
    this.send(conn, { id, eventType: "subscribe", payload: { case: "subscribe", value: { channels: positions } } });
  }

  /**
   * Handles the server's answer (`ack`, or `error` naming frame `id`) to a
   * client frame. A subscribe is answered by one `error` per refused channel
   * and, when at least one channel joined, an `ack` listing where each
   * joined channel starts; a channel joined "from now on" takes that
   * position. Refused channels (those the `ack` does not list) are dropped
   * unless a refusal may pass on another try.
   */
  private onAnswer(
    conn: Connection,
    id: string,
    positions: readonly { channel: string; lastSequence: bigint }[],
    err: EventStreamError | undefined,
  ): void {
    const frame = id ? conn.pending.get(id) : undefined;
    if (!frame) {
      return;
    }
    if (err) {
      frame.errors.push(err);
      const more =
        frame.kind === "subscribe" &&
        err.code !== Code.ResourceExhausted && // refuses the whole frame
        frame.errors.length < frame.channels.length; // an ack may still list the others
      if (more) {
        return;
      }
    }
    conn.pending.delete(id);
    if (frame.kind === "subscribe") {
      for (const name of frame.channels) {
        const st = this.subs.get(name);
        if (st) st.awaitingAck = false;
      }
      const joined = new Set<string>();
      for (const p of positions) {
        joined.add(p.channel);
        const st = this.subs.get(p.channel);
        // A probing channel learns its position from the rehydrate that follows.
        if (st && st.received === undefined && !st.probing && p.lastSequence >= 0n) {
          st.received = p.lastSequence;
          this.enqueue({ kind: "position", name: p.channel, channel: st, sequence: p.lastSequence });
        }
      }
      // `unavailable` (could not join) and `resource_exhausted` (throttled, or
      // too many channels) are worth another try on the next connection.
      const retry = frame.errors.some((e) => e.code === Code.Unavailable || e.code === Code.ResourceExhausted);
      if (frame.errors.length > 0 && !retry) {
        for (const name of frame.channels) {
          if (!joined.has(name)) this.subs.delete(name);
        }
      }
    }
    const first = frame.errors[0];
    for (const w of frame.waiters) {
      if (first) w.reject(first);
      else w.resolve();
    }
  }

  /** Accepts a channel event for delivery, dropping duplicates. */
  private receive(ev: Event): void {
    const st = this.subs.get(ev.channel);
    if (!st || st.awaitingAck) {
      return; // unsubscribed while on its way, or the resumed subscription will send it again
    }
    if (ev.payload.case === "rehydrate") {
      const resume = ev.payload.value.resumeSequence;
      const silent = st.probing && resume === 0n; // the channel is empty: nothing was missed
      st.probing = false;
      st.received = resume;
      this.enqueue({ kind: "rehydrate", event: ev, channel: st, resume, silent });
      return;
    }
    if (ev.sequence > 0n) {
      if (st.received !== undefined && ev.sequence <= st.received) {
        return; // already delivered (a replay overlapping what arrived)
      }
      st.received = ev.sequence;
      st.probing = false;
    }
    this.enqueue({ kind: "event", event: ev, channel: st });
  }

  private send(conn: Connection, init: MessageInitShape<typeof EventSchema>): void {
    if (conn.ended || conn.ws.readyState !== 1) {
      return;
    }
    const ev = create(EventSchema, init);
    try {
      conn.ws.send(conn.binary ? toBinary(EventSchema, ev) : toJsonString(EventSchema, ev));
    } catch (err) {
      conn.end(CLOSE_ABNORMAL, "send failed", err);
    }
  }

  private decode(data: unknown): Event {
    if (typeof data === "string") {
      return fromJsonString(EventSchema, data, { ignoreUnknownFields: true });
    }
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) {
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      throw new TypeError(`unsupported frame data (${Object.prototype.toString.call(data)})`);
    }
    return fromBinary(EventSchema, bytes);
  }

  // -------------------------------------------------------------------------
  // Delivery

  private enqueue(d: Delivery): void {
    this.queue.push(d);
    if (!this.pumping) {
      void this.pump().catch((err: unknown) => this.report(err));
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let d = this.queue.shift(); d !== undefined; d = this.queue.shift()) {
        if (this.userClosed && d.kind !== "end") {
          continue;
        }
        await this.deliver(d);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    if (d.kind === "end") {
      this.finish();
      return;
    }
    if (d.kind === "position") {
      // A starting position acknowledged by the server: worth persisting.
      if (this.subs.get(d.name) === d.channel && d.channel.delivered === undefined) {
        d.channel.delivered = d.sequence;
        await this.call(this.options.onPosition, d.name, d.sequence);
      }
      return;
    }
    const name = d.event.channel;
    if (this.subs.get(name) !== d.channel) {
      return; // unsubscribed since
    }
    if (d.kind === "rehydrate") {
      if (d.silent) {
        d.channel.delivered = d.resume;
        await this.call(this.options.onPosition, name, d.resume);
        return;
      }
      await this.call(this.options.onRehydrate, name, d.resume);
      if (!(await this.handOut(d.event))) {
        return;
      }
      d.channel.delivered = d.resume;
      await this.call(this.options.onPosition, name, d.resume);
      return;
    }
    if (!(await this.handOut(d.event))) {
      return;
    }
    if (d.event.sequence > 0n && this.subs.get(name) === d.channel) {
      d.channel.delivered = d.event.sequence;
      await this.call(this.options.onPosition, name, d.event.sequence);
    }
  }

  /** Gives an event to `onEvent` and the iterators; false when the stream was closed meanwhile. */
  private async handOut(ev: Event): Promise<boolean> {
    while (!this.options.onEvent && this.iterators.size === 0) {
      if (this.ended) {
        return false; // stopped with nobody reading: do not hold `closed()` forever
      }
      await new Promise<void>((resolve) => this.consumerWaiters.push(resolve));
    }
    if (this.userClosed) {
      return false;
    }
    await this.call(this.options.onEvent, ev);
    await Promise.all([...this.iterators].map((it) => it.offer(ev)));
    return !this.userClosed;
  }

  /** Calls an application hook; its failure goes to `onError`. */
  private async call<A extends unknown[]>(fn: ((...args: A) => void | Promise<void>) | undefined, ...args: A): Promise<void> {
    if (!fn) {
      return;
    }
    try {
      await fn(...args);
    } catch (err) {
      this.report(err);
    }
  }

  // -------------------------------------------------------------------------
  // State, errors, the end

  private addChannel(c: ChannelSubscription): string | undefined {
    const name = typeof c === "string" ? c : c.channel;
    if (!name) {
      throw new TypeError("event stream: empty channel name");
    }
    if (this.subs.has(name)) {
      return undefined;
    }
    const last = typeof c === "string" ? undefined : toSequence(c.lastSequence);
    this.subs.set(name, { received: last, delivered: last, joined: false, probing: false, awaitingAck: false });
    return name;
  }

  private setState(state: EventStreamState, detail: EventStreamStateDetail): void {
    if (this.currentState === "closed") {
      return;
    }
    this.currentState = state;
    try {
      this.options.onStateChange?.(state, detail);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // A failing error hook must not break the stream.
    }
  }

  private closedError(): unknown {
    return this.terminalError ?? new EventStreamError("the event stream is closed", Code.Canceled);
  }

  /** Stops for good; `error` is the terminal error (none after `close()`). */
  private terminate(error: unknown): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.terminalError = error;
    this.stop.abort();
    this.conn?.end(1000, "closed by the client");
    for (const w of this.carried) w.reject(this.closedError());
    this.carried = [];
    if (error !== undefined) {
      this.report(error);
    }
    this.setState("closed", error === undefined ? {} : { error });
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(this.closedError());
    if (this.userClosed) {
      this.queue.length = 0;
      this.finish();
    } else {
      // Deliver what was received before the end, then finish.
      this.enqueue({ kind: "end" });
    }
    const consumers = this.consumerWaiters;
    this.consumerWaiters = [];
    for (const w of consumers) w();
  }

  /** Ends the iterators and settles `closed()`. */
  private finish(): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    for (const it of this.iterators) it.end(this.terminalError);
    this.iterators.clear();
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) {
      if (this.terminalError === undefined) w.resolve();
      else w.reject(this.terminalError);
    }
  }
}

function ignore(): void {}

/** Closes a socket; a Node `ws` socket is torn down at once (the peer may be gone). */
function dropSocket(ws: WebSocketLike, code: number | undefined): void {
  try {
    if (code === undefined && typeof (ws as { terminate?: unknown }).terminate === "function") {
      (ws as unknown as { terminate(): void }).terminate();
    } else {
      ws.close(1000);
    }
  } catch {
    // already closing
  }
}

/** One `for await` consumer of an {@link EventStream}. */
class EventIterator implements AsyncIterableIterator<Event> {
  private offered: { event: Event; taken: () => void } | undefined;
  private current: (() => void) | undefined;
  private waiting: { resolve: (r: IteratorResult<Event>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  private error: unknown;

  constructor(private readonly detach: (self: EventIterator) => void) {}

  /** Hands `event` to the consumer; resolves when it asks for the next one. */
  offer(event: Event): Promise<void> {
    if (this.done) {
      return Promise.resolve();
    }
    return new Promise((taken) => {
      const w = this.waiting;
      if (w) {
        this.waiting = undefined;
        this.current = taken;
        w.resolve({ value: event, done: false });
      } else {
        this.offered = { event, taken };
      }
    });
  }

  /** The stream ended: finish, or throw `error` once. */
  end(error: unknown): void {
    if (this.done) {
      return;
    }
    this.done = true;
    this.error = error;
    this.release();
    const w = this.waiting;
    this.waiting = undefined;
    if (w) {
      this.next().then(w.resolve, w.reject);
    }
  }

  next(): Promise<IteratorResult<Event>> {
    this.current?.();
    this.current = undefined;
    const o = this.offered;
    if (o) {
      this.offered = undefined;
      this.current = o.taken;
      return Promise.resolve({ value: o.event, done: false });
    }
    if (this.done) {
      const err = this.error;
      if (err !== undefined) {
        this.error = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Event>> {
    this.done = true;
    this.error = undefined;
    this.release();
    this.detach(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }

  private release(): void {
    this.current?.();
    this.current = undefined;
    this.offered?.taken();
    this.offered = undefined;
  }
}
