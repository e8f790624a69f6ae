// License history per app (GET mobileApps/{id}/licenseHistory): newest first, keyset-paged on
// (occurred_at, seq). Without this index every page sorts all of an app's events.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create index license_events_app_time on license_events (tenant_id, app_id, occurred_at, seq);
  `,
  );
}
