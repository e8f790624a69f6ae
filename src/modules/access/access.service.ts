// Sign-in for people (sessions, CSRF) and programs (client credentials → bearer tokens), and the
// administrators and app registrations behind them (TEN-2..4).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx, Principal } from "../../http/context.ts";
import { hashPassword, hashSecret, randomSecret, safeEqual, signJwt, verifyJwt, verifyPassword } from "../../lib/crypto.ts";
import { AppError, badRequest, conflict, notFound } from "../../lib/errors.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { TenantsService } from "../tenants/tenants.service.ts";
import type { AccessRepository } from "./access.repository.ts";
import { isRole, type Role } from "./roles.ts";

export interface AccessDeps {
  db: Kysely<DB>;
  accessRepository: AccessRepository;
  auditService: AuditService;
  tenantsService: TenantsService;
  secretKey: Buffer;
  accessTokenTtlSeconds: number;
  sessionTtlHours: number;
}

const emailRe = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export function validateRoles(input: unknown): Role[] {
  if (!Array.isArray(input) || input.length === 0) throw badRequest("roles must be a non-empty array of role names.");
  for (const r of input) if (typeof r !== "string" || !isRole(r)) throw badRequest(`'${r}' is not a role; expected one of globalAdministrator, licenseAdministrator, userAdministrator, applicationManager, billingAdministrator, reader.`);
  return [...new Set(input as Role[])];
}

export function validateEmail(email: unknown): string {
  if (typeof email !== "string" || !emailRe.test(email)) throw badRequest("userPrincipalName must be an e-mail address.");
  return email;
}

export function validatePassword(password: unknown): string {
  if (typeof password !== "string" || password.length < 12) throw badRequest("The password must be at least 12 characters long.");
  if (password.length > 256) throw badRequest("The password must be at most 256 characters long.");
  return password;
}

export function administratorToGraph(a: { id: string; email: string; display_name: string; roles: string[]; account_enabled: boolean; created_at: Date; last_sign_in_at?: Date | null }) {
  return {
    id: a.id,
    userPrincipalName: a.email,
    displayName: a.display_name,
    roles: a.roles,
    accountEnabled: a.account_enabled,
    createdDateTime: a.created_at.toISOString(),
    lastSignInDateTime: a.last_sign_in_at ? a.last_sign_in_at.toISOString() : null,
  };
}

export function appRegistrationToGraph(a: { id: string; client_id: string; display_name: string; roles: string[]; secret_hint: string; created_at: Date; secret_created_at: Date }) {
  return {
    id: a.id,
    appId: a.client_id,
    displayName: a.display_name,
    roles: a.roles,
    secretHint: a.secret_hint,
    createdDateTime: a.created_at.toISOString(),
    secretCreatedDateTime: a.secret_created_at.toISOString(),
  };
}

export function createAccessService(deps: AccessDeps) {
  const { db, accessRepository: repo, auditService: audit } = deps;
  let cliToken: string | undefined;

  async function createAdministrator(ctx: Ctx, input: { email: unknown; password: unknown; displayName?: unknown; roles: unknown }) {
    if (typeof input.email !== "string" || !emailRe.test(input.email)) throw badRequest("userPrincipalName must be an e-mail address.");
    const password = validatePassword(input.password);
    const roles = validateRoles(input.roles);
    if (await repo.findAdministratorByEmail(ctx.tenantId, input.email)) throw conflict(`An administrator with the e-mail '${input.email}' already exists.`);
    const passwordHash = await hashPassword(password);
    return db.transaction().execute(async (trx) => {
      const row = await repo.insertAdministrator(trx, {
        tenant_id: ctx.tenantId,
        id: randomUUID(),
        email: input.email as string,
        display_name: typeof input.displayName === "string" && input.displayName ? input.displayName : (input.email as string),
        password_hash: passwordHash,
        roles,
      });
      const after = administratorToGraph(row);
      await audit.record(trx, ctx, { activity: "Create administrator", component: "Access", operation: "Create", changes: [{ type: "administrator", id: row.id, displayName: row.email, after }] });
      return after;
    });
  }

  async function createAppRegistration(ctx: Ctx, input: { displayName: string; roles: unknown; clientId?: string; clientSecret?: string }) {
    const roles = validateRoles(input.roles);
    const clientId = input.clientId ?? randomUUID();
    const secret = input.clientSecret ?? randomSecret(32);
    if (await repo.findAppByClientId(clientId)) throw conflict(`An app registration with the client id '${clientId}' already exists.`);
    return db.transaction().execute(async (trx) => {
      const row = await repo.insertApp(trx, {
        tenant_id: ctx.tenantId,
        id: randomUUID(),
        client_id: clientId,
        display_name: input.displayName,
        secret_hash: hashSecret(secret),
        secret_hint: secret.slice(0, 3),
        roles,
      });
      const after = appRegistrationToGraph(row);
      await audit.record(trx, ctx, { activity: "Create app registration", component: "Access", operation: "Create", changes: [{ type: "appRegistration", id: row.id, displayName: row.display_name, after }] });
      // The secret is returned once, here, and never stored in clear.
      return { ...after, clientSecret: secret };
    });
  }

  return {
    createAdministrator,
    createAppRegistration,

    async listAdministrators(ctx: Ctx) {
      return (await repo.listAdministrators(ctx.tenantId)).map(administratorToGraph);
    },
    async updateAdministrator(ctx: Ctx, id: string, patch: { roles?: unknown; accountEnabled?: unknown; displayName?: unknown; password?: unknown }) {
      const before = await repo.findAdministrator(ctx.tenantId, id);
      if (!before) throw notFound("administrator", id);
      const set: { roles?: string[]; account_enabled?: boolean; display_name?: string; password_hash?: string } = {};
      if (patch.roles !== undefined) set.roles = validateRoles(patch.roles);
      if (patch.accountEnabled !== undefined) {
        if (typeof patch.accountEnabled !== "boolean") throw badRequest("accountEnabled must be true or false.");
        set.account_enabled = patch.accountEnabled;
      }
      if (patch.displayName !== undefined) {
        if (typeof patch.displayName !== "string" || !patch.displayName) throw badRequest("displayName must be a non-empty string.");
        set.display_name = patch.displayName;
      }
      if (patch.password !== undefined) set.password_hash = await hashPassword(validatePassword(patch.password));
      if (ctx.principal?.id === id && (set.account_enabled === false || (set.roles && !set.roles.includes("globalAdministrator") && before.roles.includes("globalAdministrator"))))
        throw badRequest("You cannot disable yourself or remove your own Global administrator role.");
      return db.transaction().execute(async (trx) => {
        const row = await repo.updateAdministrator(trx, ctx.tenantId, id, set);
        if (!row) throw notFound("administrator", id);
        const after = administratorToGraph(row);
        await audit.record(trx, ctx, { activity: "Update administrator", component: "Access", operation: "Patch", changes: [{ type: "administrator", id, displayName: row.email, before: administratorToGraph(before), after: { ...after, ...(set.password_hash ? { password: "(changed)" } : {}) } }] });
        return after;
      });
    },
    async deleteAdministrator(ctx: Ctx, id: string) {
      if (ctx.principal?.id === id) throw badRequest("You cannot delete your own administrator account.");
      const before = await repo.findAdministrator(ctx.tenantId, id);
      if (!before) throw notFound("administrator", id);
      await db.transaction().execute(async (trx) => {
        await repo.deleteAdministrator(trx, ctx.tenantId, id);
        await audit.record(trx, ctx, { activity: "Delete administrator", component: "Access", operation: "Delete", changes: [{ type: "administrator", id, displayName: before.email, before: administratorToGraph(before) }] });
      });
    },

    async listAppRegistrations(ctx: Ctx) {
      return (await repo.listApps(ctx.tenantId)).map(appRegistrationToGraph);
    },
    async rotateAppSecret(ctx: Ctx, id: string) {
      const secret = randomSecret(32);
      return db.transaction().execute(async (trx) => {
        const row = await repo.updateApp(trx, ctx.tenantId, id, { secret_hash: hashSecret(secret), secret_hint: secret.slice(0, 3), secret_created_at: new Date() });
        if (!row) throw notFound("appRegistration", id);
        await audit.record(trx, ctx, { activity: "Rotate app registration secret", component: "Access", operation: "Action", changes: [{ type: "appRegistration", id, displayName: row.display_name, after: { secretHint: row.secret_hint } }] });
        return { ...appRegistrationToGraph(row), clientSecret: secret };
      });
    },
    async deleteAppRegistration(ctx: Ctx, id: string) {
      const before = await repo.findApp(ctx.tenantId, id);
      if (!before) throw notFound("appRegistration", id);
      await db.transaction().execute(async (trx) => {
        await repo.deleteApp(trx, ctx.tenantId, id);
        await audit.record(trx, ctx, { activity: "Delete app registration", component: "Access", operation: "Delete", changes: [{ type: "appRegistration", id, displayName: before.display_name, before: appRegistrationToGraph(before) }] });
      });
    },

    /** Console sign-in. The same message for every failure, so it does not reveal which accounts exist. */
    async login(tenantRef: string | undefined, email: string, password: string) {
      const tenant = await deps.tenantsService.resolve(tenantRef ?? "default");
      const admin = tenant ? await repo.findAdministratorByEmail(tenant.id, email) : undefined;
      const ok = admin ? await verifyPassword(password, admin.password_hash) : await verifyPassword(password, DUMMY_HASH);
      if (!tenant || !admin || !ok || !admin.account_enabled) throw new AppError("unauthenticated", "The e-mail address or password is incorrect.");
      const sessionToken = randomSecret(32);
      const csrfToken = randomSecret(24);
      await repo.insertSession({
        tenant_id: tenant.id,
        id_hash: hashSecret(sessionToken),
        administrator_id: admin.id,
        csrf_token: csrfToken,
        expires_at: new Date(Date.now() + deps.sessionTtlHours * 3600_000),
      });
      await repo.touchSignIn(tenant.id, admin.id);
      return { sessionToken, csrfToken, administrator: administratorToGraph(admin), tenantId: tenant.id, expiresInSeconds: deps.sessionTtlHours * 3600 };
    },
    async logout(sessionToken: string) {
      await repo.deleteSession(hashSecret(sessionToken));
    },
    async authenticateSession(sessionToken: string): Promise<{ principal: Principal; csrfToken: string } | undefined> {
      const s = await repo.findSession(hashSecret(sessionToken));
      if (!s || s.expires_at.getTime() < Date.now() || !s.account_enabled) return undefined;
      return {
        principal: { tenantId: s.tenant_id, kind: "administrator", id: s.id, name: s.email, roles: s.roles as Role[], viaSession: true },
        csrfToken: s.csrf_token,
      };
    },

    /** OAuth2 client-credentials grant, shaped like Entra's v2.0 token endpoint. */
    async issueToken(tenantRef: string, form: Record<string, unknown>) {
      const grant = form.grant_type;
      if (grant !== "client_credentials")
        throw new AppError("badRequest", `AADSTS70003: The app requested an unsupported grant type '${String(grant ?? "")}'; use client_credentials.`, { details: { oauthError: "unsupported_grant_type" } });
      const clientId = typeof form.client_id === "string" ? form.client_id : "";
      const secret = typeof form.client_secret === "string" ? form.client_secret : "";
      const scope = typeof form.scope === "string" ? form.scope : "";
      if (!clientId || !secret) throw new AppError("badRequest", "AADSTS900144: The request body must contain client_id and client_secret.", { details: { oauthError: "invalid_request" } });
      if (!scope.split(" ").some((s) => s.endsWith("/.default")))
        throw new AppError("badRequest", "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", { details: { oauthError: "invalid_scope" } });
      const tenant = await deps.tenantsService.resolve(tenantRef);
      if (!tenant) throw new AppError("badRequest", `AADSTS90002: Tenant '${tenantRef}' not found.`, { details: { oauthError: "invalid_request" } });
      const app = await repo.findAppByClientId(clientId);
      if (!app || app.tenant_id !== tenant.id || !safeEqual(app.secret_hash, hashSecret(secret)))
        throw new AppError("unauthenticated", "AADSTS7000215: Invalid client secret provided, or the application was not found in the directory.", { details: { oauthError: "invalid_client" } });
      const now = Math.floor(Date.now() / 1000);
      const token = signJwt({ tid: tenant.id, sub: app.id, azp: app.client_id, name: app.display_name, roles: app.roles, iat: now, exp: now + deps.accessTokenTtlSeconds, typ: "app" }, deps.secretKey);
      return { token_type: "Bearer", expires_in: deps.accessTokenTtlSeconds, ext_expires_in: deps.accessTokenTtlSeconds, access_token: token };
    },

    /** The machine-local token the CLI reads from the data directory while the server runs. */
    setCliToken(token: string) {
      cliToken = token;
    },

    async authenticateBearer(token: string): Promise<Principal | undefined> {
      if (cliToken && token.startsWith("allot-cli.") && safeEqual(token, cliToken)) {
        const t = await deps.tenantsService.resolve("default");
        if (!t) return undefined;
        return { tenantId: t.id, kind: "cli", id: "cli", name: "allot CLI", roles: ["globalAdministrator"] };
      }
      const claims = verifyJwt(token, deps.secretKey);
      if (!claims || claims.typ !== "app" || typeof claims.tid !== "string") return undefined;
      return {
        tenantId: claims.tid,
        kind: "application",
        id: String(claims.sub),
        clientId: String(claims.azp),
        name: String(claims.name ?? claims.azp),
        roles: (Array.isArray(claims.roles) ? claims.roles : []).filter((r): r is Role => typeof r === "string" && isRole(r)),
      };
    },

    async countAdministrators(tenantId: string) {
      return repo.countAdministrators(tenantId);
    },
    async createSetupLink(tenantId: string, ttlHours = 24) {
      const token = randomSecret(24);
      await db.transaction().execute(async (trx) => {
        await repo.invalidateSetupLinks(trx, tenantId);
        await repo.insertSetupLink(trx, { tenant_id: tenantId, token_hash: hashSecret(token), expires_at: new Date(Date.now() + ttlHours * 3600_000) });
      });
      return token;
    },
    /** First-run: the one-time setup link creates the first Global administrator. */
    async completeSetup(input: { token: unknown; email: unknown; password: unknown; displayName?: unknown }, requestId: string) {
      if (typeof input.token !== "string" || !input.token) throw badRequest("The setup token is missing.");
      // Validate before claiming, so a mistyped e-mail or a short password does not burn the one-time link.
      validateEmail(input.email);
      validatePassword(input.password);
      const tokenHash = hashSecret(input.token);
      const claimed = await db.transaction().execute(async (trx) => repo.claimSetupLink(trx, tokenHash));
      if (!claimed) throw new AppError("forbidden", "This setup link is not valid: it was used already, has expired, or was replaced by a newer one.");
      // First-run only: once an administrator exists (created by the CLI or the admin API), a link still lying around is void.
      if ((await repo.countAdministrators(claimed.tenant_id)) > 0) throw new AppError("forbidden", "Setup is already complete: an administrator exists. Sign in instead.");
      const ctx: Ctx = { tenantId: claimed.tenant_id, requestId, actor: { type: "system", applicationDisplayName: "First-run setup" } };
      return createAdministrator(ctx, { email: input.email, password: input.password, displayName: input.displayName, roles: ["globalAdministrator"] });
    },
  };
}
export type AccessService = ReturnType<typeof createAccessService>;

// Verifying against a fixed hash when the account does not exist keeps timing uniform.
const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
