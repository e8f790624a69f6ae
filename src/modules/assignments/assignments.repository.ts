// Assignments of apps and books (mobile_app_assignments), the apps they belong to and the groups
// they target. SQL only.
import type { Kysely } from "kysely";
import type { AssignmentSettingsJson, DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AssignmentRow, Intent, TargetKind } from "./assignments.entities.ts";

export interface AppOfAssignment {
  id: string;
  odata_type: string;
  source: string;
  display_name: string | null;
  adam_id: string | null;
  device_assignable: boolean;
  product_type: string | null;
}

export interface NewAssignment {
  id: string;
  target_kind: TargetKind;
  group_id: string | null;
  intent: Intent;
  settings: AssignmentSettingsJson;
}

const columns = [
  "id",
  "seq",
  "app_id",
  "target_kind",
  "group_id",
  "intent",
  "settings",
  "created_at",
  "updated_at",
] as const;

export function createAssignmentsRepository(db: Kysely<DB>) {
  return {
    findApp: (ex: Executor, tenantId: string, appId: string): Promise<AppOfAssignment | undefined> =>
      ex
        .selectFrom("apps")
        .select([
          "id",
          "odata_type",
          "source",
          "display_name",
          "adam_id",
          "device_assignable",
          "product_type",
        ])
        .where("tenant_id", "=", tenantId)
        .where("id", "=", appId)
        .executeTakeFirst(),

    /** Locks the app's row so concurrent changes to one app's assignments apply one after the other. */
    lockApp: async (ex: Executor, tenantId: string, appId: string) => {
      await ex
        .selectFrom("apps")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", appId)
        .forUpdate()
        .execute();
    },

    groups: (ex: Executor, tenantId: string, ids: readonly string[]) =>
      ids.length === 0
        ? Promise.resolve(
            [] as { id: string; display_name: string; member_kind: "user" | "device" | "mixed" }[],
          )
        : ex
            .selectFrom("groups")
            .select(["id", "display_name", "member_kind"])
            .where("tenant_id", "=", tenantId)
            .where("id", "in", ids as string[])
            .execute(),

    /** The app's assignments in creation order. */
    listForApp: (ex: Executor, tenantId: string, appId: string) =>
      ex
        .selectFrom("mobile_app_assignments")
        .select(columns)
        .where("tenant_id", "=", tenantId)
        .where("app_id", "=", appId)
        .orderBy("seq")
        .execute() as Promise<AssignmentRow[]>,

    /** Assignments of many apps (for $expand), in creation order. */
    listForApps: (tenantId: string, appIds: readonly string[]) =>
      appIds.length === 0
        ? Promise.resolve([] as AssignmentRow[])
        : (db
            .selectFrom("mobile_app_assignments")
            .select(columns)
            .where("tenant_id", "=", tenantId)
            .where("app_id", "in", appIds as string[])
            .orderBy("seq")
            .execute() as Promise<AssignmentRow[]>),

    insert: async (ex: Executor, tenantId: string, appId: string, rows: readonly NewAssignment[]) => {
      if (rows.length === 0) return;
      await ex
        .insertInto("mobile_app_assignments")
        .values(
          rows.map((r) => ({
            tenant_id: tenantId,
            app_id: appId,
            ...r,
            settings: JSON.stringify(r.settings),
          })),
        )
        .execute();
    },

    update: async (ex: Executor, tenantId: string, row: NewAssignment) => {
      await ex
        .updateTable("mobile_app_assignments")
        .set({
          target_kind: row.target_kind,
          group_id: row.group_id,
          intent: row.intent,
          settings: JSON.stringify(row.settings),
          updated_at: new Date(),
        })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", row.id)
        .execute();
    },

    remove: async (ex: Executor, tenantId: string, ids: readonly string[]) => {
      if (ids.length === 0) return;
      await ex
        .deleteFrom("mobile_app_assignments")
        .where("tenant_id", "=", tenantId)
        .where("id", "in", ids as string[])
        .execute();
    },
  };
}
export type AssignmentsRepository = ReturnType<typeof createAssignmentsRepository>;
