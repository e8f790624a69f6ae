// admin_notifications: alerts for administrators (token expiring or taken over, …). SQL only.
import type { Kysely, Selectable } from "kysely";
import type { AdminNotificationsTable, DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

export type AlertRow = Selectable<AdminNotificationsTable>;

export interface NewAlert {
  tenant_id: string;
  id: string;
  kind: string;
  severity: "info" | "warning" | "critical";
  title: string;
  message: string;
  resource_type: string | null;
  resource_id: string | null;
}

export function createAlertsRepository(db: Kysely<DB>) {
  return {
    insert: (ex: Executor, row: NewAlert) =>
      ex.insertInto("admin_notifications").values(row).returningAll().executeTakeFirstOrThrow(),
    /** Rows of one tenant, aliased `t`, for runList. */
    listQuery: (tenantId: string) =>
      db.selectFrom("admin_notifications as t").selectAll("t").where("t.tenant_id", "=", tenantId),
    find: (ex: Executor, tenantId: string, id: string) =>
      ex
        .selectFrom("admin_notifications")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst(),
    acknowledge: (ex: Executor, tenantId: string, id: string, at: Date) =>
      ex
        .updateTable("admin_notifications")
        .set({ acknowledged_at: at })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("acknowledged_at", "is", null)
        .returningAll()
        .executeTakeFirst(),
  };
}
export type AlertsRepository = ReturnType<typeof createAlertsRepository>;
