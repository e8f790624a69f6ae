// Who is calling and on whose behalf: the principal the auth hook resolved, and the context every
// service call carries (tenant, audit actor, request id).
import type { FastifyRequest } from "fastify";
import type { AuditActor } from "../db/types.ts";
import { AppError } from "../lib/errors.ts";
import type { Permission, Role } from "../modules/access/roles.ts";

export interface Principal {
  tenantId: string;
  kind: "administrator" | "application" | "cli" | "scim";
  id: string;
  /** UPN-like name of an administrator, or the app registration's display name. */
  name: string;
  clientId?: string;
  roles: Role[];
  /** Set when the principal signed in with the console's cookie (CSRF applies). */
  viaSession?: boolean;
}

export interface Ctx {
  tenantId: string;
  actor: AuditActor;
  requestId: string;
  principal?: Principal;
}

/** What a route requires: a permission, any signed-in principal, a SCIM bearer secret, or nothing. */
export type RouteAccess = Permission | "public" | "authenticated" | "scim";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export function actorOf(p: Principal, ip: string | undefined): AuditActor {
  switch (p.kind) {
    case "administrator":
      return { type: "administrator", userPrincipalName: p.name, userId: p.id, ipAddress: ip ?? null };
    case "application":
      return { type: "application", applicationId: p.clientId ?? p.id, applicationDisplayName: p.name, ipAddress: ip ?? null };
    case "cli":
      return { type: "cli", applicationDisplayName: "allot CLI (local)", ipAddress: ip ?? null };
    case "scim":
      return { type: "scim", applicationDisplayName: p.name, applicationId: p.id, ipAddress: ip ?? null };
  }
}

export function ctxOf(req: FastifyRequest): Ctx {
  const p = req.principal;
  if (!p) throw new AppError("unauthenticated", "Access token is empty or invalid.");
  return { tenantId: p.tenantId, actor: actorOf(p, req.ip), requestId: String(req.id), principal: p };
}

export const systemActor: AuditActor = { type: "system", applicationDisplayName: "Allot" };
