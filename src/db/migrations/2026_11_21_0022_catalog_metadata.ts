// SYNC/APP: what the store catalogue says about an app beyond its name (device families for
// applicableDeviceType, genres/seller/language for books), when metadata was last read, and the
// number of store assignments Allot did not make (SYNC-4), kept per app so lists need no count.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    alter table apps add column device_families text[] not null default '{}';
    alter table apps add column genres text[] not null default '{}';
    alter table apps add column seller text;
    alter table apps add column minimum_os_version text;
    alter table apps add column metadata_language text;
    alter table apps add column metadata_synced_at timestamptz;
    alter table apps add column untracked_count integer not null default 0;
    create index store_assignments_synced on store_assignments (tenant_id, token_id, synced_at);
  `,
  );
}
