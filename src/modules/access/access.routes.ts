// Console sign-in (/auth/*), the OAuth2 client-credentials token endpoint shaped like Entra's, and
// the admin API for administrators, app registrations and tenants (/beta/admin/*).
import type { FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { CSRF_COOKIE, SESSION_COOKIE } from "../../http/auth.ts";
import { ctxOf } from "../../http/context.ts";
import type { App } from "../../http/types.ts";
import { AppError } from "../../lib/errors.ts";
import type { TenantsService } from "../tenants/tenants.service.ts";
import { type AccessService, validateEmail, validatePassword } from "./access.service.ts";
import { hasPermission, type Permission, permissions, roles } from "./roles.ts";

const RoleList = Type.Array(Type.Union(roles.map((r) => Type.Literal(r))), { minItems: 1 });

export interface AccessRouteDeps {
  accessService: AccessService;
  tenantsService: TenantsService;
  secureCookies: boolean;
  loginRateLimit: number;
}

/** Public routes outside /v1.0 and /beta. */
export function registerAuthRoutes(app: App, deps: AccessRouteDeps) {
  const svc = deps.accessService;
  const tags = ["auth"];
  const cookieBase = { path: "/", sameSite: "strict" as const, secure: deps.secureCookies };

  // Keyed on the connection's address, not req.ip: the server trusts X-Forwarded-For, which any client
  // can set, so keying on req.ip would let a password guesser pick a fresh address for every attempt.
  const signInLimit = { max: deps.loginRateLimit, timeWindow: "1 minute", keyGenerator: (req: FastifyRequest) => req.socket.remoteAddress ?? req.ip };

  const setSessionCookies = (reply: FastifyReply, s: { sessionToken: string; csrfToken: string; expiresInSeconds: number }) => {
    reply.setCookie(SESSION_COOKIE, s.sessionToken, { ...cookieBase, httpOnly: true, maxAge: s.expiresInSeconds });
    // Readable by the console's script, which echoes it in the x-csrf-token header (double submit).
    reply.setCookie(CSRF_COOKIE, s.csrfToken, { ...cookieBase, httpOnly: false, maxAge: s.expiresInSeconds });
  };

  app.post(
    "/auth/login",
    {
      config: { access: "public", rateLimit: signInLimit },
      schema: {
        tags,
        summary: "Console sign-in with a local administrator account",
        body: Type.Object({ userPrincipalName: Type.String({ minLength: 3, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 256 }), tenant: Type.Optional(Type.String()) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const s = await svc.login(req.body.tenant, req.body.userPrincipalName, req.body.password);
      setSessionCookies(reply, s);
      return { tenantId: s.tenantId, csrfToken: s.csrfToken, administrator: s.administrator };
    },
  );
  app.post("/auth/logout", { config: { access: "public" }, schema: { tags, summary: "Sign out of the console" } }, async (req, reply) => {
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie) await svc.logout(cookie);
    reply.clearCookie(SESSION_COOKIE, { path: "/" }).clearCookie(CSRF_COOKIE, { path: "/" });
    return reply.status(204).send();
  });
  app.get("/auth/session", { config: { access: "authenticated" }, schema: { tags, summary: "The signed-in principal, its roles and the CSRF token" } }, async (req) => {
    const p = req.principal!;
    // permissions: what the roles grant, from the one roles table, so the console shows and enables by it.
    const held = (Object.keys(permissions) as Permission[]).filter((perm) => hasPermission(p.roles, perm));
    const tenant = await deps.tenantsService.resolve(p.tenantId);
    return { tenantId: p.tenantId, tenantName: tenant?.display_name ?? null, kind: p.kind, id: p.id, name: p.name, roles: p.roles, permissions: held, csrfToken: req.cookies[CSRF_COOKIE] ?? null };
  });
  app.get("/auth/setup", { config: { access: "public" }, schema: { tags, summary: "Whether first-run setup is still open" } }, async () => {
    const t = await deps.tenantsService.resolve("default");
    return { setupRequired: t ? (await svc.countAdministrators(t.id)) === 0 : true };
  });
  app.post(
    "/auth/setup",
    {
      config: { access: "public", rateLimit: signInLimit },
      schema: {
        tags,
        summary: "First-run: create the first Global administrator with the one-time setup link's token",
        body: Type.Object({ token: Type.String({ minLength: 1 }), userPrincipalName: Type.String(), password: Type.String(), displayName: Type.Optional(Type.String()) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const admin = await svc.completeSetup({ token: req.body.token, email: req.body.userPrincipalName, password: req.body.password, displayName: req.body.displayName }, String(req.id));
      return reply.status(201).send(admin);
    },
  );

  // OAuth2 client credentials, as Entra's /{tenant}/oauth2/v2.0/token. Errors use OAuth's shape.
  app.post(
    "/:tenant/oauth2/v2.0/token",
    { config: { access: "public", rateLimit: { max: 120, timeWindow: "1 minute" } }, schema: { tags, summary: "OAuth2 client-credentials token endpoint (form body)", params: Type.Object({ tenant: Type.String() }) } },
    async (req, reply) => {
      if (!req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) {
        return reply.status(400).send(oauthError("invalid_request", "AADSTS900144: The request body must be application/x-www-form-urlencoded.", String(req.id)));
      }
      try {
        return await svc.issueToken(req.params.tenant, (req.body ?? {}) as Record<string, unknown>);
      } catch (err) {
        if (err instanceof AppError) {
          const code = (err.details as { oauthError?: string } | undefined)?.oauthError ?? "invalid_request";
          return reply.status(err.status).send(oauthError(code, err.message, String(req.id)));
        }
        throw err;
      }
    },
  );
}

function oauthError(error: string, description: string, requestId: string) {
  return { error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)], timestamp: new Date().toISOString(), trace_id: requestId, correlation_id: requestId };
}

/** Admin API under /beta/admin (Global administrators). */
export function registerAdminRoutes(app: App, deps: AccessRouteDeps) {
  const svc = deps.accessService;
  const manage = { access: "access.manage" as const };
  const tags = ["admin"];
  const Id = Type.Object({ id: Type.String({ format: "uuid" }) });

  app.get("/admin/administrators", { config: manage, schema: { tags, summary: "List administrators" } }, async (req) => ({ value: await svc.listAdministrators(ctxOf(req)) }));
  app.post(
    "/admin/administrators",
    {
      config: manage,
      schema: {
        tags,
        summary: "Create an administrator (local account)",
        body: Type.Object({ userPrincipalName: Type.String(), password: Type.String(), displayName: Type.Optional(Type.String()), roles: RoleList }, { additionalProperties: false }),
      },
    },
    async (req, reply) => reply.status(201).send(await svc.createAdministrator(ctxOf(req), { email: req.body.userPrincipalName, password: req.body.password, displayName: req.body.displayName, roles: req.body.roles })),
  );
  app.patch(
    "/admin/administrators/:id",
    {
      config: manage,
      schema: {
        tags,
        summary: "Change an administrator's roles, name, password or enabled state",
        params: Id,
        body: Type.Object({ roles: Type.Optional(RoleList), displayName: Type.Optional(Type.String()), accountEnabled: Type.Optional(Type.Boolean()), password: Type.Optional(Type.String()) }, { additionalProperties: false }),
      },
    },
    async (req) => svc.updateAdministrator(ctxOf(req), req.params.id, req.body),
  );
  app.delete("/admin/administrators/:id", { config: manage, schema: { tags, summary: "Delete an administrator", params: Id } }, async (req, reply) => {
    await svc.deleteAdministrator(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });

  app.get("/admin/appRegistrations", { config: manage, schema: { tags, summary: "List app registrations (secrets are never returned)" } }, async (req) => ({ value: await svc.listAppRegistrations(ctxOf(req)) }));
  app.post(
    "/admin/appRegistrations",
    { config: manage, schema: { tags, summary: "Create an app registration; the client secret is shown once", body: Type.Object({ displayName: Type.String({ minLength: 1, maxLength: 256 }), roles: RoleList }, { additionalProperties: false }) } },
    async (req, reply) => reply.status(201).send(await svc.createAppRegistration(ctxOf(req), req.body)),
  );
  app.post("/admin/appRegistrations/:id/rotateSecret", { config: manage, schema: { tags, summary: "Replace the client secret; the new one is shown once", params: Id } }, async (req) => svc.rotateAppSecret(ctxOf(req), req.params.id));
  app.delete("/admin/appRegistrations/:id", { config: manage, schema: { tags, summary: "Delete an app registration", params: Id } }, async (req, reply) => {
    await svc.deleteAppRegistration(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });

  const tenantsCfg = { access: "tenants.manage" as const };
  app.get("/admin/tenants", { config: tenantsCfg, schema: { tags, summary: "List tenants (default tenant's Global administrators)" } }, async (req) => ({ value: await deps.tenantsService.list(ctxOf(req)) }));
  app.post(
    "/admin/tenants",
    {
      config: tenantsCfg,
      schema: {
        tags,
        summary: "Create a tenant, optionally with its first Global administrator",
        body: Type.Object({ displayName: Type.String({ minLength: 1, maxLength: 256 }), adminUserPrincipalName: Type.Optional(Type.String()), adminPassword: Type.Optional(Type.String()) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      if (Boolean(req.body.adminUserPrincipalName) !== Boolean(req.body.adminPassword)) throw new AppError("badRequest", "adminUserPrincipalName and adminPassword go together.");
      // Check the first administrator before the tenant exists, so a bad one leaves no half-made tenant.
      if (req.body.adminUserPrincipalName) {
        validateEmail(req.body.adminUserPrincipalName);
        validatePassword(req.body.adminPassword);
      }
      const tenant = await deps.tenantsService.create(ctx, req.body);
      let administrator: unknown;
      if (req.body.adminUserPrincipalName)
        administrator = await svc.createAdministrator({ ...ctx, tenantId: tenant.id }, { email: req.body.adminUserPrincipalName, password: req.body.adminPassword, roles: ["globalAdministrator"] });
      return reply.status(201).send({ ...tenant, ...(administrator ? { administrator } : {}) });
    },
  );
}
