// vpp_tokens: SQL only. Every method takes the executor (db or a transaction) it runs on.
import { type Kysely, sql, type Updateable } from "kysely";
import type { DB, VppTokensTable } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { VppTokenRow } from "./tokens.entities.ts";

export type VppTokenInsert = {
  tenant_id: string;
  id: string;
  display_name: string | null;
  organization_name: string | null;
  location_name: string | null;
  location_id: string;
  token_ciphertext: string;
  token_fingerprint: string;
  apple_id: string | null;
  country_or_region: string;
  account_type: "business" | "education";
  automatically_update_apps: boolean;
  state: VppTokenRow["state"];
  state_reason: string | null;
  expiration_at: Date;
  notification_secret_hash: string | null;
  notifications_enabled: boolean;
  external_mdm: string;
};
export type VppTokenUpdate = Updateable<VppTokensTable>;

const infoColumns = [
  "tenant_id",
  "id",
  "state",
  "display_name",
  "organization_name",
  "location_name",
  "location_id",
  "apple_id",
  "country_or_region",
  "account_type",
  "automatically_update_apps",
  "notifications_enabled",
  "expiration_at",
  "sync_interval_hours",
  "next_sync_at",
  "last_sync_at",
  "last_full_sync_at",
  "last_sync_status",
  "assets_version_id",
  "assignments_version_id",
  "users_version_id",
] as const satisfies readonly (keyof VppTokensTable)[];
export type InfoRow = Pick<VppTokenRow, (typeof infoColumns)[number]>;

export function createTokensRepository(db: Kysely<DB>) {
  return {
    /**
     * The tenant's tokens as a row source aliased `t` for runList; `state_v1` is the state as v1.0
     * shows it (no duplicateLocationId there).
     */
    listQuery: (tenantId: string) =>
      db
        .selectFrom((eb) =>
          eb
            .selectFrom("vpp_tokens")
            .selectAll()
            .select(
              sql<string>`case when state = 'duplicateLocationId' then 'valid' else state end`.as("state_v1"),
            )
            .where("tenant_id", "=", tenantId)
            .as("t"),
        )
        .selectAll("t"),

    find: (ex: Executor, tenantId: string, id: string) =>
      ex
        .selectFrom("vpp_tokens")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst(),

    /** By id alone (notification endpoint: the URL names the token, not the tenant). */
    findAnyTenant: (ex: Executor, id: string) =>
      ex
        .selectFrom("vpp_tokens")
        .select(["tenant_id", "id", "state", "notification_secret_hash"])
        .where("id", "=", id)
        .execute(),

    /** Every token of the instance on this Apple location (any tenant). */
    findByLocation: (ex: Executor, locationId: string) =>
      ex
        .selectFrom("vpp_tokens")
        .select(["tenant_id", "id", "state", "created_at"])
        .where("location_id", "=", locationId)
        .orderBy("seq")
        .execute(),

    countForTenant: async (ex: Executor, tenantId: string) =>
      Number(
        (
          await ex
            .selectFrom("vpp_tokens")
            .select(sql<number>`count(*)`.as("n"))
            .where("tenant_id", "=", tenantId)
            .executeTakeFirstOrThrow()
        ).n,
      ),

    /** Serialises uploads of one location (and one tenant's count) across processes until the transaction ends. */
    lock: async (ex: Executor, key: string) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(ex);
    },

    insert: (ex: Executor, row: VppTokenInsert) =>
      ex.insertInto("vpp_tokens").values(row).returningAll().executeTakeFirstOrThrow(),

    update: (ex: Executor, tenantId: string, id: string, set: VppTokenUpdate) =>
      ex
        .updateTable("vpp_tokens")
        .set(set)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst(),

    /** Changes the state unless it already is `state`; the row when it changed. */
    setStateIfDifferent: (
      ex: Executor,
      tenantId: string,
      id: string,
      state: VppTokenRow["state"],
      set: VppTokenUpdate,
    ) =>
      ex
        .updateTable("vpp_tokens")
        .set({ ...set, state, last_modified_at: new Date() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("state", "<>", state)
        .returningAll()
        .executeTakeFirst(),

    /** Deletes the token; apps, store assignments and Apple users go with it (foreign keys cascade). */
    delete: async (ex: Executor, tenantId: string, id: string) => {
      await ex
        .deleteFrom("store_notifications")
        .where("tenant_id", "=", tenantId)
        .where("token_id", "=", id)
        .execute();
      return ex
        .deleteFrom("vpp_tokens")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
    },

    countApps: async (ex: Executor, tenantId: string, tokenId: string) =>
      Number(
        (
          await ex
            .selectFrom("apps")
            .select(sql<number>`count(*)`.as("n"))
            .where("tenant_id", "=", tenantId)
            .where("token_id", "=", tokenId)
            .executeTakeFirstOrThrow()
        ).n,
      ),

    /** Everything but the secrets, for the sync. */
    findInfo: (ex: Executor, tenantId: string, id: string) =>
      ex
        .selectFrom("vpp_tokens")
        .select(infoColumns)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst(),

    /** Tokens a scheduled sync should visit (any tenant). */
    listSyncable: (ex: Executor) =>
      ex
        .selectFrom("vpp_tokens")
        .select(infoColumns)
        .where("state", "in", ["valid", "duplicateLocationId"])
        .orderBy("tenant_id")
        .orderBy("seq")
        .execute(),

    /** Tokens that are expired or within `days` of expiry, not yet marked expired (any tenant). */
    expiryCandidates: (ex: Executor, before: Date) =>
      ex
        .selectFrom("vpp_tokens")
        .select([
          "tenant_id",
          "id",
          "state",
          "expiration_at",
          "expiry_warnings_sent",
          "display_name",
          "organization_name",
          "location_name",
        ])
        .where("expiration_at", "<=", before)
        .where("state", "<>", "expired")
        .execute(),

    /** Adds warning thresholds to expiry_warnings_sent unless `first` is already there; true when this call added them. */
    markWarningsSent: async (ex: Executor, tenantId: string, id: string, first: number, days: number[]) => {
      const r = await ex
        .updateTable("vpp_tokens")
        .set({
          expiry_warnings_sent: sql<
            number[]
          >`array(select distinct d from unnest(expiry_warnings_sent || ${sql.val(days)}::integer[]) as d order by d desc)`,
        })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where(sql<boolean>`not (${first} = any(expiry_warnings_sent))`)
        .returning("id")
        .executeTakeFirst();
      return r !== undefined;
    },
  };
}
export type TokensRepository = ReturnType<typeof createTokensRepository>;
