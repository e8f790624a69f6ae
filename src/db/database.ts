// createDatabase(): one Kysely<DB> over either the embedded PGlite (default, data in
// ALLOT_DATA_DIR) or PostgreSQL (DATABASE_URL). Same SQL, same migrations on both.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "./types.ts";
import { migrateToLatest } from "./migrate.ts";
import { loadTemplate, saveTemplate } from "./pglite-template.ts";

export type DatabaseTarget = { kind: "pglite"; dataDir: string } | { kind: "pglite"; memory: true } | { kind: "postgres"; url: string };

export interface Database {
  db: Kysely<DB>;
  kind: "pglite" | "postgres";
  /** The embedded engine, when that is what runs (backups and bulk COPY use it). */
  pglite?: PGlite;
  pool?: pg.Pool;
  close(): Promise<void>;
}

const INT8 = 20;
const NUMERIC = 1700;
let pgParsersSet = false;

export async function createDatabase(target: DatabaseTarget, options: { migrate?: boolean; poolSize?: number } = {}): Promise<Database> {
  let database: Database;
  let saveAsTemplate: PGlite | undefined;
  if (target.kind === "postgres") {
    if (!pgParsersSet) {
      // Counts and sequences fit in a double; return them as numbers like PGlite does below.
      pg.types.setTypeParser(INT8, (v) => Number(v));
      pg.types.setTypeParser(NUMERIC, (v) => Number(v));
      pgParsersSet = true;
    }
    const pool = new pg.Pool({ connectionString: target.url, max: options.poolSize ?? 10, application_name: "allot" });
    pool.on("error", () => {
      // An idle client lost its connection; the pool replaces it. Queries in flight report their own error.
    });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    database = { db, kind: "postgres", pool, close: () => db.destroy() };
  } else {
    const dataDir = "memory" in target ? undefined : target.dataDir;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    // A new database starts from the cached migrated template when there is one (pglite-template.ts).
    const fresh = !dataDir || !existsSync(join(dataDir, "PG_VERSION"));
    const template = fresh && options.migrate !== false ? loadTemplate() : undefined;
    const pglite = await PGlite.create(dataDir ?? "memory://", {
      parsers: { [INT8]: (v: string) => Number(v), [NUMERIC]: (v: string) => Number(v) },
      ...(template ? { loadDataDir: template } : {}),
    });
    saveAsTemplate = fresh && !template && options.migrate !== false ? pglite : undefined;
    const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
    database = {
      db,
      kind: "pglite",
      pglite,
      close: async () => {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      },
    };
  }
  if (options.migrate !== false) await migrateToLatest(database.db);
  if (saveAsTemplate) await saveTemplate(saveAsTemplate);
  return database;
}
