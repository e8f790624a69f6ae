// Bulk writes: one transaction on one session that can both run compiled Kysely queries and append
// rows with COPY. The ledger's persist (ENG-3) writes millions of new rows after a full sync; COPY
// skips the per-row parse/bind work of INSERT … SELECT FROM unnest and lets PostgreSQL batch heap
// inserts. PostgreSQL streams COPY FROM STDIN (pg-copy-streams); PGlite reads it from '/dev/blob'.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CompiledQuery } from "kysely";
import { from as copyFrom } from "pg-copy-streams";
import type { Database } from "./database.ts";

export type CopyValue = string | number | boolean | null | undefined;

export interface BulkSession {
  /** Runs a compiled Kysely query (`sql\`…\`.compile(db)`) inside this transaction. */
  execute<R>(query: CompiledQuery<R>): Promise<R[]>;
  /** Appends rows to `table` with COPY (text format); `columns` name the values of each row in order. */
  copy(table: string, columns: readonly string[], rows: Iterable<readonly CopyValue[]>): Promise<void>;
  /** The same with rows already in COPY's text format (fields joined by tabs, text through copyField). */
  copyLines(table: string, columns: readonly string[], lines: readonly string[]): Promise<void>;
}

export interface BulkWriter {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (session: BulkSession) => Promise<T>): Promise<T>;
}

// COPY's text format: tab between columns, \N for null, backslash escapes for the four specials.
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
/** One value in COPY's text format. */
export function copyField(v: CopyValue): string {
  if (v === null || v === undefined) return "\\N";
  const s = typeof v === "string" ? v : String(v);
  return s.replace(SPECIALS, (c) => ESCAPES[c] as string);
}

/** The COPY text body of `rows` (exported for its test). */
export function copyText(rows: Iterable<readonly CopyValue[]>): string {
  const lines: string[] = [];
  for (const row of rows) lines.push(row.map(copyField).join("\t"));
  return linesText(lines);
}

const linesText = (lines: readonly string[]) => (lines.length === 0 ? "" : `${lines.join("\n")}\n`);

const IDENT = /^[a-z_][a-z0-9_]*$/;
function copyStatement(table: string, columns: readonly string[], source: string): string {
  // Table and column names come from our own code, never from input; refuse anything else anyway.
  for (const name of [table, ...columns]) if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return `copy ${table} (${columns.join(", ")}) from ${source}`;
}

export function createBulkWriter(database: Database): BulkWriter {
  if (database.kind === "postgres") {
    const pool = database.pool!;
    return {
      async transaction(fn) {
        const client = await pool.connect();
        let broken: Error | undefined;
        const copyIn = async (table: string, columns: readonly string[], text: string) => {
          if (text === "") return;
          const stream = client.query(copyFrom(copyStatement(table, columns, "stdin")));
          await pipeline(Readable.from([Buffer.from(text)]), stream);
        };
        try {
          await client.query("begin");
          const result = await fn({
            async execute(q) {
              return (await client.query(q.sql, q.parameters as unknown[])).rows;
            },
            copy(table, columns, rows) {
              return copyIn(table, columns, copyText(rows));
            },
            copyLines(table, columns, lines) {
              return copyIn(table, columns, linesText(lines));
            },
          });
          await client.query("commit");
          return result;
        } catch (err) {
          await client.query("rollback").catch((e: Error) => {
            broken = e;
          });
          throw err;
        } finally {
          // A connection that could not even roll back is discarded, not returned to the pool.
          client.release(broken);
        }
      },
    };
  }
  const pglite = database.pglite!;
  return {
    transaction(fn) {
      // PGlite's own transaction holds the instance: other queries wait until it ends.
      return pglite.transaction((tx) => {
        const copyIn = async (table: string, columns: readonly string[], text: string) => {
          if (text === "") return;
          await tx.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob([text]) });
        };
        return fn({
          async execute(q) {
            return (await tx.query(q.sql, q.parameters as unknown[])).rows as never[];
          },
          copy(table, columns, rows) {
            return copyIn(table, columns, copyText(rows));
          },
          copyLines(table, columns, lines) {
            return copyIn(table, columns, linesText(lines));
          },
        });
      });
    },
  };
}
