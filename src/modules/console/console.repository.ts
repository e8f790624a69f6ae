// Read-only figures for the console's dashboard that no Graph resource carries: the waitlist
// (license holdings in state `waiting`) and the latest license events.
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";

export function createConsoleRepository(db: Kysely<DB>) {
  return {
    async waitingByApp(tenantId: string, limit: number) {
      return db
        .selectFrom("license_holdings as h")
        .leftJoin("apps as a", (j) =>
          j.onRef("a.tenant_id", "=", "h.tenant_id").onRef("a.id", "=", "h.app_id"),
        )
        .where("h.tenant_id", "=", tenantId)
        .where("h.state", "=", "waiting")
        .groupBy(["h.app_id", "a.display_name"])
        .select((eb) => [
          "h.app_id as appId",
          "a.display_name as displayName",
          eb.fn.countAll<string>().as("waiting"),
        ])
        .orderBy("waiting", "desc")
        .limit(limit)
        .execute();
    },
    async waitingTotal(tenantId: string) {
      const r = await db
        .selectFrom("license_holdings")
        .where("tenant_id", "=", tenantId)
        .where("state", "=", "waiting")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    async recentEvents(tenantId: string, limit: number) {
      return db
        .selectFrom("license_events as e")
        .leftJoin("apps as a", (j) =>
          j.onRef("a.tenant_id", "=", "e.tenant_id").onRef("a.id", "=", "e.app_id"),
        )
        .where("e.tenant_id", "=", tenantId)
        .orderBy("e.seq", "desc")
        .limit(limit)
        .select([
          "e.app_id",
          "a.display_name",
          "e.holder_type",
          "e.holder_id",
          "e.from_state",
          "e.to_state",
          "e.reason",
          "e.occurred_at",
        ])
        .execute();
    },
  };
}
export type ConsoleRepository = ReturnType<typeof createConsoleRepository>;
