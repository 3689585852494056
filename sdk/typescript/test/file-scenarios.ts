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
import { test } from "node:test";
import {
  Code,
  ConnectError,
  ProjectRole,
  conflict,
  createHiveSyncClient,
  errorCode,
  hiveSyncErrorDetails,
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
}
