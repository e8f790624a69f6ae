// Bulk import (DIR-2): a CSV of any size is spooled to the data directory while it is parsed and
// validated as a whole; only a valid file becomes an import, which is then written in chunks, each
// in its own short transaction that also advances processed_rows, so an import interrupted by a
// stop resumes where it was. One audit entry per import, with its counts.
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { ListOptions } from "../../http/odata/query.ts";
import { runList } from "../../http/odata/query.ts";
import { notFound } from "../../lib/errors.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { ImportKind } from "./imports.columns.ts";
import { importEntity } from "./imports.entities.ts";
import type { ImportRow, ImportsRepository } from "./imports.repository.ts";
import { type ImportError, type ImportPlan, ImportValidator, MAX_LISTED_ERRORS, readCsv, type ReferenceLoader } from "./imports.validate.ts";

export interface ImportsDeps {
  db: Kysely<DB>;
  importsRepository: ImportsRepository;
  auditService: AuditService;
  /** PostgreSQL writes chunks two at a time; PGlite (one session) one at a time. */
  engine: "pglite" | "postgres";
  dataDir: string;
  chunkRows: number;
}

export type StartResult =
  | { ok: true; import: Record<string, unknown> }
  | { ok: false; message: string; errors: ImportError[]; errorCount: number };

/** Chunk transactions in flight at once on PostgreSQL (PGlite has one session). */
const PG_WRITERS = 2;

class LostImport extends Error {}

/** Imports at least this big vacuum and analyze the table they filled before they complete. */
const MAINTAIN_AFTER_ROWS = 1000;

const activity: Record<ImportKind, string> = { users: "Import users", devices: "Import managed devices", groups: "Import groups", members: "Import group members" };

export function importToGraph(r: ImportRow) {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    fileName: r.file_name,
    totalRows: r.total_rows,
    processedRows: r.processed_rows,
    createdRows: r.created_rows,
    updatedRows: r.updated_rows,
    unchangedRows: Math.max(0, r.processed_rows - r.created_rows - r.updated_rows),
    errors: r.errors,
    createdBy: r.created_by,
    createdDateTime: iso(r.created_at),
    startedDateTime: iso(r.started_at),
    completedDateTime: iso(r.completed_at),
  };
}

function summary(errors: ImportError[], errorCount: number): string {
  const first = errors[0];
  const where = first ? ` Line ${first.line}${first.column ? `, column ${first.column}` : ""}: ${first.message}` : "";
  const listed = errorCount > errors.length ? ` The first ${errors.length} are listed in details.` : "";
  return `The file has ${errorCount} error${errorCount === 1 ? "" : "s"}; nothing was imported.${where}${listed}`;
}

export function createImportsService(deps: ImportsDeps) {
  const { db, importsRepository: repo, auditService: audit } = deps;
  const spoolDir = join(deps.dataDir, "imports");
  let onError: (err: unknown, importId: string) => void = () => {};

  // One writer per process: imports are written one after another, in the order they were accepted.
  const queue: { tenantId: string; id: string; plan?: ImportPlan }[] = [];
  let current: Promise<void> | undefined;
  let stopping = false;
  let idleWaiters: (() => void)[] = [];

  const refsFor = (tenantId: string): ReferenceLoader => ({
    users: () => repo.userKeys(tenantId),
    devices: () => repo.deviceKeys(tenantId),
    groups: () => repo.groups(tenantId),
    groupEdges: () => repo.groupEdges(tenantId),
    groupsWithMemberType: (ids, type) => repo.groupsWithMemberType(tenantId, ids, type),
  });

  function pump() {
    if (current || stopping) return;
    const job = queue.shift();
    if (!job) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    current = write(job)
      .catch((err) => onError(err, job.id))
      .finally(() => {
        current = undefined;
        pump();
      });
  }

  async function failImport(row: ImportRow, errors: ImportError[]) {
    const failed = await repo.fail(row.tenant_id, row.id, errors.slice(0, MAX_LISTED_ERRORS));
    if (row.spool_path) rmSync(row.spool_path, { force: true });
    if (failed && (failed.processed_rows > 0 || failed.created_rows > 0 || failed.updated_rows > 0)) {
      // Rows were written before the failure: that is a change, so it is audited.
      await audit.record(db, ctxOfRow(row), {
        activity: `${activity[row.kind]} (failed)`,
        component: "Imports",
        operation: "Action",
        changes: [{ type: "allot.import", id: row.id, displayName: row.file_name ?? row.kind, after: countsOf(failed) }],
      });
    }
  }

  const ctxOfRow = (row: ImportRow): Ctx => ({ tenantId: row.tenant_id, actor: row.created_by, requestId: row.request_id ?? row.id });
  const countsOf = (r: ImportRow) => ({ kind: r.kind, status: r.status, totalRows: r.total_rows, processedRows: r.processed_rows, createdRows: r.created_rows, updatedRows: r.updated_rows });

  /** Writes the rest of an import, chunk by chunk. Without a plan (a resume), the spool file is validated again. */
  async function write(job: { tenantId: string; id: string; plan?: ImportPlan }): Promise<void> {
    const row = await repo.get(job.tenantId, job.id);
    if (row?.status !== "running") return;
    let plan = job.plan;
    if (!plan) {
      if (!row.spool_path) return failImport(row, [{ line: 0, message: "The import's spooled file is gone; it cannot be resumed. Import the file again." }]);
      const validator = new ImportValidator(row.kind, refsFor(row.tenant_id));
      try {
        await readCsv(createReadStream(row.spool_path), validator);
      } catch (err) {
        return failImport(row, [{ line: 0, message: `The import's spooled file cannot be read (${(err as Error).message}); import the file again.` }]);
      }
      const result = await validator.finish();
      if (!result.ok) return failImport(row, result.errors);
      plan = result.plan;
      if (plan.rows !== row.total_rows) return failImport(row, [{ line: 0, message: `The spooled file has ${plan.rows} rows, not ${row.total_rows}; import the file again.` }]);
    }
    const total = plan.rows;
    const start = row.processed_rows;
    const size = deps.chunkRows;
    const chunks = Math.ceil((total - start) / size);
    const bounds = (k: number) => [start + k * size, Math.min(total, start + (k + 1) * size)] as const;
    // Chunks may commit out of order (several writers on PostgreSQL); processed_rows only ever
    // covers the chunks committed without a gap before them, so a resume never skips a row (it may
    // write the last chunk or two again, which upserts make harmless).
    const committed = new Uint8Array(chunks);
    let prefix = 0; // chunks committed without a gap
    let nextChunk = 0;
    let halted: "stopped" | "lost" | undefined;
    let failure: { err: unknown; from: number; to: number } | undefined;
    const writer = async () => {
      while (!halted && !failure && nextChunk < chunks) {
        if (stopping) {
          halted = "stopped"; // left running: resumed at the next start
          return;
        }
        const k = nextChunk++;
        const [from, to] = bounds(k);
        try {
          await db.transaction().execute(async (trx) => {
            await repo.relaxCommit(trx);
            const counts = plan.kind === "members" ? await repo.writeMembers(trx, row.tenant_id, plan, from, to) : await repo.writeEntities(trx, row.tenant_id, plan, from, to);
            let upTo = prefix;
            while (upTo < chunks && (committed[upTo] || upTo === k)) upTo++;
            const processed = upTo === 0 ? start : bounds(upTo - 1)[1];
            if (!(await repo.advance(trx, row.tenant_id, row.id, processed, counts.created, counts.updated))) throw new LostImport();
          });
        } catch (err) {
          if (err instanceof LostImport) halted = "lost"; // failed or finished elsewhere meanwhile
          else failure ??= { err, from, to };
          return;
        }
        committed[k] = 1;
        while (prefix < chunks && committed[prefix]) prefix++;
      }
    };
    const mine = await repo.withImportLock(row.id, async () => {
      await Promise.all(Array.from({ length: Math.min(chunks, deps.engine === "postgres" ? PG_WRITERS : 1) }, writer));
    });
    if (!mine) return; // another process is writing it
    if (failure) {
      const latest = (await repo.get(row.tenant_id, row.id)) ?? row;
      await failImport(latest, [{ line: 0, message: `Writing rows ${failure.from + 1}–${failure.to} failed: ${(failure.err as Error).message}` }]);
      throw failure.err;
    }
    if (halted || stopping) return;
    // A big load leaves the planner's statistics stale and (PGlite has no autovacuum) the visibility
    // map unset, which would turn index-only scans into heap scans: refresh both before finishing.
    if (total >= MAINTAIN_AFTER_ROWS) await repo.maintain(row.kind).catch((err) => onError(err, row.id));
    await db.transaction().execute(async (trx) => {
      const after = await repo.complete(trx, row.tenant_id, row.id);
      if (!after) return; // completed by another process meanwhile
      await audit.record(trx, ctxOfRow(row), {
        activity: activity[row.kind],
        component: "Imports",
        operation: "Action",
        changes: [{ type: "allot.import", id: row.id, displayName: row.file_name ?? row.kind, after: countsOf(after) }],
      });
    });
    if (row.spool_path) rmSync(row.spool_path, { force: true });
  }

  return {
    /**
     * Spools and validates a CSV stream. A valid file becomes a running import (written in the
     * background); an invalid one is discarded and its errors returned.
     */
    async start(ctx: Ctx, kind: ImportKind, body: AsyncIterable<Buffer | string>, fileName?: string): Promise<StartResult> {
      const id = randomUUID();
      mkdirSync(spoolDir, { recursive: true });
      const spoolPath = join(spoolDir, `${id}.csv`);
      const spool: WriteStream = createWriteStream(spoolPath, { mode: 0o600 });
      const spoolFailed = once(spool, "error").then(([err]) => {
        throw err;
      });
      spoolFailed.catch(() => undefined);
      const validator = new ImportValidator(kind, refsFor(ctx.tenantId));
      try {
        await readCsv(body, validator, async (chunk) => {
          if (!spool.write(chunk)) await Promise.race([once(spool, "drain"), spoolFailed]);
        });
        spool.end();
        await Promise.race([once(spool, "finish"), spoolFailed]);
      } catch (err) {
        spool.destroy();
        rmSync(spoolPath, { force: true });
        throw err;
      }
      const result = await validator.finish();
      if (!result.ok) {
        rmSync(spoolPath, { force: true });
        return { ok: false, message: summary(result.errors, result.errorCount), errors: result.errors, errorCount: result.errorCount };
      }
      await repo.insert(db, {
        tenant_id: ctx.tenantId,
        id,
        kind,
        file_name: fileName ?? null,
        spool_path: spoolPath,
        total_rows: result.plan.rows,
        created_by: ctx.actor,
        request_id: ctx.requestId,
      });
      const row = await repo.get(ctx.tenantId, id);
      queue.push({ tenantId: ctx.tenantId, id, plan: result.plan });
      pump();
      return { ok: true, import: importToGraph(row!) };
    },

    async get(ctx: Ctx, id: string) {
      const row = /^[0-9a-f-]{36}$/i.test(id) ? await repo.get(ctx.tenantId, id) : undefined;
      if (!row) throw notFound("import", id);
      return importToGraph(row);
    },

    async list(ctx: Ctx, options: ListOptions) {
      const r = await runList(repo.listQuery(ctx.tenantId) as never, "t", importEntity, options);
      return { items: (r.rows as ImportRow[]).map(importToGraph), count: r.count, skiptoken: r.skiptoken };
    },

    /** Queues every import a stopped process left running; they continue from processed_rows. */
    async resumePending(): Promise<number> {
      const rows = await repo.running();
      for (const r of rows) if (!queue.some((q) => q.id === r.id)) queue.push({ tenantId: r.tenant_id, id: r.id });
      pump();
      return rows.length;
    },

    /** Where failures of background writing are reported (the server log); they are also kept on the import. */
    reportErrorsTo(fn: (err: unknown, importId: string) => void) {
      onError = fn;
    },

    /** Resolves when no import is being written or waiting. */
    idle(): Promise<void> {
      if (!current && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },

    /** Stops after the chunk being written (the import stays running and resumes at the next start). */
    async stop(): Promise<void> {
      stopping = true;
      await current;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    },
  };
}
export type ImportsService = ReturnType<typeof createImportsService>;
