// Planner statistics after bulk writes. A table that grows or changes by many rows between two
// autovacuum passes (PGlite has none at all) is planned from stale statistics: an app's ledger
// of 4,000 rows estimated at one row turned an anti-join into a 5 s nested loop. Writers report how
// many rows they wrote; once a table has taken more than a fifth of its last analyzed size (and at
// least MIN_ROWS), it is analyzed.
import { type Kysely, sql } from "kysely";

const MIN_ROWS = 5000;
const FRACTION = 0.2;

export interface TableStatistics {
  /** Records `rows` written to `table`; analyzes the table when its statistics went stale. */
  wrote(table: string, rows: number): Promise<void>;
}

export function createTableStatistics(db: Kysely<any>, options: { minRows?: number } = {}): TableStatistics {
  const minRows = options.minRows ?? MIN_ROWS;
  const pending = new Map<string, number>();
  const analyzedAt = new Map<string, number>();
  const running = new Map<string, Promise<void>>();
  return {
    async wrote(table, rows) {
      if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
      const n = (pending.get(table) ?? 0) + rows;
      pending.set(table, n);
      if (n < Math.max(minRows, FRACTION * (analyzedAt.get(table) ?? 0)) || running.has(table)) return;
      pending.set(table, 0);
      const job = (async () => {
        await sql`analyze ${sql.table(table)}`.execute(db);
        const r = await sql<{ n: number }>`select reltuples::float8 as n from pg_class where relname = ${table}`.execute(db);
        analyzedAt.set(table, Math.max(0, Number(r.rows[0]?.n ?? 0)));
      })().finally(() => running.delete(table));
      running.set(table, job);
      await job;
    },
  };
}
