// admin_notifications: alerts for administrators (token expiring or taken over, …). SQL only.
import { type Kysely, type Selectable, sql } from "kysely";
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

    // ---- condition alerts (EUX-3): licenses running out, waitlist growing

    /** Per app: licenses bought, consumed by the ledger, consumed outside it, and members waiting for one. */
    licenseStats: async (ex: Executor, tenantId: string, appIds: readonly string[]) => {
      if (appIds.length === 0) return [];
      const r = await sql<{
        id: string;
        display_name: string | null;
        odata_type: string;
        total: number;
        untracked: number;
        consumed: number;
        waiting: number;
      }>`
        select a.id, a.display_name, a.odata_type, a.total_count::int as total, a.untracked_count::int as untracked,
          (select count(*) from license_holdings h where h.tenant_id = a.tenant_id and h.app_id = a.id
             and h.state in ('pendingAssign', 'assigned', 'pendingRelease'))::int as consumed,
          (select count(*) from license_holdings h where h.tenant_id = a.tenant_id and h.app_id = a.id
             and h.state = 'waiting' and h.reason = 'insufficientLicenses')::int as waiting
        from apps a where a.tenant_id = ${tenantId} and a.id = any(${appIds as string[]}::uuid[])`.execute(
        ex,
      );
      return r.rows;
    },

    conditionsOf: (ex: Executor, tenantId: string, resourceIds: readonly string[]) =>
      resourceIds.length === 0
        ? Promise.resolve([])
        : ex
            .selectFrom("alert_conditions")
            .selectAll()
            .where("tenant_id", "=", tenantId)
            .where("resource_id", "in", resourceIds as string[])
            .execute(),

    settings: (ex: Executor, tenantId: string) =>
      ex.selectFrom("alert_settings").selectAll().where("tenant_id", "=", tenantId).executeTakeFirst(),

    upsertSettings: (
      ex: Executor,
      tenantId: string,
      values: { licenses_running_out_percent?: number; waitlist_alert_minutes?: number },
      now: Date,
    ) =>
      ex
        .insertInto("alert_settings")
        .values({ tenant_id: tenantId, ...values, updated_at: now })
        .onConflict((oc) => oc.column("tenant_id").doUpdateSet({ ...values, updated_at: now }))
        .returningAll()
        .executeTakeFirstOrThrow(),

    /** Marks the condition active; true only for the call that turned it on (raise the alert then). */
    activateCondition: async (
      ex: Executor,
      tenantId: string,
      kind: string,
      resourceId: string,
      value: number,
      now: Date,
    ) => {
      const r = await sql`
        insert into alert_conditions (tenant_id, kind, resource_id, active, value, raised_at, updated_at)
        values (${tenantId}, ${kind}, ${resourceId}, true, ${value}, ${now}, ${now})
        on conflict (tenant_id, kind, resource_id) do update
          set active = true, value = excluded.value, raised_at = excluded.raised_at, updated_at = excluded.updated_at
          where alert_conditions.active = false
        returning 1`.execute(ex);
      return r.rows.length > 0;
    },

    clearCondition: async (ex: Executor, tenantId: string, kind: string, resourceId: string, now: Date) => {
      await sql`update alert_conditions set active = false, value = 0, updated_at = ${now}
        where tenant_id = ${tenantId} and kind = ${kind} and resource_id = ${resourceId} and (active or value <> 0)`.execute(
        ex,
      );
    },

    /**
     * Records a count that grew past the one last alerted, at most once per `debounceMs`; true when
     * the caller should raise the alert. Atomic (a conditional upsert), so two processes raise it once.
     */
    growCondition: async (
      ex: Executor,
      tenantId: string,
      kind: string,
      resourceId: string,
      value: number,
      debounceMs: number,
      now: Date,
    ) => {
      const r = await sql`
        insert into alert_conditions (tenant_id, kind, resource_id, active, value, raised_at, updated_at)
        values (${tenantId}, ${kind}, ${resourceId}, true, ${value}, ${now}, ${now})
        on conflict (tenant_id, kind, resource_id) do update
          set active = true, value = excluded.value, raised_at = excluded.raised_at, updated_at = excluded.updated_at
          where excluded.value > alert_conditions.value
            and (alert_conditions.raised_at is null or alert_conditions.raised_at <= ${new Date(now.getTime() - debounceMs)})
        returning 1`.execute(ex);
      return r.rows.length > 0;
    },
  };
}
export type AlertsRepository = ReturnType<typeof createAlertsRepository>;
