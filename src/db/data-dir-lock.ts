// Two processes on one PGlite directory silently lose writes, so the embedded database takes an
// exclusive lock on the data directory and a second process refuses to start.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
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

/** The lock's holder is a process of this host that no longer exists (killed, crashed). */
function holderIsGone(dataDir: string): boolean {
  const info = readLockInfo(dataDir) as { pid?: number; host?: string } | undefined;
  if (!info?.pid || info.host !== hostname() || info.pid === process.pid) return false;
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === "ESRCH";
  }
}

export function lockDataDir(dataDir: string, retried = false): DataDirLock {
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
    writeFileSync(lockInfoPath(dataDir), JSON.stringify({ pid: process.pid, host: hostname() }), { mode: 0o600 });
    return {
      release: async () => {
        rmSync(lockInfoPath(dataDir), { force: true });
        release();
      },
    };
  } catch (err) {
    if ((err as { code?: string }).code === "ELOCKED") {
      // A holder killed moments ago leaves a lock that only turns stale after 15 s; when its pid is
      // gone on this very host, take the lock over at once (a supervisor restarts without waiting).
      if (!retried && holderIsGone(dataDir)) {
        rmSync(join(dataDir, "allot.lock"), { recursive: true, force: true });
        return lockDataDir(dataDir, true);
      }
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
  writeFileSync(lockInfoPath(dataDir), JSON.stringify({ pid: process.pid, host: hostname(), ...info }), { mode: 0o600 });
}
