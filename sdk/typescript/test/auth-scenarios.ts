/**
 * Sign-in scenarios against the live server: the device flow approved from a
 * "phone" (a mobile session minted with `hivesyncd token create`), the
 * token manager's proactive / retry refresh, single-flight refresh, denial,
 * cancellation, slow_down, sign-out and refresh-token reuse.
 *
 * Registered by smoke.test.ts so that they share its one server.
 */
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import {
  AccessDeniedError,
  AuthSession,
  ClientType,
  Code,
  ConnectError,
  FileTokenStore,
  MemoryTokenStore,
  OAuthError,
  SignInKind,
  SignedOutError,
  approveDeviceLogin,
  createHiveSyncClient,
  deviceLogin,
  errorCode,
  fetchAuthorizationServerMetadata,
  isSignedOut,
  type DeviceLoginPrompt,
  type HiveSyncClient,
  type TokenStore,
} from "@hivesync/sdk/node";
import { createHiveSyncClient as createWebClient } from "@hivesync/sdk/web";
import { CURRENT_PLUGIN_PROTOCOL_VERSION as CURRENT, DEVICE_POLL_INTERVAL_S, type LiveServer } from "./server.js";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** One OAuth request seen by the counting fetch. */
interface OAuthCall {
  path: string;
  grantType: string | null;
  at: number;
}

/** A fetch that records every OAuth endpoint request (path + grant_type). */
function countingFetch(calls: OAuthCall[], wrap?: typeof fetch): typeof fetch {
  const inner = wrap ?? fetch;
  return async (input, init) => {
    const url = new URL(String(input));
    const form = typeof init?.body === "string" ? new URLSearchParams(init.body) : undefined;
    calls.push({ path: url.pathname, grantType: form?.get("grant_type") ?? null, at: Date.now() });
    return inner(input, init);
  };
}

function refreshCount(calls: OAuthCall[]): number {
  return calls.filter((c) => c.grantType === "refresh_token").length;
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

function uniqueEmail(tag: string): string {
  return `ts-${tag}-${randomUUID()}@example.com`;
}

export function authScenarios(live: () => LiveServer): void {
  /** The phone: an RPC client with a fresh mobile session of `email`. */
  async function phone(email: string): Promise<HiveSyncClient> {
    const t = await live().tokenCreate(email, "mobile");
    assert.match(t.scope, /\buser\b/);
    return createHiveSyncClient({
      baseUrl: live().baseUrl,
      pluginProtocolVersion: CURRENT,
      tokenProvider: () => t.access_token,
      defaultTimeoutMs: 10_000,
    });
  }

  /** A plugin's session and its RPC client; `sent` collects the bearer token of every RPC attempt. */
  function plugin(clientId: string, store: TokenStore = new MemoryTokenStore()) {
    const calls: OAuthCall[] = [];
    const signedOut: SignedOutError[] = [];
    const sent: (string | null)[] = [];
    const session = new AuthSession({
      baseUrl: live().baseUrl,
      clientId,
      store,
      fetch: countingFetch(calls),
      onSignedOut: (e) => signedOut.push(e),
    });
    const record: Interceptor = (next) => (req) => {
      sent.push(req.header.get("Authorization")?.replace(/^Bearer /, "") ?? null);
      return next(req);
    };
    const hs = createHiveSyncClient({
      baseUrl: live().baseUrl,
      pluginProtocolVersion: CURRENT,
      session,
      interceptors: [record],
      defaultTimeoutMs: 10_000,
    });
    return { session, hs, store, calls, signedOut, sent };
  }

  /** A plugin signed in through the device flow, approved by `email`'s phone. */
  async function signedIn(clientId: string, email: string, scopes?: string[], store?: TokenStore) {
    const p = plugin(clientId, store);
    const mobile = await phone(email);
    const prompts: DeviceLoginPrompt[] = [];
    const tokens = await p.session.deviceLogin({
      scopes,
      onPrompt: async (prompt) => {
        prompts.push(prompt);
        const decision = await approveDeviceLogin(mobile, prompt.userCode, { describe: true });
        assert.equal(decision.clientId, clientId);
        assert.equal(decision.request?.clientId, clientId);
        assert.equal(decision.request?.kind, SignInKind.DEVICE);
      },
    });
    assert.equal(prompts.length, 1);
    return { ...p, tokens, prompt: prompts[0]!, mobile };
  }

  test("A1. RFC 8414 metadata names the endpoints the SDK uses", async () => {
    const md = await fetchAuthorizationServerMetadata(live().baseUrl);
    assert.equal(md.token_endpoint, `${live().baseUrl}/oauth2/token`);
    assert.equal(md.device_authorization_endpoint, `${live().baseUrl}/oauth2/device_authorization`);
    assert.equal(md.revocation_endpoint, `${live().baseUrl}/oauth2/revoke`);
    assert.ok(md.grant_types_supported?.includes(DEVICE_GRANT), JSON.stringify(md.grant_types_supported));
  });

  test("A2. device login approved on the phone -> GetCurrentUser is the phone's user on the plugin's client", async () => {
    const email = uniqueEmail("login");
    const p = await signedIn("vscode", email);

    assert.match(p.prompt.userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.ok(p.prompt.verificationUri.startsWith("http"), p.prompt.verificationUri);
    assert.ok(p.prompt.verificationUriComplete?.includes(encodeURIComponent(p.prompt.userCode)), p.prompt.verificationUriComplete);
    assert.ok(p.prompt.expiresIn > 0);
    assert.equal(p.prompt.interval, DEVICE_POLL_INTERVAL_S);
    // Polling honoured the interval: consecutive polls at least 1 s apart.
    const polls = p.calls.filter((c) => c.grantType === DEVICE_GRANT);
    assert.ok(polls.length >= 1);
    for (let i = 1; i < polls.length; i++) {
      assert.ok(polls[i]!.at - polls[i - 1]!.at >= DEVICE_POLL_INTERVAL_S * 1000 - 5, "polled faster than the interval");
    }

    assert.deepEqual([...p.tokens.scopes].sort(), ["live", "plugin", "read", "write"]);
    assert.equal(p.tokens.tokenType, "Bearer");
    assert.ok(p.tokens.expiresAt > Date.now() + 60_000, "15 min access token");
    assert.deepEqual(await p.store.load(), p.tokens);

    const me = await p.hs.auth.getCurrentUser({});
    assert.equal(me.user?.email, email);
    assert.equal(me.session?.clientId, "vscode");
    assert.equal(me.session?.clientType, ClientType.VSCODE);
    assert.deepEqual(p.sent, [p.tokens.accessToken]);

    // The fetch-based transport takes the same session.
    const web = createWebClient({ baseUrl: live().baseUrl, pluginProtocolVersion: CURRENT, session: p.session });
    assert.equal((await web.auth.getCurrentUser({})).user?.email, email);

    // A code is decided once: approving it again is not_found.
    const again = await rejection(() => approveDeviceLogin(p.mobile, p.prompt.userCode));
    assert.equal(errorCode(again), Code.NotFound);
  });

  test("A3. device login with explicit scopes (standalone deviceLogin, cli client)", async () => {
    const email = uniqueEmail("scopes");
    const mobile = await phone(email);
    const tokens = await deviceLogin({
      baseUrl: live().baseUrl,
      clientId: "cli",
      scopes: ["user", "read"],
      onPrompt: (prompt) => approveDeviceLogin(mobile, prompt.userCode.toLowerCase()).then(() => undefined),
    });
    assert.deepEqual([...tokens.scopes].sort(), ["read", "user"]);
    const session = new AuthSession({ baseUrl: live().baseUrl, clientId: "cli", store: new MemoryTokenStore(tokens) });
    const hs = createHiveSyncClient({ baseUrl: live().baseUrl, pluginProtocolVersion: CURRENT, session });
    const me = await hs.auth.getCurrentUser({});
    assert.equal(me.user?.email, email);
    assert.equal(me.session?.clientId, "cli");

    // A scope the client may not hold is refused up front with a typed OAuth error.
    const err = await rejection(() =>
      deviceLogin({ baseUrl: live().baseUrl, clientId: "vscode", scopes: ["admin"], onPrompt: () => assert.fail("no prompt") }));
    assert.ok(err instanceof OAuthError, String(err));
    assert.equal(err.error, "invalid_scope");
    // So is an unknown client.
    const bad = await rejection(() =>
      deviceLogin({ baseUrl: live().baseUrl, clientId: "toaster", onPrompt: () => assert.fail("no prompt") }));
    assert.ok(bad instanceof OAuthError && bad.error === "invalid_client", String(bad));
  });

  test("A4. transparent refresh: an access token expiring within 60 s is refreshed before the call; the file store holds the rotated pair", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hivesync-ts-tokens-"));
    try {
      const store = new FileTokenStore(join(dir, "sub", "tokens.json"));
      const email = uniqueEmail("refresh");
      const p = await signedIn("jetbrains", email, undefined, store);
      assert.equal(statSync(store.path).mode & 0o777, 0o600);
      const before = (await store.load())!;
      assert.deepEqual(before, p.tokens);

      // Still valid for 30 s: inside the 60 s margin, so refreshed first.
      await store.save({ ...before, expiresAt: Date.now() + 30_000 });
      const me = await p.hs.auth.getCurrentUser({});
      assert.equal(me.user?.email, email);
      const after = (await store.load())!;
      assert.notEqual(after.accessToken, before.accessToken, "new access token");
      assert.notEqual(after.refreshToken, before.refreshToken, "rotated refresh token persisted");
      assert.ok(after.expiresAt > Date.now() + 60_000);
      assert.equal(refreshCount(p.calls), 1);
      assert.deepEqual(p.sent, [after.accessToken], "the call carried only the new token");

      // Marked as already expired: refreshed again, with the rotated refresh token.
      await store.save({ ...after, expiresAt: Date.now() - 1_000 });
      assert.equal((await p.hs.auth.getCurrentUser({})).session?.clientId, "jetbrains");
      const third = (await store.load())!;
      assert.notEqual(third.accessToken, after.accessToken);
      assert.notEqual(third.refreshToken, after.refreshToken);
      assert.equal(refreshCount(p.calls), 2);

      // A fresh token is used as is.
      await p.hs.auth.getCurrentUser({});
      assert.equal(refreshCount(p.calls), 2);
      assert.equal(p.signedOut.length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("A5. an RPC answered unauthenticated is retried once after one refresh; a caller's own token is not", async () => {
    const email = uniqueEmail("retry");
    const p = await signedIn("sublime", email);
    const t = (await p.store.load())!;
    // The token looks fresh to the client, but the server rejects it.
    await p.store.save({ ...t, accessToken: "not.a.jwt" });
    const me = await p.hs.auth.getCurrentUser({});
    assert.equal(me.user?.email, email);
    const now = (await p.store.load())!;
    assert.deepEqual(p.sent, ["not.a.jwt", now.accessToken]);
    assert.notEqual(now.refreshToken, t.refreshToken);
    assert.equal(refreshCount(p.calls), 1);

    // A token set on the call itself belongs to the caller: no refresh, no retry.
    const err = await rejection(() => p.hs.auth.getCurrentUser({}, { headers: { Authorization: "Bearer caller.own.token" } }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
    assert.ok(!isSignedOut(err));
    assert.equal(refreshCount(p.calls), 1);
  });

  test("A6. concurrent calls with an expired token trigger exactly one refresh", async () => {
    const email = uniqueEmail("concurrent");
    const p = await signedIn("neovim", email);

    const t = (await p.store.load())!;
    await p.store.save({ ...t, expiresAt: Date.now() - 1_000 });
    const results = await Promise.all(Array.from({ length: 8 }, () => p.hs.auth.getCurrentUser({})));
    for (const r of results) assert.equal(r.user?.email, email);
    assert.equal(refreshCount(p.calls), 1);
    const after = (await p.store.load())!;
    assert.deepEqual(p.sent, Array(8).fill(after.accessToken));

    // The same when the server rejects a token that looked fresh (retry path).
    p.sent.length = 0;
    await p.store.save({ ...after, accessToken: "rejected.by.server" });
    const again = await Promise.all(Array.from({ length: 6 }, () => p.hs.auth.getCurrentUser({})));
    for (const r of again) assert.equal(r.user?.email, email);
    assert.equal(refreshCount(p.calls), 2);
    const last = (await p.store.load())!;
    assert.deepEqual(p.sent.filter((s) => s !== "rejected.by.server"), Array(6).fill(last.accessToken));

    // And for explicit refresh() calls.
    await p.store.save({ ...last, expiresAt: Date.now() - 1_000 });
    const refreshed = await Promise.all(Array.from({ length: 5 }, () => p.session.refresh()));
    assert.equal(new Set(refreshed.map((r) => r.refreshToken)).size, 1);
    assert.equal(refreshCount(p.calls), 3);
  });

  test("A7. the phone denies -> AccessDeniedError; nothing stored", async () => {
    const email = uniqueEmail("deny");
    const mobile = await phone(email);
    const p = plugin("vscode");
    const err = await rejection(() =>
      p.session.deviceLogin({
        onPrompt: async (prompt) => {
          await approveDeviceLogin(mobile, prompt.userCode, { approve: false });
        },
      }));
    assert.ok(err instanceof AccessDeniedError, String(err));
    assert.ok(err instanceof OAuthError);
    assert.equal(err.error, "access_denied");
    assert.equal(await p.store.load(), undefined);
    assert.equal(await p.session.isSignedIn(), false);
  });

  test("A8. device login is cancellable through an AbortSignal", async () => {
    const p = plugin("desktop");
    const ac = new AbortController();
    const reason = new Error("user closed the dialog");
    const started = Date.now();
    const err = await rejection(() =>
      p.session.deviceLogin({
        signal: ac.signal,
        onPrompt: () => {
          setTimeout(() => ac.abort(reason), 50);
        },
      }));
    assert.equal(err, reason);
    assert.ok(Date.now() - started < 5_000);
    assert.equal(await p.store.load(), undefined);

    // A prompt callback that fails stops the login with its error.
    const boom = new Error("cannot show the code");
    assert.equal(await rejection(() => p.session.deviceLogin({ onPrompt: async () => { throw boom; } })), boom);
  });

  test("A9. slow_down adds 5 s to the polling interval", async () => {
    const email = uniqueEmail("slowdown");
    const mobile = await phone(email);
    const calls: OAuthCall[] = [];
    let injected = false;
    let slowDownAt = 0;
    let userCode = "";
    // Before the SDK's first poll, an extra poll with the same device code
    // makes that first poll too fast: the server answers slow_down. Only then
    // does the phone approve.
    const meddling: typeof fetch = async (input, init) => {
      const form = typeof init?.body === "string" ? new URLSearchParams(init.body) : undefined;
      if (form?.get("grant_type") === DEVICE_GRANT && !injected) {
        injected = true;
        const extra = await fetch(input, { ...init, signal: null });
        assert.equal(((await extra.json()) as { error: string }).error, "authorization_pending");
        const res = await fetch(input, init);
        const body = (await res.clone().json()) as { error?: string };
        assert.equal(body.error, "slow_down");
        slowDownAt = Date.now();
        await approveDeviceLogin(mobile, userCode);
        return res;
      }
      return fetch(input, init);
    };
    const tokens = await deviceLogin({
      baseUrl: live().baseUrl,
      clientId: "neovim",
      fetch: countingFetch(calls, meddling),
      onPrompt: (prompt) => {
        userCode = prompt.userCode;
      },
    });
    assert.ok(tokens.accessToken);
    const polls = calls.filter((c) => c.grantType === DEVICE_GRANT);
    assert.equal(polls.length, 2, "one slow_down, then the approved poll");
    const waited = polls[1]!.at - slowDownAt;
    assert.ok(waited >= (DEVICE_POLL_INTERVAL_S + 5) * 1000 - 100, `waited only ${waited} ms after slow_down`);
  });

  test("A10. signOut revokes the session and clears the store; the next call is a typed SignedOutError", async () => {
    const email = uniqueEmail("signout");
    const p = await signedIn("vscode", email);
    const t = (await p.store.load())!;
    await p.session.signOut();
    assert.equal(await p.store.load(), undefined);
    assert.equal(p.calls.at(-1)?.path, "/oauth2/revoke");
    assert.deepEqual(p.signedOut.map((e) => e.reason), ["signed_out"]);

    const err = await rejection(() => p.hs.auth.getCurrentUser({}));
    assert.ok(err instanceof SignedOutError, String(err));
    assert.ok(isSignedOut(err));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(err.reason, "not_signed_in");
    assert.equal(p.sent.at(-1), null, "sent without a token");
    // A plain ConnectError is not a SignedOutError.
    assert.ok(!(new ConnectError("x", Code.Unauthenticated) instanceof SignedOutError));

    // Public methods still work through the signed-out client.
    assert.ok((await p.hs.meta.getServerTime({})).serverTime);

    // On the server the session is gone: the old access token is rejected...
    const old = createHiveSyncClient({ baseUrl: live().baseUrl, pluginProtocolVersion: CURRENT, tokenProvider: () => t.accessToken });
    assert.equal(errorCode(await rejection(() => old.auth.getCurrentUser({}))), Code.Unauthenticated);
    // ...and so is the refresh token.
    const res = await fetch(`${live().baseUrl}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t.refreshToken, client_id: "vscode" }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, "invalid_grant");
  });

  test("A11. refresh-token reuse revokes the session: the next call signs out (typed error + event) and empties the store", async () => {
    const email = uniqueEmail("reuse");
    const p = await signedIn("jetbrains", email);
    const t0 = (await p.store.load())!;
    const t1 = await p.session.refresh({ force: true });
    assert.notEqual(t1.refreshToken, t0.refreshToken);

    // Someone replays the rotated-out refresh token: the server revokes the session.
    const res = await fetch(`${live().baseUrl}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t0.refreshToken, client_id: "jetbrains" }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, "invalid_grant");

    // The stored access token still looks fresh; the server rejects it, the
    // refresh is refused, and the session ends.
    const err = await rejection(() => p.hs.auth.getCurrentUser({}));
    assert.ok(err instanceof SignedOutError, String(err));
    assert.equal(err.reason, "session_ended");
    assert.equal(err.code, Code.Unauthenticated);
    assert.ok(err.cause instanceof OAuthError && err.cause.error === "invalid_grant");
    assert.equal(await p.store.load(), undefined);
    assert.deepEqual(p.signedOut.map((e) => e.reason), ["session_ended"]);
    assert.deepEqual(p.sent, [t1.accessToken], "no retry without a new token");

    // Later calls: not signed in, no further refresh attempts.
    const later = await rejection(() => p.hs.auth.getCurrentUser({}));
    assert.ok(later instanceof SignedOutError && later.reason === "not_signed_in");
    assert.equal(refreshCount(p.calls), 2);
    assert.equal(p.signedOut.length, 1);
  });

  test("A12. a refresh that cannot reach the server keeps the session: a still-valid token is used, an expired one fails with unavailable", async () => {
    const email = uniqueEmail("offline");
    const p = await signedIn("cli", email);
    const t = (await p.store.load())!;
    // Same store, but the token endpoint is unreachable.
    const offline = new AuthSession({
      baseUrl: live().baseUrl,
      clientId: "cli",
      store: p.store,
      endpoints: { tokenEndpoint: "http://127.0.0.1:1/oauth2/token" },
    });
    const hs = createHiveSyncClient({ baseUrl: live().baseUrl, pluginProtocolVersion: CURRENT, session: offline });

    await p.store.save({ ...t, expiresAt: Date.now() + 30_000 }); // within the margin, not expired
    assert.equal((await hs.auth.getCurrentUser({})).user?.email, email);

    await p.store.save({ ...t, expiresAt: Date.now() - 1_000 });
    const err = await rejection(() => hs.auth.getCurrentUser({}));
    assert.equal(errorCode(err), Code.Unavailable, String(err));
    assert.ok(!isSignedOut(err));
    assert.equal((await p.store.load())?.refreshToken, t.refreshToken, "the store is kept");
  });
}
