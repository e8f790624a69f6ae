// The app catalog's row source: apps joined with their VPP token (organization, Apple ID, account
// type), plus the constant and derived columns the Graph entities filter on. SQL only.
import { type Kysely, sql } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

export function createCatalogRepository(db: Kysely<DB>) {
  /** Rows of the given types in the tenant, aliased `t` for runList. */
  const source = (ex: Executor, tenantId: string, types: readonly string[]) =>
    ex
      .selectFrom((eb) =>
        eb
          .selectFrom("apps as a")
          .innerJoin("vpp_tokens as v", (j) =>
            j.onRef("v.tenant_id", "=", "a.tenant_id").onRef("v.id", "=", "a.token_id"),
          )
          .selectAll("a")
          .select([
            "v.organization_name as token_organization_name",
            "v.account_type as token_account_type",
            "v.apple_id as token_apple_id",
            "v.display_name as token_display_name",
            sql<boolean>`case when cardinality(a.device_families) = 0 then 'iOS' = any(a.supported_platforms) else 'ipad' = any(a.device_families) end`.as(
              "for_ipad",
            ),
            sql<boolean>`case when cardinality(a.device_families) = 0 then 'iOS' = any(a.supported_platforms) else ('iphone' = any(a.device_families) or 'ipod' = any(a.device_families)) end`.as(
              "for_iphone",
            ),
            sql<boolean>`true`.as("supports_user_licensing"),
            sql<boolean>`false`.as("is_featured"),
            // beta isAssigned: the app has at least one assignment.
            sql<boolean>`exists (select 1 from mobile_app_assignments m where m.tenant_id = a.tenant_id and m.app_id = a.id)`.as("is_assigned"),
            // Licenses the ledger has asked Apple for and not yet seen confirmed (ENG-3).
            sql<number>`(select count(*)::int from license_holdings h where h.tenant_id = a.tenant_id and h.app_id = a.id and h.state = 'pendingAssign')`.as("pending_count"),
            sql<number>`0`.as("zero_count"),
            sql<number>`1`.as("upload_state"),
            sql<string>`'published'`.as("publishing_state"),
            sql<string>`'mobileDeviceManagement'`.as("delivery_protocol"),
            sql<string[]>`array['0']`.as("role_scope_tag_ids"),
            sql<string | null>`null::text`.as("none_text"),
          ])
          .where("a.tenant_id", "=", tenantId)
          .where("a.odata_type", "in", types as string[])
          .as("t"),
      )
      .selectAll("t");

  return {
    listQuery: (tenantId: string, types: readonly string[]) => source(db, tenantId, types),

    find: (ex: Executor, tenantId: string, id: string, types: readonly string[]) =>
      source(ex, tenantId, types).where("t.id", "=", id).executeTakeFirst(),

    setUnitPrice: async (ex: Executor, tenantId: string, id: string, unitPrice: number | null) => {
      await ex
        .updateTable("apps")
        .set({ unit_price: unitPrice, last_modified_at: new Date() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
  };
}
export type CatalogRepository = ReturnType<typeof createCatalogRepository>;
