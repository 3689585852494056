/**
 * The shared SDK scenario "two devices edit the same file", against the live
 * server: two sessions of one user (a VS Code and a JetBrains plugin) edit
 * "src/app.ts" from the same base. The second save is rejected as a typed
 * Conflict (decoded by the SDK's `conflict(err)`, never from the message),
 * nothing is overwritten, the device resolves with a merge on the server's
 * head, and a retried save with the same idempotency key creates nothing.
 *
 * Registered by smoke.test.ts so that it shares its one server.
 */
import { strict as assert } from "node:assert";
import { createHash, randomUUID } from "node:crypto";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { test } from "node:test";
import {
  Code,
  ConnectError,
  ProjectRole,
  conflict,
  createHiveSyncClient,
  errorCode,
  hiveSyncErrorDetails,
  isRetryableSaveError,
  saveFile,
  type HiveSyncClient,
} from "@hivesync/sdk/node";
import { CURRENT_PLUGIN_PROTOCOL_VERSION as CURRENT, type LiveServer } from "./server.js";

/** Runs `fn`, which must throw; returns the error. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

/**
 * A TCP proxy to the server that can lose answers: after `dropNextAnswers(n)`,
 * the next `n` connections on which the server starts to answer get both
 * sockets destroyed at the answer's first byte, so the request was handled
 * (the save is stored) but the client never sees the response. While
 * `refuse` is set, no connection is forwarded: every one is closed at once.
 */
async function startLossyProxy(target: string) {
  const { hostname, port } = new URL(target);
  let drop = 0;
  let dropped = 0;
  let refuse = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    if (refuse) {
      client.destroy();
      return;
    }
    const upstream = netConnect(Number(port), hostname);
    open.add(upstream);
    upstream.on("close", () => open.delete(upstream));
    let losing = false;
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!losing && drop > 0) {
        drop--;
        dropped++;
        losing = true;
      }
      if (losing) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    for (const s of [client, upstream]) s.on("error", () => undefined);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  assert.ok(addr && typeof addr === "object");
  return {
    baseUrl: `http://127.0.0.1:${addr.port}`,
    dropNextAnswers(n: number) {
      drop = n;
    },
    get dropped() {
      return dropped;
    },
    /** Refuses new connections and closes the open (keep-alive) ones. */
    set refuse(on: boolean) {
      refuse = on;
      if (on) for (const s of open) s.destroy();
    },
    close(): Promise<void> {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export function fileScenarios(live: () => LiveServer): void {
  /** One device of `email`: a fresh `client` session, registered as a device. */
  async function device(email: string, clientId: string): Promise<{ hs: HiveSyncClient; deviceId: string }> {
    const t = await live().tokenCreate(email, clientId);
    const hs = createHiveSyncClient({
      baseUrl: live().baseUrl,
      pluginProtocolVersion: CURRENT,
      tokenProvider: () => t.access_token,
      defaultTimeoutMs: 10_000,
    });
    const reg = await hs.devices.registerDevice({ name: `${clientId} test`, platform: "linux", clientVersion: "5" });
    assert.ok(reg.device?.id, "RegisterDevice returns the device id");
    return { hs, deviceId: reg.device.id };
  }

  test("F1. two devices edit the same file: stale save -> typed Conflict, nothing overwritten, merge on the head, idempotent retry", async () => {
    const email = `ts-conflict-${randomUUID()}@example.com`;
    const a = await device(email, "vscode");
    const b = await device(email, "jetbrains");
    assert.notEqual(a.deviceId, b.deviceId);

    // 1. Device A creates a project and src/app.ts = "a\nb\n".
    const project = (await a.hs.projects.createProject({ name: "conflict scenario" })).project;
    assert.ok(project?.id, "CreateProject returns the project");
    assert.equal(project.role, ProjectRole.OWNER);
    const created = (await a.hs.files.createFile({ projectId: project.id, path: "src/app.ts", content: "a\nb\n" })).file;
    assert.ok(created?.head, "CreateFile returns the file with its head");
    assert.equal(created.path, "src/app.ts");
    assert.equal(created.head.revision, 1n);
    const fileId = created.id;

    // 2. Both devices read the same head.
    const readA = await a.hs.files.getFile({ fileId });
    const readB = await b.hs.files.getFile({ fileId });
    assert.equal(readA.content, "a\nb\n");
    assert.equal(readB.content, "a\nb\n");
    assert.equal(readA.file?.head?.id, created.head.id);
    assert.equal(readB.file?.head?.id, created.head.id);
    const base = created.head.id;

    // 3. Device A saves first: revision 2.
    const savedA = (await a.hs.files.saveFile({
      fileId, baseRevisionId: base, content: "a\nB\n", idempotencyKey: randomUUID(), deviceId: a.deviceId,
    })).version;
    assert.ok(savedA, "SaveFile returns the version");
    assert.equal(savedA.revision, 2n);
    assert.notEqual(savedA.id, base);
    assert.equal(savedA.contentSha256, sha256Hex("a\nB\n"));
    assert.equal(savedA.deviceId, a.deviceId);

    // 4. Device B saves on the old base: aborted + typed Conflict.
    const contentB = "a\nb\nc\n";
    const err = await rejection(() => b.hs.files.saveFile({
      fileId, baseRevisionId: base, content: contentB, idempotencyKey: randomUUID(), deviceId: b.deviceId,
    }));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(errorCode(err), Code.Aborted);
    const c = conflict(err);
    assert.ok(c, `no Conflict detail on ${String(err)}`);
    assert.deepEqual(hiveSyncErrorDetails(err).map((d) => d.kind), ["conflict"]);
    assert.equal(c.fileId, fileId);
    assert.equal(c.path, "src/app.ts");
    assert.equal(c.baseRevisionId, base);
    assert.equal(c.headRevisionId, savedA.id);
    assert.equal(c.headRevision, 2n);
    assert.equal(c.headContentSha256, sha256Hex("a\nB\n"));
    assert.equal(c.clientContentSha256, sha256Hex(contentB));
    const diffLines = c.unifiedDiff.split("\n");
    assert.ok(diffLines.includes("-b"), `unified_diff lacks "-b":\n${c.unifiedDiff}`);
    assert.ok(diffLines.includes("+B"), `unified_diff lacks "+B":\n${c.unifiedDiff}`);

    // 5. Nothing was overwritten.
    const afterConflict = await b.hs.files.getFile({ fileId });
    assert.equal(afterConflict.content, "a\nB\n");
    assert.equal(afterConflict.file?.head?.id, savedA.id);
    const versions2 = (await b.hs.files.listVersions({ fileId })).versions;
    assert.deepEqual(versions2.map((v) => [v.revision, v.id]), [[2n, savedA.id], [1n, base]]);

    // 6. Device B resolves: its merge, on the head the Conflict named.
    const mergeKey = randomUUID();
    const merge = { fileId, baseRevisionId: c.headRevisionId, content: "a\nB\nc\n", idempotencyKey: mergeKey, deviceId: b.deviceId };
    const savedB = (await b.hs.files.saveFile(merge)).version;
    assert.ok(savedB, "SaveFile returns the version");
    assert.equal(savedB.revision, 3n);
    assert.equal(savedB.contentSha256, sha256Hex("a\nB\nc\n"));
    assert.equal(savedB.deviceId, b.deviceId);

    // 7. A retry of that save (same idempotency key; its base is no longer the
    //    head) returns the same version and writes no 4th one.
    const retried = (await b.hs.files.saveFile(merge)).version;
    assert.equal(retried?.id, savedB.id);
    assert.equal(retried?.revision, 3n);
    const final = await a.hs.files.getFile({ fileId });
    assert.equal(final.content, "a\nB\nc\n");
    assert.equal(final.file?.head?.id, savedB.id);
    const versions3 = (await a.hs.files.listVersions({ fileId })).versions;
    assert.deepEqual(versions3.map((v) => v.revision), [3n, 2n, 1n]);
    assert.deepEqual(versions3.map((v) => v.id), [savedB.id, savedA.id, base]);
  });

  /** A client of the same session as `hs`, through `baseUrl` (e.g. a proxy). */
  async function sessionClient(email: string, clientId: string, baseUrl?: string) {
    const t = await live().tokenCreate(email, clientId);
    const mk = (url: string) =>
      createHiveSyncClient({
        baseUrl: url,
        pluginProtocolVersion: CURRENT,
        tokenProvider: () => t.access_token,
        defaultTimeoutMs: 10_000,
      });
    const hs = mk(live().baseUrl);
    const reg = await hs.devices.registerDevice({ name: `${clientId} save helper`, platform: "linux", clientVersion: "5" });
    assert.ok(reg.device?.id);
    return { hs, via: baseUrl ? mk(baseUrl) : hs, deviceId: reg.device.id };
  }

  async function newFile(hs: HiveSyncClient, content: string) {
    const project = (await hs.projects.createProject({ name: "save helper" })).project;
    assert.ok(project?.id);
    const file = (await hs.files.createFile({ projectId: project.id, path: "notes/todo.md", content })).file;
    assert.ok(file?.head);
    return file;
  }

  test("F2. saveFile: saved on attempt 1 with a generated key; stale base -> conflict, not retried; not_found thrown at once", async () => {
    const email = `ts-save-helper-${randomUUID()}@example.com`;
    const a = await sessionClient(email, "vscode");
    const file = await newFile(a.hs, "one\ntwo\n");

    const retries: number[] = [];
    const saved = await saveFile(a.hs, { fileId: file.id, baseRevisionId: file.head!.id, content: "one\n2\n", deviceId: a.deviceId }, {
      onRetry: ({ attempt }) => retries.push(attempt),
    });
    assert.equal(saved.kind, "saved");
    assert.ok(saved.kind === "saved");
    assert.equal(saved.attempts, 1);
    assert.equal(saved.version.revision, 2n);
    assert.equal(saved.version.contentSha256, sha256Hex("one\n2\n"));
    assert.match(saved.idempotencyKey, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a UUID v4 key");
    assert.equal(retries.length, 0);

    // A stale base: conflict with the decoded detail, one attempt.
    const stale = await saveFile(a.hs.files, { fileId: file.id, baseRevisionId: file.head!.id, content: "one\ntwo\nthree\n" }, {
      onRetry: ({ attempt }) => retries.push(attempt),
    });
    assert.ok(stale.kind === "conflict", `expected a conflict, got ${stale.kind}`);
    assert.equal(stale.attempts, 1);
    assert.equal(retries.length, 0, "a conflict is never retried");
    assert.equal(stale.conflict.fileId, file.id);
    assert.equal(stale.conflict.baseRevisionId, file.head!.id);
    assert.equal(stale.conflict.headRevisionId, saved.version.id);
    assert.equal(stale.conflict.headRevision, 2n);
    assert.equal(stale.conflict.headContentSha256, saved.version.contentSha256);
    assert.equal(stale.conflict.clientContentSha256, sha256Hex("one\ntwo\nthree\n"));
    assert.ok(stale.conflict.unifiedDiff.split("\n").includes("+2"), stale.conflict.unifiedDiff);

    // The caller's own key is used as given.
    const key = randomUUID();
    const own = await saveFile(a.hs, { fileId: file.id, baseRevisionId: saved.version.id, content: "x\n", idempotencyKey: key });
    assert.ok(own.kind === "saved");
    assert.equal(own.idempotencyKey, key);

    // Not retryable: not_found and invalid_argument are thrown after one call.
    let calls = 0;
    const counting = { saveFile: (...args: Parameters<HiveSyncClient["files"]["saveFile"]>) => (calls++, a.hs.files.saveFile(...args)) };
    const missing = await rejection(() => saveFile(counting, { fileId: randomUUID(), baseRevisionId: saved.version.id, content: "x\n" }, { baseDelayMs: 1 }));
    assert.equal(errorCode(missing), Code.NotFound, String(missing));
    assert.equal(calls, 1, "not_found is not retried");
    assert.equal(isRetryableSaveError(missing), false);
    calls = 0;
    const malformed = await rejection(() => saveFile(counting, { fileId: file.id, baseRevisionId: "not-a-uuid", content: "x\n" }, { baseDelayMs: 1 }));
    assert.equal(errorCode(malformed), Code.InvalidArgument);
    assert.equal(calls, 1, "invalid_argument is not retried");

    const versions = (await a.hs.files.listVersions({ fileId: file.id })).versions;
    assert.deepEqual(versions.map((v) => v.revision), [3n, 2n, 1n]);
  });

  test("F3. saveFile: a lost answer is retried with the same key and returns the version the first attempt stored", async () => {
    const email = `ts-save-lost-${randomUUID()}@example.com`;
    const proxy = await startLossyProxy(live().baseUrl);
    try {
      const a = await sessionClient(email, "vscode", proxy.baseUrl);
      const file = await newFile(a.hs, "a\n");

      const keys: string[] = [];
      const recording = {
        saveFile: (...args: Parameters<HiveSyncClient["files"]["saveFile"]>) => {
          keys.push(String(args[0].idempotencyKey));
          return a.via.files.saveFile(...args);
        },
      };
      const retryErrors: unknown[] = [];
      proxy.dropNextAnswers(1);
      const r = await saveFile(recording, { fileId: file.id, baseRevisionId: file.head!.id, content: "a\nb\n", deviceId: a.deviceId }, {
        baseDelayMs: 20,
        onRetry: ({ error }) => retryErrors.push(error),
      });
      assert.equal(proxy.dropped, 1, "the first answer was lost");
      assert.ok(r.kind === "saved", `expected saved, got ${r.kind}`);
      assert.equal(r.attempts, 2);
      assert.equal(retryErrors.length, 1);
      assert.ok(isRetryableSaveError(retryErrors[0]), String(retryErrors[0]));
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1], "every attempt carries the same key");
      assert.equal(keys[0], r.idempotencyKey);

      // Exactly one new version, and it is the one returned.
      const versions = (await a.hs.files.listVersions({ fileId: file.id })).versions;
      assert.deepEqual(versions.map((v) => v.revision), [2n, 1n], "exactly one new version");
      assert.equal(versions[0]?.id, r.version.id);
      const head = await a.hs.files.getFile({ fileId: file.id });
      assert.equal(head.file?.head?.id, r.version.id);
      assert.equal(head.content, "a\nb\n");

      // Unreachable server: bounded attempts, then the transport error is thrown.
      proxy.refuse = true;
      {
        let n = 0;
        const counting = { saveFile: (...args: Parameters<HiveSyncClient["files"]["saveFile"]>) => (n++, a.via.files.saveFile(...args)) };
        const err = await rejection(() => saveFile(counting, { fileId: file.id, baseRevisionId: r.version.id, content: "c\n" }, { maxAttempts: 3, baseDelayMs: 5 }));
        assert.ok(err instanceof ConnectError, String(err));
        assert.equal(n, 3, "maxAttempts bounds the retries");
      }

      // Cancellation ends the retry loop.
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 150);
      const started = Date.now();
      const canceled = await rejection(() => saveFile(a.via, { fileId: file.id, baseRevisionId: r.version.id, content: "c\n" }, { maxAttempts: 1000, baseDelayMs: 20, maxDelayMs: 40, signal: ac.signal }));
      assert.equal(errorCode(canceled), Code.Canceled, String(canceled));
      assert.ok(Date.now() - started < 5_000);
      proxy.refuse = false;
      assert.equal((await a.hs.files.listVersions({ fileId: file.id })).versions.length, 2, "nothing else was stored");
    } finally {
      await proxy.close();
    }
  });
}
