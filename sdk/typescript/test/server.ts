/**
 * Starts one live `hivesyncd dev` for the whole test session.
 *
 * - binary: $HIVESYNC_BIN, else `go build -o <tmp>/hivesyncd ./cmd/hivesyncd`
 *   from the repository root (found from this file's location, not the cwd);
 * - fresh data dir and free loopback port; waits for GET /health/ready == 200;
 * - stop(): SIGTERM, SIGKILL after 20 s, then removes the temp dir;
 * - tokenCreate(): `hivesyncd token create` (optionally `--admin`) against the
 *   running server's database (same binary, same HIVESYNC_* environment).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const UPGRADE_URL = "https://hivesync.test/download";

/**
 * The server under test simulates one that has moved on past this SDK: it
 * requires plugin protocol >= 2 and is at 3, while the SDK's default
 * (PLUGIN_PROTOCOL_VERSION) is 1. Happy-path tests therefore announce a version
 * explicitly; the SDK's default is what the "outdated plugin" test exercises.
 */
export const MIN_PLUGIN_PROTOCOL_VERSION = 2;
export const CURRENT_PLUGIN_PROTOCOL_VERSION = 3;

/** Device-flow poll interval of the server under test (1 s keeps the login tests fast). */
export const DEVICE_POLL_INTERVAL_S = 1;

/**
 * Ping / session re-check interval of the event stream gateway (also the
 * heartbeat interval it announces in `ready`): 1 s, so a revoked session
 * closes its socket within about a second and a silent connection is seen
 * dead within a few. Only the event stream tests use WebSockets.
 */
export const WS_PING_INTERVAL_S = 1;

/**
 * How many missed events the gateway replays before it sends `rehydrate`
 * instead (default 1000). Small enough for a test to pass it with a few
 * dozen saves, larger than any gap the reconnect tests leave.
 */
export const WS_REPLAY_WINDOW = 40;

/** What `hivesyncd token create` prints. */
export interface CreatedToken {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  expires_at: string;
  scope: string;
  session_id: string;
  user_id: string;
}

export interface LiveServer {
  baseUrl: string;
  /**
   * Mints a token pair with `hivesyncd token create --user <email> --client
   * <client>` (creating the account), attached to this server's database.
   * With `admin`, the account becomes an admin and the pair gets the admin
   * scope (`--admin`).
   */
  tokenCreate(email: string, client: string, options?: { admin?: boolean }): Promise<CreatedToken>;
  stop(): Promise<void>;
}

/** Walks up from this file to the directory holding the HiveSync go.mod. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const gomod = join(dir, "go.mod");
    if (existsSync(gomod) && /^module github\.com\/hivesync\/hivesync\s*$/m.test(readFileSync(gomod, "utf8"))) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error("cannot find the HiveSync repository root (go.mod) above " + fileURLToPath(import.meta.url));
    }
    dir = parent;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startServer(): Promise<LiveServer> {
  const tmp = mkdtempSync(join(tmpdir(), "hivesync-sdk-ts-"));
  // dev mode runs its private Postgres as an unprivileged user (we are root
  // here), which must be able to traverse into the data directory.
  chmodSync(tmp, 0o755);
  const cleanupTmp = () => rmSync(tmp, { recursive: true, force: true });
  let bin = process.env["HIVESYNC_BIN"];
  if (!bin) {
    bin = join(tmp, "hivesyncd");
    const root = repoRoot();
    const build = spawnSync("go", ["build", "-o", bin, "./cmd/hivesyncd"], {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (build.status !== 0) {
      cleanupTmp();
      throw new Error(`go build ./cmd/hivesyncd failed (exit ${build.status ?? build.signal})`);
    }
  }
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = join(tmp, "data");
  const env: NodeJS.ProcessEnv = {
    // No HIVESYNC_* from the caller's environment (e.g. HIVESYNC_BIN or a
    // HIVESYNC_DATABASE_URL) leaks into the server under test.
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HIVESYNC_"))),
    HIVESYNC_HTTP_ADDR: `127.0.0.1:${port}`,
    HIVESYNC_DATA_DIR: dataDir,
    HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION: String(MIN_PLUGIN_PROTOCOL_VERSION),
    HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION: String(CURRENT_PLUGIN_PROTOCOL_VERSION),
    HIVESYNC_MIN_CLIENT_VERSION: "3",
    HIVESYNC_UPGRADE_URL: UPGRADE_URL,
    HIVESYNC_DEVICE_POLL_INTERVAL: `${DEVICE_POLL_INTERVAL_S}s`,
    // Reuse-detection tests replay a refresh token at once; the server's
    // default 30 s retry grace would accept it.
    HIVESYNC_REFRESH_REUSE_GRACE: "1ms",
    HIVESYNC_WS_PING_INTERVAL: `${WS_PING_INTERVAL_S}s`,
    HIVESYNC_WS_REPLAY_WINDOW: String(WS_REPLAY_WINDOW),
  };
  const child = spawn(bin, ["dev"], {
    cwd: tmp,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const serverBin = bin;
  const tokenCreate = (email: string, client: string, options: { admin?: boolean } = {}): Promise<CreatedToken> =>
    new Promise((resolve, reject) => {
      const args = ["token", "create", "--user", email, "--client", client, ...(options.admin ? ["--admin"] : [])];
      execFile(serverBin, args, { cwd: tmp, env, timeout: 60_000 },
        (err, stdout, stderrOut) => {
          if (err) {
            reject(new Error(`hivesyncd token create --user ${email} --client ${client} failed: ${err.message}\n${stderrOut}`));
            return;
          }
          try {
            resolve(JSON.parse(stdout) as CreatedToken);
          } catch {
            reject(new Error(`hivesyncd token create printed no JSON: ${stdout}\n${stderrOut}`));
          }
        });
    });
  // Keep the last 64 KiB of stderr for failure messages.
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-65536);
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off("exit", onExit);
      if (!exited) {
        child.kill("SIGTERM");
        if (!(await waitExit(child, 20_000))) {
          child.kill("SIGKILL");
          await waitExit(child, 5_000);
        }
      }
      cleanupTmp();
    })();
    return stopped;
  };
  // Last resort if the runner dies without running `after` hooks.
  const onExit = () => {
    if (!exited) child.kill("SIGTERM");
  };
  process.on("exit", onExit);

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`hivesyncd dev exited early (code ${child.exitCode}, signal ${child.signalCode}); stderr:\n${stderr}`);
    }
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        return { baseUrl, tokenCreate, stop };
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hivesyncd dev not ready at ${baseUrl}/health/ready within 90 s; stderr:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
