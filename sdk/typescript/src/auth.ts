/**
 * Signing in and staying signed in: the OAuth 2.1 device flow (RFC 8628) for
 * desktop, plugins and the CLI, an {@link AuthSession} that keeps the access
 * and refresh tokens in a pluggable {@link TokenStore} and hands every RPC a
 * fresh access token, sign-out (RFC 7009 revocation), and the phone's side of
 * the device flow ({@link approveDeviceLogin}).
 *
 * Everything here uses only `fetch`, `AbortSignal` and timers, so it works in
 * Node.js, browsers and React Native alike.
 *
 * @module
 */
import type { Client, Interceptor } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TokenProvider } from "./client.js";
import type {
  AuthService,
  DescribeDeviceCodeResponse,
} from "./gen/hivesync/v1/auth_service_pb.js";

// ---------------------------------------------------------------------------
// Tokens and their storage

/**
 * A session's tokens as kept in a {@link TokenStore}. Plain JSON: a store may
 * persist it with `JSON.stringify` and read it back with `JSON.parse`.
 */
export interface TokenSet {
  /** Short-lived bearer token (an ES256 JWT) sent on every RPC. */
  accessToken: string;
  /** Renews the session. It rotates: each refresh token works exactly once. */
  refreshToken: string;
  /** Always `"Bearer"`. */
  tokenType: string;
  /**
   * When the access token expires, in milliseconds since the epoch, by the
   * client's clock (counted from when the token request was sent).
   */
  expiresAt: number;
  /** The granted scopes, e.g. `["plugin", "read", "write", "live"]`. */
  scopes: string[];
}

/**
 * Where an {@link AuthSession} keeps its tokens. The in-memory
 * {@link MemoryTokenStore} is the default; a VS Code extension implements it
 * over `SecretStorage`, a JetBrains plugin over `PasswordSafe`, a CLI over a
 * file (`FileTokenStore` from `@hivesync/sdk/node`). Each method may be
 * synchronous or return a promise.
 *
 * The session reads the store before every call rather than caching it, so a
 * store shared by several windows or processes stays the single source of
 * truth (a refresh done by one is picked up by the others).
 */
export interface TokenStore {
  /** The stored tokens, or `undefined`/`null` when signed out. */
  load(): TokenSet | undefined | null | Promise<TokenSet | undefined | null>;
  /** Replaces the stored tokens (after a sign-in or a refresh). */
  save(tokens: TokenSet): void | Promise<void>;
  /** Forgets the tokens (sign-out, or the session ended on the server). */
  clear(): void | Promise<void>;
}

/** A {@link TokenStore} that keeps the tokens in memory only. */
export class MemoryTokenStore implements TokenStore {
  private tokens: TokenSet | undefined;

  constructor(initial?: TokenSet) {
    this.tokens = initial ? copyTokens(initial) : undefined;
  }

  load(): TokenSet | undefined {
    return this.tokens ? copyTokens(this.tokens) : undefined;
  }

  save(tokens: TokenSet): void {
    this.tokens = copyTokens(tokens);
  }

  clear(): void {
    this.tokens = undefined;
  }
}

function copyTokens(t: TokenSet): TokenSet {
  return { ...t, scopes: [...t.scopes] };
}

// ---------------------------------------------------------------------------
// Errors

/**
 * An OAuth error response (RFC 6749 §5.2) from the token, device
 * authorization or revocation endpoint, e.g. `invalid_grant`, `invalid_client`,
 * `invalid_scope`; or a response that was not a valid OAuth answer
 * (`error` = `"invalid_response"`).
 */
export class OAuthError extends Error {
  override name = "OAuthError";
  /** The RFC 6749 error code, e.g. `"invalid_grant"`. */
  readonly error: string;
  /** The server's `error_description`, when it sent one. */
  readonly errorDescription: string | undefined;
  /** HTTP status of the response (0 when there was none). */
  readonly status: number;

  constructor(error: string, errorDescription?: string, status = 0, options?: { cause?: unknown }) {
    super(errorDescription ? `${error}: ${errorDescription}` : error, options);
    this.error = error;
    this.errorDescription = errorDescription;
    this.status = status;
  }
}

/** The user refused the sign-in on the phone (device flow `access_denied`). */
export class AccessDeniedError extends OAuthError {
  override name = "AccessDeniedError";
}

/**
 * The device code expired before the user approved it (device flow
 * `expired_token`): start a new login.
 */
export class DeviceCodeExpiredError extends OAuthError {
  override name = "DeviceCodeExpiredError";
}

/**
 * Why an {@link AuthSession} has no usable session:
 * - `"not_signed_in"`: the store holds no tokens;
 * - `"session_ended"`: the server refused the refresh token (`invalid_grant`:
 *   the session was revoked, the refresh token expired or was reused), so the
 *   store was cleared;
 * - `"signed_out"`: {@link AuthSession.signOut} was called.
 */
export type SignedOutReason = "not_signed_in" | "session_ended" | "signed_out";

const SIGNED_OUT_BRAND = Symbol.for("@hivesync/sdk.SignedOutError");

/**
 * The user must sign in again. It is a `ConnectError` with code
 * `unauthenticated` (so RPC error handling that only knows Connect still
 * works, and Connect passes it through unchanged), and additionally carries
 * the {@link SignedOutReason}. Test with `err instanceof SignedOutError` or
 * {@link isSignedOut}; its `name` stays `"ConnectError"` because that is how
 * Connect recognises its own errors.
 */
export class SignedOutError extends ConnectError {
  /** Why there is no session. */
  readonly reason: SignedOutReason;

  constructor(reason: SignedOutReason, message?: string, cause?: unknown) {
    super(message ?? defaultSignedOutMessage[reason], Code.Unauthenticated, undefined, undefined, cause);
    this.reason = reason;
    Object.defineProperty(this, SIGNED_OUT_BRAND, { value: true });
  }

  /**
   * `ConnectError` answers `instanceof` for any ConnectError, and subclasses
   * inherit that; this narrows it back to signed-out errors (also from
   * another copy of the SDK).
   */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[SIGNED_OUT_BRAND] === true;
  }
}

const defaultSignedOutMessage: Record<SignedOutReason, string> = {
  not_signed_in: "not signed in",
  session_ended: "the session has ended (revoked, expired or refresh token reused); sign in again",
  signed_out: "signed out",
};

/** Whether `err` is a {@link SignedOutError}: the user must sign in again. */
export function isSignedOut(err: unknown): err is SignedOutError {
  return err instanceof SignedOutError;
}

// ---------------------------------------------------------------------------
// OAuth endpoints

/** The RFC 8414 authorization server metadata (fields as on the wire). */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
  authorization_endpoint?: string;
  jwks_uri?: string;
  grant_types_supported?: string[];
  scopes_supported?: string[];
  [field: string]: unknown;
}

/** Path of the RFC 8414 metadata document. */
export const AUTHORIZATION_SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server";

/** The OAuth endpoints the SDK uses (absolute URLs). */
export interface OAuthEndpoints {
  tokenEndpoint: string;
  deviceAuthorizationEndpoint: string;
  revocationEndpoint: string;
}

/** Options for talking to the HiveSync OAuth endpoints. */
export interface OAuthClientOptions {
  /** Base URL of the HiveSync server, the same as for the RPC client. */
  baseUrl: string;
  /**
   * The registered client id: `desktop`, `vscode`, `jetbrains`, `sublime`,
   * `neovim`, `cli` or `admin`.
   */
  clientId: string;
  /** The fetch implementation (defaults to `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  /**
   * Endpoints to use instead of discovering them from the server's RFC 8414
   * metadata (`/.well-known/oauth-authorization-server`, read once and
   * cached). Give all three to make no metadata request at all.
   */
  endpoints?: Partial<OAuthEndpoints>;
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, "");
}

/**
 * Reads the server's RFC 8414 metadata document. Throws an
 * {@link OAuthError} (`invalid_response`) when it is not a valid document.
 */
export async function fetchAuthorizationServerMetadata(
  baseUrl: string,
  options: { fetch?: typeof globalThis.fetch; signal?: AbortSignal } = {},
): Promise<AuthorizationServerMetadata> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const res = await doFetch(trimSlash(baseUrl) + AUTHORIZATION_SERVER_METADATA_PATH, {
    headers: { Accept: "application/json" },
    signal: options.signal,
  });
  const body = await readJson(res);
  if (!res.ok || !isRecord(body) || typeof body["issuer"] !== "string" || typeof body["token_endpoint"] !== "string") {
    throw new OAuthError("invalid_response", `authorization server metadata: HTTP ${res.status}`, res.status);
  }
  return body as AuthorizationServerMetadata;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The device authorization response, as handed to the login prompt. */
export interface DeviceLoginPrompt {
  /** The code the user enters (or checks) on the phone, e.g. `"BCDF-GHJK"`. */
  userCode: string;
  /** Where the user can go to enter the code. */
  verificationUri: string;
  /** {@link verificationUri} with the code filled in (e.g. for a QR code). */
  verificationUriComplete: string | undefined;
  /** Seconds until the code expires. */
  expiresIn: number;
  /** When the code expires, in milliseconds since the epoch. */
  expiresAt: number;
  /** Seconds between polls, as the server asked. */
  interval: number;
}

/** Options of {@link deviceLogin}. */
export interface DeviceLoginOptions {
  /** Scopes to ask for; the client's default scopes when left out. */
  scopes?: readonly string[];
  /**
   * Called once the server has issued the codes, before polling starts: show
   * the user code and/or a QR code of `verificationUriComplete`. Polling does
   * not wait for a returned promise, but if it rejects, the login stops with
   * that error.
   */
  onPrompt: (prompt: DeviceLoginPrompt) => void | Promise<void>;
  /** Cancels the login; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Talks to the OAuth endpoints for one client id. */
class OAuthHttp {
  readonly clientId: string;
  private readonly baseUrl: string;
  private readonly doFetch: typeof globalThis.fetch;
  private readonly override: Partial<OAuthEndpoints>;
  private discovered: Promise<OAuthEndpoints> | undefined;

  constructor(opts: OAuthClientOptions) {
    this.baseUrl = trimSlash(opts.baseUrl);
    this.clientId = opts.clientId;
    this.doFetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.override = opts.endpoints ?? {};
  }

  endpoints(signal?: AbortSignal): Promise<OAuthEndpoints> {
    const o = this.override;
    if (o.tokenEndpoint && o.deviceAuthorizationEndpoint && o.revocationEndpoint) {
      return Promise.resolve(o as OAuthEndpoints);
    }
    const p = (this.discovered ??= fetchAuthorizationServerMetadata(this.baseUrl, { fetch: this.doFetch, signal }).then(
      (md) => ({
        tokenEndpoint: o.tokenEndpoint ?? md.token_endpoint,
        deviceAuthorizationEndpoint:
          o.deviceAuthorizationEndpoint ?? md.device_authorization_endpoint ?? `${this.baseUrl}/oauth2/device_authorization`,
        revocationEndpoint: o.revocationEndpoint ?? md.revocation_endpoint ?? `${this.baseUrl}/oauth2/revoke`,
      }),
    ));
    // A failed discovery is not cached: the next call tries again.
    p.catch(() => {
      if (this.discovered === p) this.discovered = undefined;
    });
    return p;
  }

  /** POSTs a form; returns the parsed JSON body of a 2xx answer or throws an OAuthError. */
  async post(url: string, form: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
    const res = await this.doFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ ...form, client_id: this.clientId }).toString(),
      signal,
    });
    const body = await readJson(res);
    if (res.ok) {
      return body;
    }
    if (isRecord(body) && typeof body["error"] === "string") {
      const desc = typeof body["error_description"] === "string" ? body["error_description"] : undefined;
      throw new OAuthError(body["error"], desc, res.status);
    }
    throw new OAuthError("invalid_response", `HTTP ${res.status} from ${url}`, res.status);
  }

  /** Exchanges a grant at the token endpoint. */
  async token(form: Record<string, string>, signal?: AbortSignal): Promise<TokenSet> {
    const { tokenEndpoint } = await this.endpoints(signal);
    const sentAt = Date.now();
    const body = await this.post(tokenEndpoint, form, signal);
    return parseTokenResponse(body, sentAt);
  }
}

function parseTokenResponse(body: unknown, sentAt: number): TokenSet {
  if (
    !isRecord(body) ||
    typeof body["access_token"] !== "string" ||
    typeof body["refresh_token"] !== "string" ||
    typeof body["expires_in"] !== "number" ||
    (typeof body["token_type"] === "string" && body["token_type"].toLowerCase() !== "bearer")
  ) {
    throw new OAuthError("invalid_response", "the token response lacks access_token, refresh_token or expires_in");
  }
  const scope = typeof body["scope"] === "string" ? body["scope"] : "";
  return {
    accessToken: body["access_token"],
    refreshToken: body["refresh_token"],
    tokenType: "Bearer",
    expiresAt: sentAt + body["expires_in"] * 1000,
    scopes: scope.split(" ").filter((s) => s.length > 0),
  };
}

/** Waits `ms`, or rejects with the signal's reason when it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A transport failure or a 5xx: worth polling again, more slowly. */
function isTransient(err: unknown): boolean {
  if (err instanceof OAuthError) {
    return err.status >= 500 || err.error === "server_error" || err.error === "temporarily_unavailable";
  }
  return err instanceof TypeError; // fetch's network error
}

/**
 * Runs the OAuth device authorization grant (RFC 8628) and returns the new
 * tokens. It asks the server for a device code and a user code, hands them to
 * `onPrompt` so the user can approve the sign-in on the phone, then polls the
 * token endpoint at the server's interval, adding 5 s on every `slow_down`
 * (and backing off on network errors).
 *
 * Rejects with {@link AccessDeniedError} when the user refuses,
 * {@link DeviceCodeExpiredError} when the code lapses, the signal's reason
 * when cancelled, or an {@link OAuthError} for any other OAuth error.
 *
 * Most callers use {@link AuthSession.deviceLogin}, which also stores the
 * tokens.
 */
export async function deviceLogin(options: OAuthClientOptions & DeviceLoginOptions): Promise<TokenSet> {
  return runDeviceLogin(new OAuthHttp(options), options);
}

async function runDeviceLogin(http: OAuthHttp, options: DeviceLoginOptions): Promise<TokenSet> {
  const { signal } = options;
  signal?.throwIfAborted();
  const { deviceAuthorizationEndpoint } = await http.endpoints(signal);
  const form: Record<string, string> = {};
  if (options.scopes && options.scopes.length > 0) {
    form["scope"] = options.scopes.join(" ");
  }
  const startedAt = Date.now();
  const body = await http.post(deviceAuthorizationEndpoint, form, signal);
  if (
    !isRecord(body) ||
    typeof body["device_code"] !== "string" ||
    typeof body["user_code"] !== "string" ||
    typeof body["verification_uri"] !== "string" ||
    typeof body["expires_in"] !== "number"
  ) {
    throw new OAuthError("invalid_response", "the device authorization response lacks device_code, user_code, verification_uri or expires_in");
  }
  const deviceCode = body["device_code"];
  const expiresIn = body["expires_in"];
  let interval = typeof body["interval"] === "number" && body["interval"] > 0 ? body["interval"] : 5; // RFC 8628 §3.2 default
  const prompt: DeviceLoginPrompt = {
    userCode: body["user_code"],
    verificationUri: body["verification_uri"],
    verificationUriComplete:
      typeof body["verification_uri_complete"] === "string" ? body["verification_uri_complete"] : undefined,
    expiresIn,
    expiresAt: startedAt + expiresIn * 1000,
    interval,
  };

  // The prompt runs alongside polling; its failure (or the caller's signal)
  // stops the poll loop.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      const r = options.onPrompt(prompt);
      if (r && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, (err: unknown) => stop.abort(err));
      }
    } catch (err) {
      stop.abort(err);
    }
    let wait = interval * 1000;
    for (;;) {
      if (Date.now() + wait > prompt.expiresAt) {
        throw new DeviceCodeExpiredError("expired_token", "the device code expired before the sign-in was approved");
      }
      await sleep(wait, stop.signal);
      try {
        return await http.token(
          { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: deviceCode },
          stop.signal,
        );
      } catch (err) {
        if (stop.signal.aborted) {
          throw stop.signal.reason;
        }
        if (err instanceof OAuthError) {
          switch (err.error) {
            case "authorization_pending":
              wait = interval * 1000;
              continue;
            case "slow_down":
              interval += 5;
              wait = interval * 1000;
              continue;
            case "access_denied":
              throw new AccessDeniedError(err.error, err.errorDescription, err.status);
            case "expired_token":
              throw new DeviceCodeExpiredError(err.error, err.errorDescription, err.status);
          }
        }
        if (!isTransient(err)) {
          throw err;
        }
        // Network trouble or a 5xx: keep polling, backing off (RFC 8628 §3.5).
        wait = Math.min(Math.max(wait * 2, interval * 1000), 60_000);
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

// ---------------------------------------------------------------------------
// The session

/** Options of an {@link AuthSession}. */
export interface AuthSessionOptions extends OAuthClientOptions {
  /** Where the tokens live; a new {@link MemoryTokenStore} by default. */
  store?: TokenStore;
  /**
   * Refresh the access token when it expires within this many milliseconds
   * (covers clock skew and request latency). Default 60 000.
   */
  refreshMarginMs?: number;
  /** Called when the session ends; same as {@link AuthSession.onSignedOut}. */
  onSignedOut?: (err: SignedOutError) => void;
  /** The clock, in milliseconds since the epoch (for tests). */
  now?: () => number;
}

/** How many recently handed-out access tokens the session recognises. */
const RECENT_TOKENS = 16;

/**
 * Keeps one client's session: signs in with the device flow, stores the
 * tokens in a {@link TokenStore}, and gives every RPC a fresh access token.
 *
 * ```ts
 * const session = new AuthSession({ baseUrl, clientId: "vscode", store: secretStorageStore });
 * const hs = createHiveSyncClient({ baseUrl, session });
 * session.onSignedOut(() => showSignInButton());
 * if (!(await session.isSignedIn())) {
 *   await session.deviceLogin({ onPrompt: (p) => showCode(p.userCode, p.verificationUriComplete) });
 * }
 * const me = await hs.auth.getCurrentUser({});
 * ```
 *
 * - Before a call, an access token that expires within `refreshMarginMs` is
 *   refreshed first. Refreshes are single-flight: concurrent calls share one
 *   refresh request, and the rotated refresh token is saved to the store.
 * - If a unary call still answers `unauthenticated`, the session refreshes
 *   once and retries that call once.
 * - When the server refuses the refresh token (`invalid_grant`: revoked,
 *   reused or expired session), the store is cleared, `onSignedOut`
 *   listeners run, and the call fails with {@link SignedOutError}
 *   (`reason: "session_ended"`). Calls made while signed out go out without
 *   a token; those that need one fail with `SignedOutError`
 *   (`reason: "not_signed_in"`).
 */
export class AuthSession {
  /** The client id this session signs in as. */
  readonly clientId: string;
  /** The token store. */
  readonly store: TokenStore;
  private readonly http: OAuthHttp;
  private readonly margin: number;
  private readonly now: () => number;
  private readonly listeners = new Set<(err: SignedOutError) => void>();
  private inflight: Promise<TokenSet> | undefined;
  /** Bumped whenever the stored session is replaced or cleared by this object. */
  private generation = 0;
  private readonly recent: string[] = [];

  constructor(options: AuthSessionOptions) {
    this.http = new OAuthHttp(options);
    this.clientId = options.clientId;
    this.store = options.store ?? new MemoryTokenStore();
    this.margin = options.refreshMarginMs ?? 60_000;
    this.now = options.now ?? Date.now;
    if (options.onSignedOut) {
      this.listeners.add(options.onSignedOut);
    }
  }

  /**
   * Registers a listener for the end of the session (the server refused the
   * refresh token, or {@link signOut}); returns a function that removes it.
   */
  onSignedOut(listener: (err: SignedOutError) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the store holds tokens (it does not ask the server). */
  async isSignedIn(): Promise<boolean> {
    return (await this.store.load()) != null;
  }

  /** The stored tokens, or `undefined` when signed out. */
  async tokens(): Promise<TokenSet | undefined> {
    return (await this.store.load()) ?? undefined;
  }

  /**
   * Signs in with the device flow ({@link deviceLogin}) and saves the tokens
   * in the store, replacing any previous session.
   */
  async deviceLogin(options: DeviceLoginOptions): Promise<TokenSet> {
    const tokens = await runDeviceLogin(this.http, options);
    await this.setTokens(tokens);
    return tokens;
  }

  /** Stores tokens obtained elsewhere (e.g. the browser flow). */
  async setTokens(tokens: TokenSet): Promise<void> {
    this.generation++;
    await this.store.save(tokens);
  }

  /**
   * A valid access token, refreshed first when it expires within the margin;
   * `undefined` when signed out. Rejects with {@link SignedOutError} when the
   * server ended the session. If a refresh fails for another reason (e.g. the
   * network) while the current token has not expired yet, that token is
   * returned.
   */
  async accessToken(): Promise<string | undefined> {
    const t = await this.store.load();
    if (!t) {
      return undefined;
    }
    if (t.expiresAt - this.now() > this.margin) {
      return this.handOut(t.accessToken);
    }
    try {
      return this.handOut((await this.refresh()).accessToken);
    } catch (err) {
      if (!isSignedOut(err) && t.expiresAt > this.now()) {
        return this.handOut(t.accessToken);
      }
      throw err;
    }
  }

  /**
   * The session's {@link TokenProvider}, for the `tokenProvider` option of a
   * HiveSync client. (`createHiveSyncClient({ session })` sets it, together
   * with {@link interceptor}.) A refresh that fails for a reason other
   * than the end of the session surfaces as a `ConnectError` with code
   * `unavailable` whose `cause` is the original error.
   */
  readonly tokenProvider: TokenProvider = () =>
    this.accessToken().catch((err: unknown) => {
      if (err instanceof ConnectError) {
        throw err;
      }
      throw new ConnectError(`token refresh failed: ${String(err)}`, Code.Unavailable, undefined, undefined, err);
    });

  /**
   * Refreshes the tokens now unless the stored access token is still fresh
   * (or `force`), single-flight, and saves the rotated pair. With
   * `rejectedToken` (an access token the server refused, e.g. on the event
   * stream), the stored token counts as fresh only when it is another one,
   * i.e. someone already refreshed it. Rejects with {@link SignedOutError}
   * when there is no session or the server ended it.
   */
  refresh(options: { force?: boolean; rejectedToken?: string } = {}): Promise<TokenSet> {
    return this.singleFlight(options.force ? "*" : options.rejectedToken);
  }

  /**
   * Signs out: revokes the session on the server (RFC 7009, which ends the
   * refresh token and every access token of the session), then clears the
   * store and notifies the `onSignedOut` listeners
   * (`reason: "signed_out"`). The store is cleared even if the revocation
   * request fails; that error is then rethrown.
   */
  async signOut(options: { signal?: AbortSignal } = {}): Promise<void> {
    // Let a refresh in flight land first, so it cannot store tokens after the clear.
    await this.inflight?.catch(() => undefined);
    const t = await this.store.load();
    this.generation++;
    try {
      if (t) {
        const { revocationEndpoint } = await this.http.endpoints(options.signal);
        await this.http.post(revocationEndpoint, { token: t.refreshToken, token_type_hint: "refresh_token" }, options.signal);
      }
    } finally {
      await this.store.clear();
      if (t) {
        this.emit(new SignedOutError("signed_out"));
      }
    }
  }

  /**
   * The Connect interceptor that retries a unary call once, with a refreshed
   * token, when it answers `unauthenticated` although it carried a token of
   * this session; and that turns `unauthenticated` into
   * {@link SignedOutError} when the session is gone. Place it after the
   * interceptor that sets `Authorization` (`createHiveSyncClient({ session })`
   * does).
   */
  readonly interceptor: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code !== Code.Unauthenticated || isSignedOut(err)) {
        throw err;
      }
      const sent = bearerToken(req.header.get("Authorization"));
      if (sent !== undefined && !this.recent.includes(sent)) {
        throw err; // a token the caller set itself: not ours to renew
      }
      let fresh: string;
      try {
        fresh = (await this.singleFlight(sent ?? "")).accessToken;
      } catch (refreshErr) {
        if (refreshErr instanceof ConnectError) {
          throw refreshErr;
        }
        throw new ConnectError(`token refresh failed: ${String(refreshErr)}`, Code.Unavailable, undefined, undefined, refreshErr);
      }
      if (req.stream) {
        throw err; // a streaming request cannot be replayed; the next call uses the new token
      }
      req.header.set("Authorization", `Bearer ${this.handOut(fresh)}`);
      return await next(req);
    }
  };

  private handOut(token: string): string {
    if (!this.recent.includes(token)) {
      this.recent.push(token);
      if (this.recent.length > RECENT_TOKENS) {
        this.recent.shift();
      }
    }
    return token;
  }

  private emit(err: SignedOutError): void {
    for (const l of [...this.listeners]) {
      try {
        l(err);
      } catch {
        // A listener's failure must not break the caller's request.
      }
    }
  }

  /**
   * Refreshes unless the store already holds a fresh token other than
   * `rejected` ("*" forces; "" means the call went out without a token).
   */
  private singleFlight(rejected: string | undefined): Promise<TokenSet> {
    const p = (this.inflight ??= this.doRefresh(rejected).finally(() => {
      if (this.inflight === p) this.inflight = undefined;
    }));
    return p;
  }

  private async doRefresh(rejected: string | undefined): Promise<TokenSet> {
    const generation = this.generation;
    const t = await this.store.load();
    if (!t) {
      throw new SignedOutError("not_signed_in");
    }
    const fresh = t.expiresAt - this.now() > this.margin;
    if (fresh && rejected !== "*" && t.accessToken !== rejected) {
      return t; // another call (or process) refreshed already, or login completed meanwhile
    }
    let next: TokenSet;
    try {
      next = await this.http.token({ grant_type: "refresh_token", refresh_token: t.refreshToken });
    } catch (err) {
      if (err instanceof OAuthError && err.error === "invalid_grant") {
        // Another process may have rotated the token in the meantime.
        const now = await this.store.load();
        if (now && now.refreshToken !== t.refreshToken) {
          return now;
        }
        if (generation === this.generation) {
          this.generation++;
          await this.store.clear();
          const out = new SignedOutError("session_ended", undefined, err);
          this.emit(out);
          throw out;
        }
        throw new SignedOutError("session_ended", undefined, err);
      }
      throw err;
    }
    if (generation !== this.generation) {
      // Signed out or signed in again while the refresh ran: keep the store as it is.
      const now = await this.store.load();
      if (!now) {
        throw new SignedOutError("signed_out");
      }
      return now;
    }
    await this.store.save(next);
    return next;
  }
}

function bearerToken(header: string | null): string | undefined {
  if (!header) {
    return undefined;
  }
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------
// The phone's side

/** What {@link approveDeviceLogin} decided, and about which sign-in. */
export interface DeviceLoginDecision {
  /** The client id that was approved or denied, e.g. `"vscode"`. */
  clientId: string;
  /** What the sign-in asked for, when `describe` was requested. */
  request: DescribeDeviceCodeResponse | undefined;
}

/**
 * The phone's side of the device flow: approves (or, with
 * `approve: false`, denies) the pending sign-in shown as `userCode`, through
 * `AuthService.ApproveDeviceCode`. `auth` is an AuthService client
 * authenticated as the user's mobile session (client `mobile`, scope `user`);
 * with `describe: true` it first calls `DescribeDeviceCode` and returns what
 * the sign-in asked for (and `confirm` may still refuse it by returning
 * `false`). Unknown, expired or already decided codes fail with `not_found`.
 */
export async function approveDeviceLogin(
  auth: Client<typeof AuthService> | { auth: Client<typeof AuthService> },
  userCode: string,
  options: {
    approve?: boolean;
    describe?: boolean;
    confirm?: (request: DescribeDeviceCodeResponse) => boolean | Promise<boolean>;
    signal?: AbortSignal;
  } = {},
): Promise<DeviceLoginDecision> {
  const client = "auth" in auth ? auth.auth : auth;
  let request: DescribeDeviceCodeResponse | undefined;
  let approve = options.approve ?? true;
  if (options.describe || options.confirm) {
    request = await client.describeDeviceCode({ userCode }, { signal: options.signal });
    if (approve && options.confirm) {
      approve = await options.confirm(request);
    }
  }
  const res = await client.approveDeviceCode({ userCode, approve }, { signal: options.signal });
  return { clientId: res.clientId, request };
}
