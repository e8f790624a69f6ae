// Authentication and authorisation for every route. A route declares `config.access`; this hook
// resolves the principal (bearer token or console session cookie + CSRF header) and checks the
// permission against the role table. Routes without a declared access fail at start-up.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../lib/errors.ts";
import type { AccessService } from "../modules/access/access.service.ts";
import { hasPermission, type Permission } from "../modules/access/roles.ts";
import type { Principal, RouteAccess } from "./context.ts";

export const SESSION_COOKIE = "allot_session";
export const CSRF_COOKIE = "allot_csrf";
export const CSRF_HEADER = "x-csrf-token";

const unsafe = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface AuthDeps {
  accessService: AccessService;
  /** Resolves a SCIM bearer secret to its tenant (the SCIM module supplies it). */
  authenticateScim?: (secret: string) => Promise<Principal | undefined>;
  /** Resolves the tenant named by the x-allot-tenant header (the local CLI token may act in any tenant). */
  resolveTenant?: (ref: string) => Promise<{ id: string } | undefined>;
}

export const TENANT_HEADER = "x-allot-tenant";

export function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1].trim() : undefined;
}

/** A registered route and the access it declares (the route × role test walks this list). */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
}
const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route registered on `app` so far, in registration order (HEAD twins of GET routes left out). */
export function registeredRoutes(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps) {
  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook("onRoute", (route) => {
    const access = (route.config as { access?: RouteAccess } | undefined)?.access;
    if (!access && !route.url.startsWith("/documentation")) throw new Error(`route ${route.method} ${route.url} declares no config.access`);
    for (const method of [route.method].flat()) if (method !== "HEAD" && access) table.push({ method, url: route.url, access });
  });

  app.addHook("onRequest", async (req) => {
    const access = (req.routeOptions.config as { access?: RouteAccess }).access;
    if (!access || access === "public") return;
    const token = bearerOf(req);
    if (access === "scim") {
      const p = token && deps.authenticateScim ? await deps.authenticateScim(token) : undefined;
      if (!p) throw new AppError("unauthenticated", "A valid SCIM bearer token is required.");
      req.principal = p;
      return;
    }
    let principal: Principal | undefined;
    if (token) {
      principal = await deps.accessService.authenticateBearer(token);
      if (!principal) throw new AppError("unauthenticated", "Access token has expired or is not yet valid, or its signature is invalid.");
      const actAs = req.headers[TENANT_HEADER];
      if (typeof actAs === "string" && actAs) {
        if (principal.kind !== "cli") throw new AppError("badRequest", `The ${TENANT_HEADER} header is honoured only for the local allot CLI; a token acts in the tenant that issued it.`);
        const tenant = await deps.resolveTenant?.(actAs);
        if (!tenant) throw new AppError("badRequest", `Tenant '${actAs}' not found.`);
        principal = { ...principal, tenantId: tenant.id };
      }
    } else {
      const cookie = req.cookies?.[SESSION_COOKIE];
      if (cookie) {
        const s = await deps.accessService.authenticateSession(cookie);
        if (s) {
          if (unsafe.has(req.method) && req.headers[CSRF_HEADER] !== s.csrfToken)
            throw new AppError("forbidden", `The ${CSRF_HEADER} header is missing or does not match this session; reload the console and try again.`);
          principal = s.principal;
        }
      }
    }
    if (!principal) throw new AppError("unauthenticated", "Access token is empty. Sign in, or send Authorization: Bearer <token> from the token endpoint.");
    req.principal = principal;
    if (access !== "authenticated" && !hasPermission(principal.roles, access as Permission))
      throw new AppError("forbidden", `Insufficient privileges to complete the operation: it needs one of the roles allowed '${access}'.`);
  });
}
