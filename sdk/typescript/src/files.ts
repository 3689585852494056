/**
 * Compare-and-set saves that never lose a save. A save names the version it
 * edited (`baseRevisionId`); when that is no longer the head the server writes
 * nothing and answers `aborted` with a `Conflict` detail. {@link saveFile}
 * makes that outcome a type, and retries transient failures (`unavailable`,
 * `deadline_exceeded`, a dropped connection) with one idempotency key, so a
 * save whose answer was lost converges on the version the server stored.
 *
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import type { HiveSyncClient } from "./client.js";
import { conflict as conflictDetail } from "./errors.js";
import type { Conflict } from "./gen/hivesync/v1/errors_pb.js";
import type { FileVersion, SaveFileRequestSchema } from "./gen/hivesync/v1/file_service_pb.js";

/** The outcome of {@link saveFile}. */
export type SaveResult =
  | {
      kind: "saved";
      /**
       * The stored version. When an earlier attempt of this save was stored
       * but its answer was lost, this is the version that attempt created.
       */
      version: FileVersion;
      /** How many SaveFile calls it took (1 when the first one answered). */
      attempts: number;
      /** The idempotency key every attempt carried. */
      idempotencyKey: string;
    }
  | {
      kind: "conflict";
      /**
       * The base was stale: nothing was written. Carries the server head
       * (`headRevisionId`, `headRevision`, `headContentSha256`), the client's
       * `clientContentSha256` and a `unifiedDiff` from the base to the head.
       * Merge, then save again with `baseRevisionId: conflict.headRevisionId`
       * (a new save: the helper picks a new key unless you pass one).
       */
      conflict: Conflict;
      attempts: number;
      idempotencyKey: string;
    };

/** Retry policy and per-call options of {@link saveFile}. */
export interface SaveFileOptions {
  /** Most SaveFile calls to make, first included (default 6; 1 disables retries). */
  maxAttempts?: number;
  /** Backoff base: the n-th retry waits a random time in [0, min(cap, base * 2^(n-1))] (default 200 ms). */
  baseDelayMs?: number;
  /** Backoff cap (default 5000 ms). */
  maxDelayMs?: number;
  /**
   * Total time budget for every attempt and wait, from the call (default: none).
   * Each attempt's timeout is cut to what is left; no retry starts after it.
   */
  deadlineMs?: number;
  /** Timeout of one attempt (default: the transport's `defaultTimeoutMs`). */
  attemptTimeoutMs?: number;
  /** Cancels the save: the current attempt and any backoff wait end at once. */
  signal?: AbortSignal;
  /** Extra request headers for every attempt. */
  headers?: HeadersInit;
  /** Called before each retry's wait, e.g. for logging. */
  onRetry?: (info: { attempt: number; delayMs: number; error: ConnectError }) => void;
  /** @internal Random source in [0, 1) for the jitter (tests). */
  random?: () => number;
}

/** Anything with a `saveFile` method like `HiveSyncClient["files"]`. */
type FilesClient = Pick<HiveSyncClient["files"], "saveFile">;

/** Node.js / fetch error codes of a connection that failed under a request. */
const TRANSPORT_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/**
 * Whether `err` is a transport failure: the connection broke under the call
 * (the request may or may not have reached the server) rather than the server
 * answering with an error. Connect for Node.js reports a reset connection as
 * `aborted` or `internal` with the socket error as `cause`; fetch reports a
 * `TypeError`. A server's answer never has such a cause.
 */
export function isTransportError(err: unknown): boolean {
  if (!(err instanceof ConnectError)) {
    return false;
  }
  if (conflictDetail(err)) {
    return false;
  }
  const seen = new Set<unknown>();
  let cause: unknown = err.cause;
  while (cause instanceof Error && !seen.has(cause)) {
    seen.add(cause);
    if (cause instanceof ConnectError) {
      return false;
    }
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && TRANSPORT_ERROR_CODES.has(code)) {
      return true;
    }
    if (cause.name === "TypeError" && /fetch|network|load failed/i.test(cause.message)) {
      return true; // fetch(): "fetch failed", "Failed to fetch", "NetworkError ...", "Load failed"
    }
    if (/socket hang up/i.test(cause.message)) {
      return true;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether a failed save may be retried with the same idempotency key:
 * `unavailable`, `deadline_exceeded` and transport failures. Never a
 * Conflict, `invalid_argument`, `permission_denied`, `not_found`,
 * `resource_exhausted`, `failed_precondition`, `unauthenticated` or `canceled`.
 */
export function isRetryableSaveError(err: unknown): boolean {
  if (!(err instanceof ConnectError)) {
    return false;
  }
  if (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded) {
    return !conflictDetail(err);
  }
  return isTransportError(err);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ConnectError("save canceled", Code.Canceled);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(ConnectError.from(abortReason(signal), Code.Canceled));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(abortReason(signal!), Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function newIdempotencyKey(): string {
  // globalThis.crypto.randomUUID: Node.js >= 19 and every current browser (secure contexts).
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.randomUUID) {
    return c.randomUUID();
  }
  const b = new Uint8Array(16);
  if (c?.getRandomValues) {
    c.getRandomValues(b);
  } else {
    for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Saves a file version, compare-and-set, without ever losing or doubling it.
 *
 * - Sends `request.idempotencyKey`, or a fresh UUID v4 when it is empty, on
 *   EVERY attempt, so a retry after a lost answer returns the version the
 *   first attempt stored (no second version, no Conflict against itself).
 * - Retries only transient failures ({@link isRetryableSaveError}):
 *   exponential backoff with full jitter (`baseDelayMs`, `maxDelayMs`), at
 *   most `maxAttempts` calls and within `deadlineMs`; `signal` cancels.
 * - Returns `{ kind: "saved", version, attempts }` or, for `aborted` with a
 *   Conflict detail, `{ kind: "conflict", conflict, attempts }` (never
 *   retried). Every other failure (`not_found`, `permission_denied`, a size
 *   limit, the last transient error, cancellation) is thrown as a `ConnectError`.
 *
 * ```ts
 * const r = await saveFile(hs, { fileId, baseRevisionId: base, content, deviceId });
 * if (r.kind === "saved") base = r.version.id;
 * else showMerge(r.conflict.unifiedDiff, r.conflict.headRevisionId);
 * ```
 */
export async function saveFile(
  client: HiveSyncClient | FilesClient,
  request: MessageInitShape<typeof SaveFileRequestSchema>,
  options: SaveFileOptions = {},
): Promise<SaveResult> {
  const files: FilesClient = "files" in client ? client.files : client;
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 6));
  const baseDelayMs = Math.max(0, options.baseDelayMs ?? 200);
  const maxDelayMs = Math.max(0, options.maxDelayMs ?? 5000);
  const random = options.random ?? Math.random;
  const deadline = options.deadlineMs !== undefined ? Date.now() + options.deadlineMs : undefined;
  const signal = options.signal;
  const idempotencyKey = request.idempotencyKey || newIdempotencyKey();
  const req = { ...request, idempotencyKey };

  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) {
      throw ConnectError.from(abortReason(signal), Code.Canceled);
    }
    const call: CallOptions = { signal, headers: options.headers };
    let timeoutMs = options.attemptTimeoutMs;
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new ConnectError(`save deadline passed before attempt ${attempt}`, Code.DeadlineExceeded);
      }
      timeoutMs = timeoutMs === undefined ? left : Math.min(timeoutMs, left);
    }
    if (timeoutMs !== undefined) {
      call.timeoutMs = Math.max(1, Math.ceil(timeoutMs));
    }
    try {
      const res = await files.saveFile(req, call);
      if (!res.version) {
        throw new ConnectError("SaveFile answered without a version", Code.Internal);
      }
      return { kind: "saved", version: res.version, attempts: attempt, idempotencyKey };
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.Aborted) {
        const c = conflictDetail(err);
        if (c) {
          return { kind: "conflict", conflict: c, attempts: attempt, idempotencyKey };
        }
      }
      if (signal?.aborted) {
        throw err;
      }
      if (!isRetryableSaveError(err) || attempt >= maxAttempts) {
        throw err;
      }
      const delayMs = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      if (deadline !== undefined && Date.now() + delayMs >= deadline) {
        throw err;
      }
      options.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, signal);
    }
  }
}
