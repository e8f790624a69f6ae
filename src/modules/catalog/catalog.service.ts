// APP-1..4: the catalog of store apps and books, one entry per (token, asset), as Graph shows it.
// Entries come only from sync (APP-2): creating or deleting one by hand is refused with a clear
// error (REV-3); the only thing an administrator sets is Allot's unitPrice.
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { ListOptions } from "../../http/odata/query.ts";
import { runList } from "../../http/odata/query.ts";
import { AppError, badRequest, notFound } from "../../lib/errors.ts";
import type { AuditService } from "../audit/audit.service.ts";
import {
  IOS_VPP_APP,
  IOS_VPP_EBOOK,
  MACOS_VPP_APP,
  managedEBookEntity,
  managedEBookToGraph,
  mobileAppEntity,
  mobileAppToGraph,
  type Version,
} from "./catalog.entities.ts";
import type { CatalogRepository } from "./catalog.repository.ts";

export type CatalogSet = "mobileApps" | "managedEBooks";

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The concrete types a set shows in a version: macOS VPP apps exist on beta only. */
export function typesOf(set: CatalogSet, version: Version): string[] {
  if (set === "managedEBooks") return [IOS_VPP_EBOOK];
  return version === "beta" ? [IOS_VPP_APP, MACOS_VPP_APP] : [IOS_VPP_APP];
}

export function entityOf(set: CatalogSet, version: Version) {
  return set === "managedEBooks" ? managedEBookEntity(version) : mobileAppEntity(version);
}

function toGraph(set: CatalogSet, row: Record<string, unknown>, version: Version, acceptLanguage?: string) {
  return set === "managedEBooks"
    ? managedEBookToGraph(row, version, acceptLanguage)
    : mobileAppToGraph(row, version, acceptLanguage);
}

const graphTypeName = (set: CatalogSet) => (set === "managedEBooks" ? "managedEBook" : "mobileApp");

export function createCatalogService(deps: {
  db: Kysely<DB>;
  catalogRepository: CatalogRepository;
  auditService: AuditService;
}) {
  const { db, catalogRepository: repo, auditService } = deps;

  async function findRow(ctx: Ctx, set: CatalogSet, version: Version, id: string) {
    const row = guid.test(id) ? await repo.find(db, ctx.tenantId, id, typesOf(set, version)) : undefined;
    if (!row) throw notFound(graphTypeName(set), id);
    return row as Record<string, unknown>;
  }

  return {
    async list(
      ctx: Ctx,
      set: CatalogSet,
      version: Version,
      options: ListOptions,
      opts: { castType?: string; acceptLanguage?: string } = {},
    ) {
      const types = opts.castType ? [opts.castType] : typesOf(set, version);
      const page = await runList(repo.listQuery(ctx.tenantId, types), "t", entityOf(set, version), options);
      return {
        items: page.rows.map((r) => toGraph(set, r as Record<string, unknown>, version, opts.acceptLanguage)),
        count: page.count,
        skiptoken: page.skiptoken,
      };
    },

    async get(
      ctx: Ctx,
      set: CatalogSet,
      version: Version,
      id: string,
      opts: { castType?: string; acceptLanguage?: string } = {},
    ) {
      const row = await findRow(ctx, set, version, id);
      if (opts.castType && row.odata_type !== opts.castType)
        throw notFound(opts.castType.replace(/^microsoft\.graph\./, ""), id);
      return toGraph(set, row, version, opts.acceptLanguage);
    },

    /** APP-2: store apps and books are never created by hand. */
    refuseCreate(set: CatalogSet): never {
      throw badRequest(
        set === "managedEBooks"
          ? "Volume-purchased books (iosVppEBook) cannot be added by hand: they come only from syncing a VPP token (APP-2, APP-3). Upload or sync the token that holds the book."
          : "Volume-purchased apps (iosVppApp, macOsVppApp) cannot be added by hand: they come only from syncing a VPP token (APP-2). Upload the token in deviceAppManagement/vppTokens or run syncLicenses; Allot manages no other app types.",
      );
    },

    /** POST on an existing entry (404 when there is none in the tenant). */
    async refusePost(ctx: Ctx, set: CatalogSet, version: Version, id: string): Promise<never> {
      await findRow(ctx, set, version, id);
      throw new AppError(
        "methodNotAllowed",
        `POST is not supported on a ${set === "managedEBooks" ? "book" : "app"}; use PATCH to set its unitPrice.`,
      );
    },

    /** REV-3: store apps and books go away only with their token. */
    async refuseDelete(ctx: Ctx, set: CatalogSet, version: Version, id: string): Promise<never> {
      const row = await findRow(ctx, set, version, id);
      const what = set === "managedEBooks" ? "Volume-purchased books" : "Volume-purchased apps";
      throw new AppError(
        "methodNotAllowed",
        `${what} cannot be deleted (REV-3): '${row.display_name ?? row.adam_id}' comes from VPP token ${row.token_id} and disappears only when that token is deleted. Revoking its licenses releases them at Apple without removing the app.`,
      );
    },

    /** Only Allot's own unitPrice may change; everything else comes from the store. */
    async update(
      ctx: Ctx,
      set: CatalogSet,
      version: Version,
      id: string,
      body: Record<string, unknown>,
      acceptLanguage?: string,
    ) {
      const row = await findRow(ctx, set, version, id);
      for (const key of Object.keys(body)) {
        if (key === "unitPrice") continue;
        if (key === "@odata.type") {
          if (String(body[key]).replace(/^#/, "") !== row.odata_type)
            throw badRequest(
              `'@odata.type' ${String(body[key])} does not match the entity's type '#${String(row.odata_type)}'.`,
            );
          continue;
        }
        throw badRequest(
          `Property '${key}' cannot be changed on a volume-purchased ${set === "managedEBooks" ? "book" : "app"}: it comes from Apple (the token's storefront and license counts) at each sync. Only 'unitPrice' can be set.`,
        );
      }
      if ("unitPrice" in body) {
        const price = body.unitPrice;
        if (
          price !== null &&
          (typeof price !== "number" || !Number.isFinite(price) || price < 0 || price > 9_999_999_999.99)
        )
          throw badRequest(
            "'unitPrice' must be a non-negative number (the price of one license, in the tenant's currency) or null.",
          );
        const rounded = price === null ? null : Math.round((price as number) * 100) / 100;
        const before =
          row.unit_price === null || row.unit_price === undefined ? null : Number(row.unit_price);
        if (before !== rounded)
          await db.transaction().execute(async (trx) => {
            await repo.setUnitPrice(trx, ctx.tenantId, id, rounded);
            await auditService.record(trx, ctx, {
              activity: set === "managedEBooks" ? "Update book" : "Update app",
              component: "Apps",
              operation: "Patch",
              changes: [
                {
                  type: String(row.odata_type),
                  id,
                  displayName: (row.display_name as string | null) ?? (row.adam_id as string),
                  before: { unitPrice: before },
                  after: { unitPrice: rounded },
                },
              ],
            });
          });
      }
      return toGraph(set, await findRow(ctx, set, version, id), version, acceptLanguage);
    },
  };
}
export type CatalogService = ReturnType<typeof createCatalogService>;
