// TEN-5: the audit log is append-only. Row triggers do not fire on TRUNCATE, so refuse it too.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create function audit_events_no_truncate() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_events is append-only';
    end $$;
    create trigger audit_events_no_truncate before truncate on audit_events
      for each statement execute function audit_events_no_truncate();
  `,
  );
}
