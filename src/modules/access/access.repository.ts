import type { Kysely } from "kysely";
import { sql } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

export function createAccessRepository(db: Kysely<DB>) {
  return {
    countAdministrators: async (tenantId: string) =>
      Number(
        (await db.selectFrom("administrators").select(sql<number>`count(*)`.as("n")).where("tenant_id", "=", tenantId).executeTakeFirstOrThrow()).n,
      ),
    findAdministratorByEmail: (tenantId: string, email: string) =>
      db
        .selectFrom("administrators")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where(sql`lower(email)`, "=", email.toLowerCase())
        .executeTakeFirst(),
    findAdministrator: (tenantId: string, id: string) =>
      db.selectFrom("administrators").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),
    listAdministrators: (tenantId: string) =>
      db.selectFrom("administrators").selectAll().where("tenant_id", "=", tenantId).orderBy("created_at").execute(),
    insertAdministrator: (ex: Executor, row: { tenant_id: string; id: string; email: string; display_name: string; password_hash: string; roles: string[] }) =>
      ex.insertInto("administrators").values(row).returningAll().executeTakeFirstOrThrow(),
    updateAdministrator: (ex: Executor, tenantId: string, id: string, patch: { roles?: string[]; account_enabled?: boolean; display_name?: string; password_hash?: string }) =>
      ex.updateTable("administrators").set(patch).where("tenant_id", "=", tenantId).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteAdministrator: (ex: Executor, tenantId: string, id: string) =>
      ex.deleteFrom("administrators").where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),
    touchSignIn: (tenantId: string, id: string) =>
      db.updateTable("administrators").set({ last_sign_in_at: new Date() }).where("tenant_id", "=", tenantId).where("id", "=", id).execute(),

    insertSession: (row: { tenant_id: string; id_hash: string; administrator_id: string; csrf_token: string; expires_at: Date }) =>
      db.insertInto("sessions").values(row).execute(),
    findSession: (idHash: string) =>
      db
        .selectFrom("sessions as s")
        .innerJoin("administrators as a", (j) => j.onRef("a.tenant_id", "=", "s.tenant_id").onRef("a.id", "=", "s.administrator_id"))
        .select(["s.tenant_id", "s.csrf_token", "s.expires_at", "a.id", "a.email", "a.display_name", "a.roles", "a.account_enabled"])
        .where("s.id_hash", "=", idHash)
        .executeTakeFirst(),
    deleteSession: (idHash: string) => db.deleteFrom("sessions").where("id_hash", "=", idHash).execute(),
    deleteExpiredSessions: () => db.deleteFrom("sessions").where("expires_at", "<", new Date()).execute(),

    findAppByClientId: (clientId: string) => db.selectFrom("app_registrations").selectAll().where("client_id", "=", clientId).executeTakeFirst(),
    findApp: (tenantId: string, id: string) =>
      db.selectFrom("app_registrations").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),
    listApps: (tenantId: string) => db.selectFrom("app_registrations").selectAll().where("tenant_id", "=", tenantId).orderBy("created_at").execute(),
    insertApp: (ex: Executor, row: { tenant_id: string; id: string; client_id: string; display_name: string; secret_hash: string; secret_hint: string; roles: string[] }) =>
      ex.insertInto("app_registrations").values(row).returningAll().executeTakeFirstOrThrow(),
    updateApp: (ex: Executor, tenantId: string, id: string, patch: { secret_hash?: string; secret_hint?: string; secret_created_at?: Date; roles?: string[]; display_name?: string }) =>
      ex.updateTable("app_registrations").set(patch).where("tenant_id", "=", tenantId).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteApp: (ex: Executor, tenantId: string, id: string) =>
      ex.deleteFrom("app_registrations").where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),

    insertSetupLink: (ex: Executor, row: { tenant_id: string; token_hash: string; expires_at: Date }) => ex.insertInto("setup_links").values(row).execute(),
    invalidateSetupLinks: (ex: Executor, tenantId: string) =>
      ex.updateTable("setup_links").set({ used_at: new Date() }).where("tenant_id", "=", tenantId).where("used_at", "is", null).execute(),
    claimSetupLink: (ex: Executor, tokenHash: string) =>
      ex
        .updateTable("setup_links")
        .set({ used_at: new Date() })
        .where("token_hash", "=", tokenHash)
        .where("used_at", "is", null)
        .where("expires_at", ">", new Date())
        .returning(["tenant_id"])
        .executeTakeFirst(),
  };
}
export type AccessRepository = ReturnType<typeof createAccessRepository>;
