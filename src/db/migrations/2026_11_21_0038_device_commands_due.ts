// The MDM bridge's watcher asks every second whether a tenant has device commands due. Without this
// index that question read every pending command (hundreds of thousands after an initial push).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create index device_commands_due on device_commands (tenant_id, next_attempt_at) where state = 'pending';
  `,
  );
}
