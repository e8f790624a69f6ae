// Two processes on one PGlite directory silently lose writes, so the embedded database takes an
// exclusive lock on the data directory and a second process refuses to start.
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import lockfile from "proper-lockfile";

export class DataDirLockedError extends Error {}

export interface DataDirLock {
  release(): Promise<void>;
}

export function lockInfoPath(dataDir: string): string {
  return join(dataDir, "allot.lock.json");
}

/** What the process holding the lock wrote about itself (pid, and the URL of its API if it serves one). */
export function readLockInfo(dataDir: string): { pid: number; url?: string; cliToken?: string } | undefined {
  try {
    return JSON.parse(readFileSync(lockInfoPath(dataDir), "utf8"));
  } catch {
    return undefined;
  }
}

export function isDataDirLocked(dataDir: string): boolean {
  try {
    return lockfile.checkSync(dataDir, { lockfilePath: join(dataDir, "allot.lock"), stale: 15_000 });
  } catch {
    return false;
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  try {
    const release = lockfile.lockSync(dataDir, {
      lockfilePath: join(dataDir, "allot.lock"),
      stale: 15_000,
      update: 5_000,
      onCompromised: (err) => {
        // Someone removed or took over our lock: continuing would risk the data. Stop now.
        console.error(JSON.stringify({ level: 60, msg: `data directory lock lost: ${err.message}; stopping` }));
        process.exit(70);
      },
    } as Parameters<typeof lockfile.lockSync>[1]);
    writeFileSync(lockInfoPath(dataDir), JSON.stringify({ pid: process.pid }), { mode: 0o600 });
    return {
      release: async () => {
        rmSync(lockInfoPath(dataDir), { force: true });
        release();
      },
    };
  } catch (err) {
    if ((err as { code?: string }).code === "ELOCKED") {
      const info = readLockInfo(dataDir);
      throw new DataDirLockedError(
        `The data directory ${dataDir} is in use by another Allot process${info ? ` (pid ${info.pid})` : ""}. ` +
          "Two processes on one embedded database lose data, so this one will not start. Stop the other process, " +
          "or set ALLOT_DATA_DIR to another directory (or DATABASE_URL to a PostgreSQL server).",
      );
    }
    throw err;
  }
}

export function updateLockInfo(dataDir: string, info: { url?: string; cliToken?: string }): void {
  writeFileSync(lockInfoPath(dataDir), JSON.stringify({ pid: process.pid, ...info }), { mode: 0o600 });
}
