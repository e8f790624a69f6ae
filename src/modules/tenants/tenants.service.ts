// Tenants (TEN-1): a default tenant always exists; more can be created by a Global administrator
// of the default tenant (the instance operator).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import { badRequest, forbidden } from "../../lib/errors.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { TenantsRepository } from "./tenants.repository.ts";

export interface Tenant {
  id: string;
  display_name: string;
  is_default: boolean;
  created_at: Date;
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function tenantToGraph(t: Tenant) {
  return { id: t.id, displayName: t.display_name, isDefault: t.is_default, createdDateTime: t.created_at.toISOString() };
}

export function createTenantsService(deps: { db: Kysely<DB>; tenantsRepository: TenantsRepository; auditService: AuditService }) {
  const repo = deps.tenantsRepository;
  // Tenants never change id or disappear while running, so lookups are cached.
  const cache = new Map<string, Tenant>();
  let defaultTenant: Tenant | undefined;

  async function resolve(ref: string): Promise<Tenant | undefined> {
    if (ref === "default") {
      defaultTenant ??= await repo.findDefault();
      return defaultTenant;
    }
    if (!uuidRe.test(ref)) return undefined;
    const id = ref.toLowerCase();
    const hit = cache.get(id);
    if (hit) return hit;
    const t = await repo.findById(id);
    if (t) cache.set(id, t);
    return t;
  }

  return {
    resolve,
    async ensureDefault(): Promise<Tenant> {
      const existing = await repo.findDefault();
      if (existing) return (defaultTenant = existing);
      await repo.insert(deps.db, { id: randomUUID(), display_name: "Default", is_default: true });
      defaultTenant = await repo.findDefault();
      if (!defaultTenant) throw new Error("could not create the default tenant");
      return defaultTenant;
    },
    async list(ctx: Ctx) {
      await assertOperator(ctx);
      return (await repo.list()).map(tenantToGraph);
    },
    async create(ctx: Ctx, input: { displayName: unknown }) {
      await assertOperator(ctx);
      if (typeof input.displayName !== "string" || !input.displayName.trim()) throw badRequest("displayName is required.");
      const displayName = input.displayName.trim();
      return deps.db.transaction().execute(async (trx) => {
        const row = await repo.insert(trx, { id: randomUUID(), display_name: displayName, is_default: false });
        if (!row) throw new Error("tenant insert returned nothing");
        const after = tenantToGraph(row);
        await deps.auditService.record(trx, ctx, { activity: "Create tenant", component: "Tenants", operation: "Create", changes: [{ type: "tenant", id: row.id, displayName, after }] });
        return after;
      });
    },
  };

  async function assertOperator(ctx: Ctx) {
    const d = await resolve("default");
    if (!d || ctx.tenantId !== d.id) throw forbidden("Only administrators of the default tenant can manage tenants.");
  }
}
export type TenantsService = ReturnType<typeof createTenantsService>;
