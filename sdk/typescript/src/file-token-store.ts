/// <reference types="node" />
/**
 * A {@link TokenStore} in a JSON file, for CLIs (Node.js only).
 *
 * @module
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { TokenSet, TokenStore } from "./auth.js";

/**
 * Keeps the tokens in a JSON file readable by the owner only (mode 0600, in
 * a directory created with mode 0700 if missing). Writes go to a temporary
 * file that is then renamed over the old one, so a crash never leaves half a
 * file. A missing or unreadable file means signed out.
 *
 * ```ts
 * const store = new FileTokenStore(join(homedir(), ".config", "hivesync", "tokens.json"));
 * ```
 */
export class FileTokenStore implements TokenStore {
  /** Path of the JSON file. */
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<TokenSet | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") {
        return undefined;
      }
      throw err;
    }
    try {
      const t = JSON.parse(text) as Partial<TokenSet>;
      if (typeof t.accessToken === "string" && typeof t.refreshToken === "string" && typeof t.expiresAt === "number") {
        return {
          accessToken: t.accessToken,
          refreshToken: t.refreshToken,
          tokenType: typeof t.tokenType === "string" ? t.tokenType : "Bearer",
          expiresAt: t.expiresAt,
          scopes: Array.isArray(t.scopes) ? t.scopes.filter((s): s is string => typeof s === "string") : [],
        };
      }
    } catch {
      // fall through: a corrupt file counts as signed out
    }
    return undefined;
  }

  async save(tokens: TokenSet): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(tokens, null, 2) + "\n", { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
