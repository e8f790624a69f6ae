// Revocation (REV-2): how many licenses of each app administrators revoked (catalog `revokedLicenseCount`).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(db, `alter table apps add column revoked_count integer not null default 0;`);
}
