// First start: the default tenant, the bootstrap Global administrator and app registration from
// the environment (idempotent on restart), or else a one-time setup link.
import type { AppConfig } from "../../config/env.ts";
import type { Ctx } from "../../http/context.ts";
import { hashSecret } from "../../lib/crypto.ts";
import type { AccessRepository } from "../access/access.repository.ts";
import type { AccessService } from "../access/access.service.ts";
import type { TenantsService } from "./tenants.service.ts";

export interface BootstrapResult {
  tenantId: string;
  setupUrl?: string;
}

export async function bootstrap(
  config: Pick<AppConfig, "ALLOT_BOOTSTRAP_ADMIN_EMAIL" | "ALLOT_BOOTSTRAP_ADMIN_PASSWORD" | "ALLOT_BOOTSTRAP_CLIENT_ID" | "ALLOT_BOOTSTRAP_CLIENT_SECRET">,
  deps: { tenantsService: TenantsService; accessService: AccessService; accessRepository: AccessRepository; db: import("kysely").Kysely<import("../../db/types.ts").DB> },
  publicUrl: string,
): Promise<BootstrapResult> {
  const tenant = await deps.tenantsService.ensureDefault();
  const ctx: Ctx = { tenantId: tenant.id, requestId: "bootstrap", actor: { type: "system", applicationDisplayName: "Bootstrap from environment" } };

  if (config.ALLOT_BOOTSTRAP_ADMIN_EMAIL && config.ALLOT_BOOTSTRAP_ADMIN_PASSWORD) {
    const existing = await deps.accessRepository.findAdministratorByEmail(tenant.id, config.ALLOT_BOOTSTRAP_ADMIN_EMAIL);
    if (!existing)
      await deps.accessService.createAdministrator(ctx, { email: config.ALLOT_BOOTSTRAP_ADMIN_EMAIL, password: config.ALLOT_BOOTSTRAP_ADMIN_PASSWORD, roles: ["globalAdministrator"], displayName: "Administrator" });
  }
  if (config.ALLOT_BOOTSTRAP_CLIENT_ID && config.ALLOT_BOOTSTRAP_CLIENT_SECRET) {
    const existing = await deps.accessRepository.findAppByClientId(config.ALLOT_BOOTSTRAP_CLIENT_ID);
    if (!existing) {
      await deps.accessService.createAppRegistration(ctx, { displayName: "Bootstrap automation", roles: ["globalAdministrator"], clientId: config.ALLOT_BOOTSTRAP_CLIENT_ID, clientSecret: config.ALLOT_BOOTSTRAP_CLIENT_SECRET });
    } else if (existing.tenant_id === tenant.id && existing.secret_hash !== hashSecret(config.ALLOT_BOOTSTRAP_CLIENT_SECRET)) {
      // The environment is the source of truth for the bootstrap registration's secret.
      await deps.db.transaction().execute((trx) =>
        deps.accessRepository.updateApp(trx, tenant.id, existing.id, { secret_hash: hashSecret(config.ALLOT_BOOTSTRAP_CLIENT_SECRET!), secret_hint: config.ALLOT_BOOTSTRAP_CLIENT_SECRET!.slice(0, 3), secret_created_at: new Date() }),
      );
    }
  }
  if ((await deps.accessService.countAdministrators(tenant.id)) === 0) {
    const token = await deps.accessService.createSetupLink(tenant.id);
    return { tenantId: tenant.id, setupUrl: `${publicUrl.replace(/\/$/, "")}/setup?token=${encodeURIComponent(token)}` };
  }
  return { tenantId: tenant.id };
}
