// OPS-3: a consistent copy of the embedded database while the server runs. PGlite has one session,
// so the copy is taken between transactions (holding PGlite's transaction lock) after a checkpoint:
// no write can happen while the files are read. PostgreSQL is backed up with its own tools.
import type { Database } from "../../db/database.ts";
import type { Ctx } from "../../http/context.ts";
import { AppError, forbidden } from "../../lib/errors.ts";
import type { TenantsService } from "../tenants/tenants.service.ts";

/** A gzip-compressed tar of the PGlite data directory, as PGlite's loadDataDir reads it back. */
export async function dumpEmbeddedDatabase(database: Database): Promise<Buffer> {
  const pglite = database.pglite;
  if (!pglite) throw new Error("not an embedded database");
  await pglite.query("CHECKPOINT");
  const blob = await pglite._runExclusiveTransaction(() => pglite.dumpDataDir("gzip"));
  return Buffer.from(await blob.arrayBuffer());
}

export function createBackupService(deps: { database: Database; tenantsService: TenantsService }) {
  return {
    async backup(ctx: Ctx): Promise<Buffer> {
      // The copy holds every tenant's data: only the instance operator (default tenant) may take it.
      const operatorTenant = await deps.tenantsService.resolve("default");
      if (!operatorTenant || ctx.tenantId !== operatorTenant.id)
        throw forbidden("Only administrators of the default tenant can back up the instance.");
      if (deps.database.kind !== "pglite")
        throw new AppError(
          "badRequest",
          "This server runs on PostgreSQL: back it up with pg_dump ('allot backup' with DATABASE_URL set runs it) or your provider's backups.",
        );
      return dumpEmbeddedDatabase(deps.database);
    },
  };
}
export type BackupService = ReturnType<typeof createBackupService>;
