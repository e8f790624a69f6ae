// The store's truth as last synced (SYNC): apps per (token, asset), the store_assignments mirror,
// Apple users Allot created, processed notifications, and the sync schedule columns of vpp_tokens.
// SQL only; every write takes the executor (db or a transaction) it runs on. Bulk writes take whole
// arrays through unnest() so one statement carries a page.
import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { DB, VppTokenState } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

export interface SyncTokenRow {
  tenant_id: string;
  id: string;
  state: VppTokenState;
  country_or_region: string;
  display_name: string | null;
  organization_name: string | null;
  notifications_enabled: boolean;
  assignments_version_id: string | null;
  users_version_id: string | null;
  last_full_sync_at: Date | null;
  sync_interval_hours: number | null;
  next_sync_at: Date | null;
}

export interface AssetInput {
  adamId: string;
  pricingParam: string;
  productType: string;
  odataType: string;
  supportedPlatforms: string[];
  deviceAssignable: boolean;
  revocable: boolean;
  totalCount: number;
  assignedCount: number;
  availableCount: number;
  retiredCount: number;
}

export interface AppKeyRow {
  id: string;
  adam_id: string;
  pricing_param: string;
  product_type: string | null;
  display_name: string | null;
  metadata_status: string;
  metadata_country: string | null;
  metadata_synced_at: Date | null;
  inserted: boolean;
}

export interface MetadataUpdate {
  id: string;
  displayName: string;
  publisher: string | null;
  description: string | null;
  bundleId: string | null;
  version: string | null;
  iconUrl: string | null;
  appStoreUrl: string | null;
  releaseAt: string | null;
  deviceFamilies: string[];
  genres: string[];
  seller: string | null;
  minimumOsVersion: string | null;
  country: string;
  language: string;
  localizations: Record<string, { displayName: string; description: string | null }>;
}

export interface AssignmentKey {
  adamId: string;
  pricingParam: string;
  serialNumber: string;
  clientUserId: string;
}

export interface AppleUserUpdate {
  clientUserId: string;
  status: string;
  appleUserId?: string | null;
  email?: string | null;
  inviteCode?: string | null;
}

const syncable: VppTokenState[] = ["valid", "duplicateLocationId"];

/** Each assignment once (one statement may not touch a row twice). */
function uniqueAssignments(rows: readonly AssignmentKey[]): AssignmentKey[] {
  return [
    ...new Map(
      rows.map((r) => [
        `${r.adamId}\u0000${r.pricingParam}\u0000${r.serialNumber}\u0000${r.clientUserId}`,
        r,
      ]),
    ).values(),
  ];
}

function columns<T>(rows: readonly T[], pick: (r: T) => string) {
  return sql.val(rows.map(pick));
}

export function createSyncRepository(db: Kysely<DB>) {
  return {
    syncableStates: syncable,

    findToken: (ex: Executor, tenantId: string, tokenId: string): Promise<SyncTokenRow | undefined> =>
      ex
        .selectFrom("vpp_tokens")
        .select([
          "tenant_id",
          "id",
          "state",
          "country_or_region",
          "display_name",
          "organization_name",
          "notifications_enabled",
          "assignments_version_id",
          "users_version_id",
          "last_full_sync_at",
          "sync_interval_hours",
          "next_sync_at",
        ])
        .where("tenant_id", "=", tenantId)
        .where("id", "=", tokenId)
        .executeTakeFirst() as Promise<SyncTokenRow | undefined>,

    /** Syncable tokens whose scheduled time has come, or that have none yet (any tenant). */
    dueTokens: (now: Date, limit: number) =>
      db
        .selectFrom("vpp_tokens")
        .select(["tenant_id", "id", "next_sync_at", "sync_interval_hours"])
        .where("state", "in", syncable)
        .where((eb) => eb.or([eb("next_sync_at", "is", null), eb("next_sync_at", "<=", now)]))
        .orderBy("next_sync_at")
        .limit(limit)
        .execute(),

    setNextSync: async (ex: Executor, tenantId: string, tokenId: string, at: Date) => {
      await ex
        .updateTable("vpp_tokens")
        .set({ next_sync_at: at })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", tokenId)
        .execute();
    },

    // ---------------- apps

    /**
     * Upserts one page of Apple's assets as apps of the token (APP-1: one row per (token, asset)).
     * Counts and store flags follow Apple; metadata columns are left to upsertMetadata.
     */
    upsertAssets: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      input: readonly AssetInput[],
      now: Date,
    ): Promise<AppKeyRow[]> => {
      // One statement may not touch a row twice: the last of any repeated asset wins.
      const assets = [...new Map(input.map((a) => [`${a.adamId}\u0000${a.pricingParam}`, a])).values()];
      if (assets.length === 0) return [];
      const result = await sql<AppKeyRow>`
        insert into apps as a (tenant_id, id, odata_type, source, token_id, adam_id, pricing_param, product_type, supported_platforms,
                          device_assignable, revocable, total_count, assigned_count, available_count, retired_count, created_at, last_modified_at)
        select ${tenantId}::uuid, v.id::uuid, v.odata_type, 'appleVpp', ${tokenId}::uuid, v.adam_id, v.pricing_param, v.product_type,
               string_to_array(v.platforms, ','), v.device_assignable, v.revocable, v.total, v.assigned, v.available, v.retired, ${now}, ${now}
        from unnest(${columns(assets, () => randomUUID())}::text[], ${columns(assets, (a) => a.odataType)}::text[],
                    ${columns(assets, (a) => a.adamId)}::text[], ${columns(assets, (a) => a.pricingParam)}::text[],
                    ${columns(assets, (a) => a.productType)}::text[], ${columns(assets, (a) => a.supportedPlatforms.join(","))}::text[],
                    ${sql.val(assets.map((a) => a.deviceAssignable))}::boolean[], ${sql.val(assets.map((a) => a.revocable))}::boolean[],
                    ${sql.val(assets.map((a) => a.totalCount))}::integer[], ${sql.val(assets.map((a) => a.assignedCount))}::integer[],
                    ${sql.val(assets.map((a) => a.availableCount))}::integer[], ${sql.val(assets.map((a) => a.retiredCount))}::integer[])
             as v(id, odata_type, adam_id, pricing_param, product_type, platforms, device_assignable, revocable, total, assigned, available, retired)
        on conflict (tenant_id, token_id, adam_id, pricing_param) where token_id is not null do update set
          odata_type = excluded.odata_type,
          product_type = excluded.product_type,
          supported_platforms = excluded.supported_platforms,
          device_assignable = excluded.device_assignable,
          revocable = excluded.revocable,
          total_count = excluded.total_count,
          assigned_count = excluded.assigned_count,
          available_count = excluded.available_count,
          retired_count = excluded.retired_count,
          last_modified_at = case
            when (a.odata_type, a.product_type, a.supported_platforms, a.device_assignable, a.revocable, a.total_count, a.assigned_count, a.available_count, a.retired_count)
                 is distinct from (excluded.odata_type, excluded.product_type, excluded.supported_platforms, excluded.device_assignable, excluded.revocable,
                                   excluded.total_count, excluded.assigned_count, excluded.available_count, excluded.retired_count)
            then excluded.last_modified_at else a.last_modified_at end
        returning a.id, a.adam_id, a.pricing_param, a.product_type, a.display_name, a.metadata_status, a.metadata_country, a.metadata_synced_at,
                  (a.xmax = 0) as inserted
      `.execute(ex);
      return result.rows;
    },

    /** Apps of the token Apple no longer lists: their counts go to zero (the row, and its id, stay). */
    zeroMissingAssets: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      seen: readonly { adamId: string; pricingParam: string }[],
      now: Date,
    ): Promise<number> => {
      const r = await sql`
        update apps set total_count = 0, assigned_count = 0, available_count = 0, retired_count = 0, last_modified_at = ${now}
        where tenant_id = ${tenantId} and token_id = ${tokenId}
          and (total_count, assigned_count, available_count, retired_count) <> (0, 0, 0, 0)
          and (adam_id, pricing_param) not in (select * from unnest(${columns(seen, (s) => s.adamId)}::text[], ${columns(seen, (s) => s.pricingParam)}::text[]))
      `.execute(ex);
      return Number(r.numAffectedRows ?? 0);
    },

    /** The token's apps whose metadata should be read again (or for the first time). */
    appsNeedingMetadata: (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      country: string,
      olderThan: Date | undefined,
    ) =>
      ex
        .selectFrom("apps")
        .select([
          "id",
          "adam_id",
          "pricing_param",
          "product_type",
          "display_name",
          "metadata_status",
          "metadata_country",
          "metadata_synced_at",
        ])
        .where("tenant_id", "=", tenantId)
        .where("token_id", "=", tokenId)
        .where((eb) => {
          const conditions = [
            eb("metadata_status", "in", ["pending", "notFound", "notSoldInStorefront"]),
            eb("metadata_country", "is", null),
            eb("metadata_country", "<>", country),
            eb("metadata_synced_at", "is", null),
          ];
          if (olderThan) conditions.push(eb("metadata_synced_at", "<", olderThan));
          return eb.or(conditions);
        })
        .orderBy("seq")
        .execute(),

    /** Writes the metadata of many apps in one statement (one row each; unchanged apps keep last_modified_at). */
    upsertMetadata: async (ex: Executor, tenantId: string, updates: readonly MetadataUpdate[], now: Date) => {
      if (updates.length === 0) return;
      const rows = JSON.stringify(
        updates.map((m) => ({
          id: m.id,
          display_name: m.displayName,
          publisher: m.publisher,
          description: m.description,
          bundle_id: m.bundleId,
          version: m.version,
          icon_url: m.iconUrl,
          app_store_url: m.appStoreUrl,
          release_at: m.releaseAt,
          device_families: m.deviceFamilies,
          genres: m.genres,
          seller: m.seller,
          minimum_os_version: m.minimumOsVersion,
          country: m.country,
          language: m.language,
          localizations: m.localizations,
        })),
      );
      await sql`
        update apps a set
          display_name = v.display_name, publisher = v.publisher, description = v.description, bundle_id = v.bundle_id,
          version = v.version, icon_url = v.icon_url, app_store_url = v.app_store_url, release_at = v.release_at,
          device_families = coalesce(v.device_families, '{}'), genres = coalesce(v.genres, '{}'), seller = v.seller,
          minimum_os_version = v.minimum_os_version, metadata_country = v.country, metadata_language = v.language,
          metadata_localizations = v.localizations, metadata_status = 'ok', metadata_synced_at = ${now},
          last_modified_at = case
            when (a.display_name, a.publisher, a.description, a.bundle_id, a.version, a.icon_url, a.app_store_url, a.metadata_country, a.metadata_status)
                 is distinct from (v.display_name, v.publisher, v.description, v.bundle_id, v.version, v.icon_url, v.app_store_url, v.country, 'ok')
            then ${now}::timestamptz else a.last_modified_at end
        from jsonb_to_recordset(${rows}::jsonb) as v(
          id uuid, display_name text, publisher text, description text, bundle_id text, version text, icon_url text,
          app_store_url text, release_at timestamptz, device_families text[], genres text[], seller text,
          minimum_os_version text, country text, language text, localizations jsonb)
        where a.tenant_id = ${tenantId} and a.id = v.id
      `.execute(ex);
    },

    /** Flags apps whose metadata the storefront did not return; what they had stays (TOK-6). */
    setMetadataStatus: async (
      ex: Executor,
      tenantId: string,
      ids: readonly string[],
      status: "notFound" | "notSoldInStorefront",
      now: Date,
    ) => {
      if (ids.length === 0) return;
      await ex
        .updateTable("apps")
        .set({
          metadata_status: status,
          metadata_synced_at: now,
          last_modified_at: sql<Date>`case when metadata_status is distinct from ${status} then ${now}::timestamptz else last_modified_at end`,
        })
        .where("tenant_id", "=", tenantId)
        .where("id", "in", ids)
        .execute();
    },

    /** ASSET_COUNT: a purchase (+) or refund (−) changes total and available; returns the app id, undefined when the asset is unknown. */
    applyCountDelta: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      adamId: string,
      pricingParam: string,
      delta: number,
      now: Date,
    ): Promise<string | undefined> => {
      const r = await ex
        .updateTable("apps")
        .set({
          total_count: sql<number>`greatest(total_count + ${delta}, 0)`,
          available_count: sql<number>`greatest(available_count + ${delta}, 0)`,
          last_modified_at: now,
        })
        .where("tenant_id", "=", tenantId)
        .where("token_id", "=", tokenId)
        .where("adam_id", "=", adamId)
        .where("pricing_param", "=", pricingParam)
        .returning("id")
        .executeTakeFirst();
      return r?.id; // the app's id, or undefined for an asset not known yet
    },

    /** ASSET_MANAGEMENT: licenses moved between available and assigned (per app, from the rows really changed). */
    applyAssignedDeltas: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      deltas: ReadonlyMap<string, { adamId: string; pricingParam: string; delta: number }>,
      now: Date,
    ) => {
      for (const d of deltas.values()) {
        if (d.delta === 0) continue;
        await ex
          .updateTable("apps")
          .set({
            assigned_count: sql<number>`greatest(assigned_count + ${d.delta}, 0)`,
            available_count: sql<number>`greatest(available_count - ${d.delta}, 0)`,
            last_modified_at: now,
          })
          .where("tenant_id", "=", tenantId)
          .where("token_id", "=", tokenId)
          .where("adam_id", "=", d.adamId)
          .where("pricing_param", "=", d.pricingParam)
          .execute();
      }
    },

    /** untracked_count per app from the mirror (SYNC-4); only apps given, or every app of the token. */
    refreshUntrackedCounts: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      only?: readonly { adamId: string; pricingParam: string }[],
    ) => {
      if (only && only.length === 0) return;
      const keys = only
        ? sql`(select * from unnest(${columns(only, (o) => o.adamId)}::text[], ${columns(only, (o) => o.pricingParam)}::text[]))`
        : undefined;
      const scope = keys ? sql`and (a2.adam_id, a2.pricing_param) in ${keys}` : sql``;
      const inner = keys ? sql`and (adam_id, pricing_param) in ${keys}` : sql``;
      await sql`
        update apps a set untracked_count = coalesce(c.n, 0)
        from apps a2
        left join (
          select adam_id, pricing_param, count(*)::integer as n from store_assignments
          where tenant_id = ${tenantId} and token_id = ${tokenId} and not tracked ${inner}
          group by adam_id, pricing_param
        ) c on c.adam_id = a2.adam_id and c.pricing_param = a2.pricing_param
        where a2.tenant_id = ${tenantId} and a2.token_id = ${tokenId} ${scope}
          and a.tenant_id = a2.tenant_id and a.id = a2.id and a.untracked_count <> coalesce(c.n, 0)
      `.execute(ex);
    },

    /** Fresh planner statistics for tables a sync has just changed a lot. */
    analyze: async (ex: Executor, tables: readonly ("store_assignments" | "apps")[]) => {
      for (const t of tables) await sql`analyze ${sql.table(t)}`.execute(ex);
    },

    // ---------------- store assignments (the mirror)

    /** Inserts the page or marks its rows as seen at `syncedAt`; `tracked` is never touched here. Returns rows newly inserted. */
    upsertAssignments: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      input: readonly AssignmentKey[],
      syncedAt: Date,
    ): Promise<AssignmentKey[]> => {
      const rows = uniqueAssignments(input);
      if (rows.length === 0) return [];
      const r = await sql<{
        adam_id: string;
        pricing_param: string;
        serial_number: string;
        client_user_id: string;
        inserted: boolean;
      }>`
        insert into store_assignments as s (tenant_id, token_id, adam_id, pricing_param, serial_number, client_user_id, synced_at)
        select ${tenantId}::uuid, ${tokenId}::uuid, v.a, v.p, v.s, v.c, ${syncedAt}
        from unnest(${columns(rows, (x) => x.adamId)}::text[], ${columns(rows, (x) => x.pricingParam)}::text[],
                    ${columns(rows, (x) => x.serialNumber)}::text[], ${columns(rows, (x) => x.clientUserId)}::text[]) as v(a, p, s, c)
        on conflict (tenant_id, token_id, adam_id, pricing_param, serial_number, client_user_id) do update set synced_at = excluded.synced_at
        returning s.adam_id, s.pricing_param, s.serial_number, s.client_user_id, (s.xmax = 0) as inserted
      `.execute(ex);
      return r.rows
        .filter((x) => x.inserted)
        .map((x) => ({
          adamId: x.adam_id,
          pricingParam: x.pricing_param,
          serialNumber: x.serial_number,
          clientUserId: x.client_user_id,
        }));
    },

    /** Removes the given assignments; returns those that existed. */
    deleteAssignments: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      rows: readonly AssignmentKey[],
    ): Promise<AssignmentKey[]> => {
      if (rows.length === 0) return [];
      const r = await sql<{
        adam_id: string;
        pricing_param: string;
        serial_number: string;
        client_user_id: string;
      }>`
        delete from store_assignments s
        using unnest(${columns(rows, (x) => x.adamId)}::text[], ${columns(rows, (x) => x.pricingParam)}::text[],
                     ${columns(rows, (x) => x.serialNumber)}::text[], ${columns(rows, (x) => x.clientUserId)}::text[]) as v(a, p, sn, c)
        where s.tenant_id = ${tenantId} and s.token_id = ${tokenId} and s.adam_id = v.a and s.pricing_param = v.p and s.serial_number = v.sn and s.client_user_id = v.c
        returning s.adam_id, s.pricing_param, s.serial_number, s.client_user_id
      `.execute(ex);
      return r.rows.map((x) => ({
        adamId: x.adam_id,
        pricingParam: x.pricing_param,
        serialNumber: x.serial_number,
        clientUserId: x.client_user_id,
      }));
    },

    /** Full sync: removes what the complete walk did not see (rows not marked at `syncedAt`), at most `limit` per call. */
    sweepAssignments: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      syncedAt: Date,
      limit: number,
    ): Promise<number> => {
      const r = await sql`
        delete from store_assignments s
        where (s.tenant_id, s.token_id, s.adam_id, s.pricing_param, s.serial_number, s.client_user_id) in (
          select tenant_id, token_id, adam_id, pricing_param, serial_number, client_user_id from store_assignments
          where tenant_id = ${tenantId} and token_id = ${tokenId} and synced_at < ${syncedAt} limit ${limit})
      `.execute(ex);
      return Number(r.numAffectedRows ?? 0);
    },

    countAssignments: async (ex: Executor, tenantId: string, tokenId: string) =>
      Number(
        (
          await ex
            .selectFrom("store_assignments")
            .select(sql<number>`count(*)`.as("n"))
            .where("tenant_id", "=", tenantId)
            .where("token_id", "=", tokenId)
            .executeTakeFirstOrThrow()
        ).n,
      ),

    // ---------------- Apple users created by Allot (TOK-5)

    hasAppleUsers: async (ex: Executor, tenantId: string, tokenId: string) =>
      (await ex
        .selectFrom("apple_users")
        .select("client_user_id")
        .where("tenant_id", "=", tenantId)
        .where("token_id", "=", tokenId)
        .limit(1)
        .executeTakeFirst()) !== undefined,

    /**
     * Updates users Allot created; Apple users anyone else made are not stored. Returns how many changed.
     * A new status or invite code is an entitlement-relevant change of the person (ENG-4: an associated
     * user can be licensed, a new code needs a new invitation): it is recorded in directory_changes
     * so the licensing ledger reconciles that user's apps.
     */
    updateAppleUsers: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      users: readonly AppleUserUpdate[],
      now: Date,
    ): Promise<number> => {
      if (users.length === 0) return 0;
      const r = await sql<{ n: number }>`
        with v(client_user_id, status, apple_user_id, email, invite_code) as (
          select * from unnest(${columns(users, (x) => x.clientUserId)}::text[], ${columns(users, (x) => x.status)}::text[],
                    ${sql.val(users.map((x) => x.appleUserId ?? null))}::text[], ${sql.val(users.map((x) => x.email ?? null))}::text[],
                    ${sql.val(users.map((x) => x.inviteCode ?? null))}::text[])
        ), changed as (
          update apple_users u set
            status = v.status,
            apple_user_id = coalesce(v.apple_user_id, u.apple_user_id),
            email = coalesce(v.email, u.email),
            invite_code = coalesce(v.invite_code, u.invite_code),
            associated_at = case when v.status = 'Associated' and o.status <> 'Associated' then ${now} else u.associated_at end,
            updated_at = ${now}
          from v join apple_users o on o.tenant_id = ${tenantId} and o.token_id = ${tokenId} and o.client_user_id = v.client_user_id
          where u.tenant_id = ${tenantId} and u.token_id = ${tokenId} and u.client_user_id = v.client_user_id
            and (u.status, u.apple_user_id, u.email, u.invite_code) is distinct from
                (v.status, coalesce(v.apple_user_id, u.apple_user_id), coalesce(v.email, u.email), coalesce(v.invite_code, u.invite_code))
          returning u.user_id, (o.status is distinct from v.status or o.invite_code is distinct from coalesce(v.invite_code, o.invite_code)) as relevant
        ), ch as (
          insert into directory_changes (tenant_id, change_type, object_type, object_id)
          select ${tenantId}::uuid, 'appleUserChanged', 'user', user_id from changed where relevant and user_id is not null
        )
        select count(*)::int as n from changed
      `.execute(ex);
      return Number(r.rows[0]?.n ?? 0);
    },

    // ---------------- notifications (SYNC-3)

    /** Records a notification id; false when it was already processed (a duplicate). */
    recordNotification: async (
      ex: Executor,
      tenantId: string,
      tokenId: string,
      notificationId: string,
      type: string,
    ): Promise<boolean> => {
      const r = await ex
        .insertInto("store_notifications")
        .values({
          tenant_id: tenantId,
          token_id: tokenId,
          notification_id: notificationId,
          notification_type: type,
        })
        .onConflict((oc) => oc.columns(["tenant_id", "token_id", "notification_id"]).doNothing())
        .returning("notification_id")
        .executeTakeFirst();
      return r !== undefined;
    },

    /** Forgets processed notification ids older than `before` (Apple retries within minutes). */
    pruneNotifications: async (before: Date) => {
      await db.deleteFrom("store_notifications").where("received_at", "<", before).execute();
    },
  };
}
export type SyncRepository = ReturnType<typeof createSyncRepository>;
