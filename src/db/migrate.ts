// Forward-only migrations, registered statically (no directory scanning at run time).
import type { Kysely } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";
import * as foundation from "./migrations/2026_11_21_0001_foundation.ts";
import * as directorySortKeys from "./migrations/2026_11_21_0003_directory_sort_keys.ts";
import * as auditNoTruncate from "./migrations/2026_11_21_0010_audit_no_truncate.ts";
import * as appleTokensCatalog from "./migrations/2026_11_21_0020_apple_tokens_catalog.ts";
import * as catalogMetadata from "./migrations/2026_11_21_0022_catalog_metadata.ts";
import * as assignments from "./migrations/2026_11_21_0030_assignments.ts";
import * as ledger from "./migrations/2026_11_21_0031_ledger.ts";
import * as notifications from "./migrations/2026_11_21_0032_notifications.ts";
import * as revocation from "./migrations/2026_11_21_0033_revocation.ts";
import * as appleUserInvitations from "./migrations/2026_11_21_0035_apple_user_invitations.ts";
import * as appUpdatesAlerts from "./migrations/2026_11_21_0036_app_updates_alerts.ts";
import * as licenseHistoryIndex from "./migrations/2026_11_21_0037_license_history_index.ts";
import * as deviceCommandsDue from "./migrations/2026_11_21_0038_device_commands_due.ts";
import * as openUserOperations from "./migrations/2026_11_21_0039_open_user_operations.ts";

const migrations: Record<string, Migration> = {
  "2026_11_21_0001_foundation": foundation,
  "2026_11_21_0003_directory_sort_keys": directorySortKeys,
  "2026_11_21_0010_audit_no_truncate": auditNoTruncate,
  "2026_11_21_0020_apple_tokens_catalog": appleTokensCatalog,
  "2026_11_21_0022_catalog_metadata": catalogMetadata,
  "2026_11_21_0030_assignments": assignments,
  "2026_11_21_0031_ledger": ledger,
  "2026_11_21_0032_notifications": notifications,
  "2026_11_21_0033_revocation": revocation,
  "2026_11_21_0035_apple_user_invitations": appleUserInvitations,
  "2026_11_21_0036_app_updates_alerts": appUpdatesAlerts,
  "2026_11_21_0037_license_history_index": licenseHistoryIndex,
  "2026_11_21_0038_device_commands_due": deviceCommandsDue,
  "2026_11_21_0039_open_user_operations": openUserOperations,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error)
    throw new Error(`Database migration failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Changes whenever a migration is added or edited: keys the cached PGlite template (pglite-template.ts). */
export function migrationsFingerprint(): string {
  return Object.entries(migrations)
    .map(([name, m]) => `${name}\n${m.up.toString()}\n${m.down?.toString() ?? ""}`)
    .join("\n--\n");
}
