/**
 * Node.js entry point: a Connect transport over Node's `http`/`https`/`http2`
 * modules, a one-call client factory, and the event stream over the `ws`
 * package.
 *
 * ```ts
 * import { createHiveSyncClient } from "@hivesync/sdk/node";
 * const hs = createHiveSyncClient({ baseUrl: "http://127.0.0.1:8080" });
 * const compat = await hs.meta.getCompatibility({ clientVersion: 42 });
 * const stream = createEventStream({ baseUrl: "http://127.0.0.1:8080", session, onEvent });
 * ```
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { WebSocket as NodeWebSocket } from "ws";
import {
  createHiveSyncClientFromTransport,
  interceptorsFor,
  type HiveSyncClient,
  type HiveSyncClientOptions,
} from "./client.js";
import { EventStream, type EventStreamOptions, type WebSocketConstructor } from "./event-stream.js";

/** Options of the Node.js transport. */
export interface NodeClientOptions extends HiveSyncClientOptions {
  /** HTTP version; defaults to `"1.1"` (works through every proxy). */
  httpVersion?: "1.1" | "2";
}

/**
 * Creates a Connect-protocol transport for Node.js that sends the HiveSync
 * headers (plugin protocol version, bearer token) on every call and uses GET
 * for side-effect-free methods unless `useHttpGet` is `false`.
 */
export function createNodeTransport(options: NodeClientOptions): Transport {
  return createConnectTransport({
    baseUrl: options.baseUrl,
    httpVersion: options.httpVersion ?? "1.1",
    useBinaryFormat: options.useBinaryFormat ?? true,
    useHttpGet: options.useHttpGet ?? true,
    defaultTimeoutMs: options.defaultTimeoutMs,
    interceptors: interceptorsFor(options),
  });
}

/** Creates every HiveSync service client over a {@link createNodeTransport}. */
export function createHiveSyncClient(options: NodeClientOptions): HiveSyncClient {
  return createHiveSyncClientFromTransport(createNodeTransport(options));
}

/**
 * Creates an {@link EventStream} (it starts connecting at once). Node.js 20
 * has no global `WebSocket`, so the stream uses the `ws` package unless
 * `options.WebSocket` names another implementation.
 */
export function createEventStream(options: EventStreamOptions): EventStream {
  const WebSocket: WebSocketConstructor = options.WebSocket ?? NodeWebSocket;
  return new EventStream({ ...options, WebSocket });
}

export { FileTokenStore } from "./file-token-store.js";
export * from "./index.js";
