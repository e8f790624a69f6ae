// A cached, already migrated PGlite data directory that new embedded databases start from.
// Why: PGlite runs initdb inside WebAssembly on every fresh database — 20 s or more on a small VM —
// and our migrations add a few more. Loading a migrated template takes a few seconds, which matters
// for the test suite (a fresh database per test file) and for every fresh ALLOT_DATA_DIR after the
// first. The cache lives in node_modules/.cache/allot; it is keyed by the PGlite version and the
// migrations' code, so any change makes a new one. It holds no tenant data: only the schema.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { migrationsFingerprint } from "./migrate.ts";

const cacheDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", ".cache", "allot");

function pgliteVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require("@electric-sql/pglite/package.json") as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function templatePath(): string {
  const key = createHash("sha256").update(`${pgliteVersion()}\n${migrationsFingerprint()}`).digest("hex").slice(0, 16);
  return join(cacheDir, `pglite-template-${key}.tar.gz`);
}

/** The template as a File for PGlite's `loadDataDir`, or undefined when there is none (yet). */
export function loadTemplate(): File | undefined {
  const path = templatePath();
  if (!existsSync(path)) return undefined;
  try {
    return new File([readFileSync(path)], "template.tar.gz", { type: "application/gzip" });
  } catch {
    return undefined;
  }
}

/** Saves a freshly migrated, still empty database as the template (best effort: a cache, never required). */
export async function saveTemplate(pglite: PGlite): Promise<void> {
  const path = templatePath();
  if (existsSync(path)) return;
  try {
    const dump = await pglite.dumpDataDir("gzip");
    mkdirSync(cacheDir, { recursive: true });
    // Several test workers may race here: write aside, then rename (atomic on one file system).
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, new Uint8Array(await dump.arrayBuffer()));
    renameSync(tmp, path);
  } catch {
    // A read-only install or a full disk only costs the next fresh database its initdb time.
  }
}
