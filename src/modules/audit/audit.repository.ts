import { randomUUID } from "node:crypto";
import { type Kysely, sql, type Transaction } from "kysely";
import type { AuditActor, AuditResource, DB } from "../../db/types.ts";

export type Executor = Kysely<DB> | Transaction<DB>;

export interface NewAuditEvent {
  tenantId: string;
  displayName: string;
  componentName: string;
  category: string;
  activity: string;
  activityType: string;
  activityOperationType: "Create" | "Patch" | "Delete" | "Action";
  activityResult?: "Success" | "Failure";
  correlationId: string | null;
  actor: AuditActor;
  resources: AuditResource[];
}

export function createAuditRepository(db: Kysely<DB>) {
  return {
    async insert(ex: Executor, events: NewAuditEvent[]): Promise<void> {
      if (events.length === 0) return;
      await ex
        .insertInto("audit_events")
        .values(
          events.map((e) => ({
            tenant_id: e.tenantId,
            id: randomUUID(),
            display_name: e.displayName,
            component_name: e.componentName,
            category: e.category,
            activity: e.activity,
            activity_type: e.activityType,
            activity_operation_type: e.activityOperationType,
            activity_result: e.activityResult ?? "Success",
            correlation_id: e.correlationId,
            actor: JSON.stringify(e.actor),
            resources: JSON.stringify(e.resources),
          })),
        )
        .execute();
    },
    /** Audit rows as derived table `t`, with the actor and first resource flattened for $filter. */
    listView(tenantId: string) {
      return db
        .selectFrom((eb) =>
          eb
            .selectFrom("audit_events as a")
            .selectAll("a")
            .select([
              sql<string>`a.actor->>'userPrincipalName'`.as("actor_upn"),
              sql<string>`a.actor->>'applicationDisplayName'`.as("actor_app"),
              sql<string>`a.actor->>'type'`.as("actor_type"),
              sql<string>`a.resources->0->>'resourceId'`.as("resource_id"),
            ])
            .where("a.tenant_id", "=", tenantId)
            .as("t"),
        )
        .selectAll("t");
    },
    async get(tenantId: string, id: string) {
      return db.selectFrom("audit_events").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
    },
  };
}
export type AuditRepository = ReturnType<typeof createAuditRepository>;
