// Every reconcile asks which Apple-user registrations and invitations are still open (a few rows).
// The open-operations index starts with the state, and once an initial push has settled the planner,
// with statistics from the middle of the push, read all of store_operations instead (~150 ms at
// 470k operations, for every incremental reconcile). This index holds only those few rows.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create index store_operations_open_users on store_operations (tenant_id, kind)
      where kind in ('registerUser', 'inviteUser') and state in ('pending', 'sending', 'sent');
  `,
  );
}
