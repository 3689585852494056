/**
 * Browser / React Native entry point: a Connect transport over `fetch`, and a
 * one-call client factory. It imports no Node.js module.
 *
 * ```ts
 * import { createHiveSyncClient } from "@hivesync/sdk/web";
 * const hs = createHiveSyncClient({
 *   baseUrl: "https://api.hivesync.dev",
 *   tokenProvider: () => session.accessToken,
 * });
 * ```
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  createHiveSyncClientFromTransport,
  interceptorsFor,
  type HiveSyncClient,
  type HiveSyncClientOptions,
} from "./client.js";
import { EventStream, type EventStreamOptions } from "./event-stream.js";

/** Options of the fetch-based transport. */
export interface WebClientOptions extends HiveSyncClientOptions {
  /**
   * The fetch implementation to use (defaults to `globalThis.fetch`); pass a
   * wrapper to set options such as `credentials`.
   */
  fetch?: typeof globalThis.fetch;
}

/**
 * Creates a Connect-protocol transport over `fetch` (browsers, React Native,
 * Node ≥ 18) that sends the HiveSync headers on every call and uses GET for
 * side-effect-free methods unless `useHttpGet` is `false`. JSON by default.
 */
export function createWebTransport(options: WebClientOptions): Transport {
  return createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? false,
    useHttpGet: options.useHttpGet ?? true,
    defaultTimeoutMs: options.defaultTimeoutMs,
    fetch: options.fetch,
    interceptors: interceptorsFor(options),
  });
}

/** Creates every HiveSync service client over a {@link createWebTransport}. */
export function createHiveSyncClient(options: WebClientOptions): HiveSyncClient {
  return createHiveSyncClientFromTransport(createWebTransport(options));
}

/**
 * Creates an {@link EventStream} over the platform's `WebSocket` (browsers,
 * React Native) unless `options.WebSocket` names another implementation; it
 * starts connecting at once.
 */
export function createEventStream(options: EventStreamOptions): EventStream {
  return new EventStream(options);
}

export * from "./index.js";
