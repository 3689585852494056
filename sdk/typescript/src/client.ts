/**
 * Transport-independent client plumbing: the plugin protocol version header,
 * the bearer-token hook, and the factory that turns a Connect transport into
 * typed HiveSync service clients.
 *
 * @module
 */
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type { AuthSession } from "./auth.js";
import { AuthService } from "./gen/hivesync/v1/auth_service_pb.js";
import { DeviceService } from "./gen/hivesync/v1/device_service_pb.js";
import { EntitlementService } from "./gen/hivesync/v1/entitlement_service_pb.js";
import { FileService } from "./gen/hivesync/v1/file_service_pb.js";
import { MetaService } from "./gen/hivesync/v1/meta_service_pb.js";
import { ProjectService } from "./gen/hivesync/v1/project_service_pb.js";

/**
 * The plugin protocol version of the contract this SDK was built from, i.e. the
 * version it actually speaks. It is sent as {@link PLUGIN_VERSION_HEADER}
 * (`X-HiveSync-Plugin-Version`) on every call unless a client overrides it with
 * {@link HiveSyncClientOptions.pluginProtocolVersion}. It rises only when the
 * contract changes in a way plugins must know about; a server whose minimum is
 * above it answers `failed_precondition` + `UpgradeRequired`.
 */
export const PLUGIN_PROTOCOL_VERSION = 1;

/** Name of the request header that carries the plugin protocol version. */
export const PLUGIN_VERSION_HEADER = "X-HiveSync-Plugin-Version";

/**
 * Returns the current access token, or `undefined`/`null`/`""` when the caller
 * is signed out (the request is then sent without `Authorization`). It is
 * called once per request, so it may refresh an expiring token first.
 */
export type TokenProvider = () =>
  | string
  | null
  | undefined
  | Promise<string | null | undefined>;

/** Options shared by every HiveSync client, whatever the transport. */
export interface HiveSyncClientOptions {
  /**
   * Base URL of the HiveSync API, e.g. `https://api.hivesync.dev`. Connect
   * calls go to `<baseUrl>/hivesync.v1.<Service>/<Method>`.
   */
  baseUrl: string;
  /** Supplies the bearer token sent as `Authorization: Bearer <token>`. */
  tokenProvider?: TokenProvider;
  /**
   * A signed-in {@link AuthSession}: every call then carries its access
   * token, refreshed ahead of expiry, and a unary call answered
   * `unauthenticated` is retried once after a refresh. Equivalent to
   * `tokenProvider: session.tokenProvider` plus `session.interceptor` (an
   * explicit `tokenProvider` still wins).
   */
  session?: AuthSession;
  /**
   * Plugin protocol version to announce; defaults to
   * {@link PLUGIN_PROTOCOL_VERSION}. Set to `null` to send no header at all.
   */
  pluginProtocolVersion?: number | null;
  /**
   * Use the binary protobuf encoding instead of JSON. Defaults to `true` for
   * the Node transport and `false` for the web transport.
   */
  useBinaryFormat?: boolean;
  /**
   * Send side-effect-free methods (`NO_SIDE_EFFECTS`, e.g. every MetaService
   * method) as cacheable HTTP GET requests. Defaults to `true`.
   */
  useHttpGet?: boolean;
  /** Default timeout for every call, in milliseconds. */
  defaultTimeoutMs?: number;
  /** Extra interceptors, run after the HiveSync header interceptor. */
  interceptors?: Interceptor[];
}

/**
 * Builds the interceptor that stamps every request with
 * `X-HiveSync-Plugin-Version` and, when a token provider yields a token,
 * `Authorization: Bearer <token>`. Headers already set on an individual call
 * (via `CallOptions.headers`) take precedence.
 */
export function hiveSyncInterceptor(
  options: Pick<HiveSyncClientOptions, "tokenProvider" | "pluginProtocolVersion">,
): Interceptor {
  const version =
    options.pluginProtocolVersion === undefined
      ? PLUGIN_PROTOCOL_VERSION
      : options.pluginProtocolVersion;
  const tokenProvider = options.tokenProvider;
  return (next) => async (req) => {
    if (version !== null && !req.header.has(PLUGIN_VERSION_HEADER)) {
      req.header.set(PLUGIN_VERSION_HEADER, String(version));
    }
    if (tokenProvider && !req.header.has("Authorization")) {
      const token = await tokenProvider();
      if (token) {
        req.header.set("Authorization", `Bearer ${token}`);
      }
    }
    return next(req);
  };
}

/** Typed clients for every HiveSync service, sharing one transport. */
export interface HiveSyncClient {
  /** Compatibility, bootstrap (discovery) config, server time, event schema. */
  readonly meta: Client<typeof MetaService>;
  /** The caller's account and sessions; the phone's approval of device sign-ins. */
  readonly auth: Client<typeof AuthService>;
  /** The caller's devices. */
  readonly devices: Client<typeof DeviceService>;
  /** The caller's tier and the feature matrix. */
  readonly entitlements: Client<typeof EntitlementService>;
  /** The caller's projects. */
  readonly projects: Client<typeof ProjectService>;
  /**
   * Project files and their versions. Saves are compare-and-set: a stale
   * `baseRevisionId` fails with code `aborted` and a typed `Conflict` detail
   * (read it with `conflict(err)`); nothing is overwritten.
   */
  readonly files: Client<typeof FileService>;
  /** The transport the clients use, for creating clients of further services. */
  readonly transport: Transport;
}

/**
 * Creates the typed service clients on top of an existing transport. Most
 * callers use `createHiveSyncClient` from `@hivesync/sdk/node` or
 * `@hivesync/sdk/web`, which build the transport (with
 * {@link hiveSyncInterceptor}) for them.
 */
export function createHiveSyncClientFromTransport(transport: Transport): HiveSyncClient {
  return {
    meta: createClient(MetaService, transport),
    auth: createClient(AuthService, transport),
    devices: createClient(DeviceService, transport),
    entitlements: createClient(EntitlementService, transport),
    projects: createClient(ProjectService, transport),
    files: createClient(FileService, transport),
    transport,
  };
}

/** @internal Interceptor list for a transport built from client options. */
export function interceptorsFor(options: HiveSyncClientOptions): Interceptor[] {
  const session = options.session;
  if (!session) {
    return [hiveSyncInterceptor(options), ...(options.interceptors ?? [])];
  }
  return [
    hiveSyncInterceptor({ ...options, tokenProvider: options.tokenProvider ?? session.tokenProvider }),
    session.interceptor,
    ...(options.interceptors ?? []),
  ];
}
