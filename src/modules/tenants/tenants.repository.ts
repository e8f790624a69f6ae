import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

export function createTenantsRepository(db: Kysely<DB>) {
  return {
    findDefault: () => db.selectFrom("tenants").selectAll().where("is_default", "=", true).executeTakeFirst(),
    findById: (id: string) => db.selectFrom("tenants").selectAll().where("id", "=", id).executeTakeFirst(),
    list: () => db.selectFrom("tenants").selectAll().orderBy("created_at").execute(),
    insert: (ex: Executor, t: { id: string; display_name: string; is_default: boolean }) =>
      ex.insertInto("tenants").values(t).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst(),
  };
}
export type TenantsRepository = ReturnType<typeof createTenantsRepository>;
