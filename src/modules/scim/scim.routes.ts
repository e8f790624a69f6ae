// SCIM 2.0 endpoints at /scim/v2 (root routes, per-tenant bearer secret) with SCIM error bodies and
// application/scim+json in and out; and the SCIM token admin API under /beta/admin/scimTokens.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ctxOf } from "../../http/context.ts";
import { requestOrigin } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { AppError } from "../../lib/errors.ts";
import { groupToScim, projectAttributes, userToScim, wantsMembers } from "./scim.mapping.ts";
import {
  ERROR_SCHEMA,
  LIST_SCHEMA,
  resourceTypeDocuments,
  SCIM_CONTENT_TYPE,
  schemaDocuments,
  ScimGroupBody,
  ScimIdParam,
  ScimListQuery,
  ScimPatchBody,
  ScimResourceQuery,
  ScimTokenCreate,
  ScimTokenId,
  ScimUserBody,
  serviceProviderConfig,
} from "./scim.schemas.ts";
import type { ScimService } from "./scim.service.ts";

export const SCIM_PREFIX = "/scim/v2";
type Q = { attributes?: string; excludedAttributes?: string; filter?: string; startIndex?: string; count?: string };
type Body = Record<string, unknown>;

const baseOf = (req: FastifyRequest) => `${requestOrigin(req)}${SCIM_PREFIX}`;

function errorBody(status: number, detail: string, scimType?: string) {
  return { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

function sendScimError(reply: FastifyReply, status: number, detail: string, scimType?: string) {
  if (status === 401) reply.header("WWW-Authenticate", 'Bearer realm="allot-scim"');
  return reply.status(status).type(SCIM_CONTENT_TYPE).send(errorBody(status, detail, scimType));
}

function listResponse(resources: Body[], total: number, startIndex: number) {
  return { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** SCIM routes, mounted at /scim/v2 in their own scope (own body parser, errors and 404s). */
export function registerScimRoutes(app: App, deps: { scimService: ScimService }) {
  const svc = deps.scimService;
  return app.register(
    async (instance) => {
      const scope = instance as unknown as App;
      // application/scim+json (and plain JSON) bodies; an empty body (a DELETE with a content type) is no body.
      const json = scope.getDefaultJsonParser("error", "error");
      scope.removeContentTypeParser("application/json");
      scope.addContentTypeParser(["application/json", "application/scim+json"], { parseAs: "string" }, (req, body, done) => {
        if (body === "" || (typeof body === "string" && body.trim() === "")) return done(null, undefined);
        json(req, body as string, done);
      });

      scope.setErrorHandler((error: FastifyError, req, reply) => {
        if (error instanceof AppError) {
          if (error.status >= 500) req.log.error({ err: error }, "SCIM request failed");
          const declared = (error.details as { scimType?: string } | undefined)?.scimType;
          const scimType = declared ?? (error.code === "conflict" ? "uniqueness" : error.status === 400 ? "invalidValue" : undefined);
          return sendScimError(reply, error.status, error.message, scimType);
        }
        if (error.validation) {
          const v = error.validation[0];
          const where = error.validationContext === "body" ? "request body" : error.validationContext;
          return sendScimError(reply, 400, `Invalid ${where}${v?.instancePath ? ` at '${v.instancePath}'` : ""}: ${v?.message ?? "invalid value"}.`, "invalidSyntax");
        }
        const status = error.statusCode ?? 500;
        if (status === 413) return sendScimError(reply, 413, "The request body is larger than the 10 MB limit.");
        if (status === 415) return sendScimError(reply, 415, `Content-Type '${req.headers["content-type"] ?? ""}' is not supported; send application/scim+json.`);
        if (status >= 400 && status < 500) return sendScimError(reply, status, `The request is not valid: ${error.message}`, "invalidSyntax");
        req.log.error({ err: error }, "unexpected SCIM error");
        return sendScimError(reply, 500, "An internal error occurred; the request id identifies it in the server log.");
      });
      scope.setNotFoundHandler((req, reply) => sendScimError(reply, 404, `No SCIM endpoint matches ${req.method} ${req.url.split("?")[0]}.`));
      scope.addHook("onSend", async (_req, reply, payload) => {
        const type = String(reply.getHeader("content-type") ?? "");
        if (payload !== undefined && payload !== null && type.startsWith("application/json")) reply.type(SCIM_CONTENT_TYPE);
        return payload;
      });

      const scim = { access: "scim" as const };
      const tags = ["scim"];
      const consumes = ["application/scim+json", "application/json"];

      // ---------------------------------------------------------------- discovery
      scope.get("/ServiceProviderConfig", { config: scim, schema: { tags, summary: "SCIM features this service provider supports" } }, async (req) => serviceProviderConfig(baseOf(req)));
      scope.get("/Schemas", { config: scim, schema: { tags, summary: "SCIM schemas (User, EnterpriseUser, Group)" } }, async (req) => {
        const docs = schemaDocuments(baseOf(req));
        return listResponse(docs, docs.length, 1);
      });
      scope.get("/Schemas/:id", { config: scim, schema: { tags, summary: "One SCIM schema by URN", params: ScimIdParam } }, async (req, reply) => {
        const doc = schemaDocuments(baseOf(req)).find((d) => d.id.toLowerCase() === req.params.id.toLowerCase());
        return doc ?? sendScimError(reply, 404, `Schema '${req.params.id}' not found.`);
      });
      scope.get("/ResourceTypes", { config: scim, schema: { tags, summary: "SCIM resource types (User, Group)" } }, async (req) => {
        const docs = resourceTypeDocuments(baseOf(req));
        return listResponse(docs, docs.length, 1);
      });
      scope.get("/ResourceTypes/:id", { config: scim, schema: { tags, summary: "One SCIM resource type", params: ScimIdParam } }, async (req, reply) => {
        const doc = resourceTypeDocuments(baseOf(req)).find((d) => d.id.toLowerCase() === req.params.id.toLowerCase());
        return doc ?? sendScimError(reply, 404, `Resource type '${req.params.id}' not found.`);
      });

      // ---------------------------------------------------------------- users
      const user = (req: FastifyRequest, row: Body) => {
        const q = req.query as Q;
        return projectAttributes(userToScim(row, baseOf(req)), q.attributes, q.excludedAttributes);
      };
      scope.get("/Users", { config: scim, schema: { tags, summary: 'List users (filter e.g. userName eq "…", externalId eq "…"; startIndex, count)', querystring: ScimListQuery } }, async (req) => {
        const r = await svc.listUsers(ctxOf(req), req.query);
        return listResponse(r.rows.map((row) => user(req, row)), r.total, r.startIndex);
      });
      scope.get("/Users/:id", { config: scim, schema: { tags, summary: "Get a user", params: ScimIdParam, querystring: ScimResourceQuery } }, async (req) => user(req, await svc.getUser(ctxOf(req), req.params.id)));
      scope.post("/Users", { config: scim, schema: { tags, consumes, summary: "Create a user (duplicate userName → 409 uniqueness)", body: ScimUserBody, querystring: ScimResourceQuery } }, async (req, reply) => {
        const row = await svc.createUser(ctxOf(req), req.body as Body);
        return reply.status(201).header("location", `${baseOf(req)}/Users/${row.id}`).send(user(req, row));
      });
      scope.put("/Users/:id", { config: scim, schema: { tags, consumes, summary: "Replace a user", params: ScimIdParam, body: ScimUserBody, querystring: ScimResourceQuery } }, async (req) =>
        user(req, await svc.replaceUser(ctxOf(req), req.params.id, req.body as Body)),
      );
      scope.patch("/Users/:id", { config: scim, schema: { tags, consumes, summary: "Change a user with PatchOp (add, replace, remove; active=false disables)", params: ScimIdParam, body: ScimPatchBody, querystring: ScimResourceQuery } }, async (req) =>
        user(req, await svc.patchUser(ctxOf(req), req.params.id, req.body as Body)),
      );
      scope.delete("/Users/:id", { config: scim, schema: { tags, summary: "Delete a user (memberships end; licenses are reclaimed)", params: ScimIdParam } }, async (req, reply) => {
        await svc.deleteUser(ctxOf(req), req.params.id);
        return reply.status(204).send();
      });

      // ---------------------------------------------------------------- groups
      const group = (req: FastifyRequest, row: Body, members?: Parameters<typeof groupToScim>[2]) => {
        const q = req.query as Q;
        return projectAttributes(groupToScim(row, baseOf(req), members), q.attributes, q.excludedAttributes);
      };
      const withMembers = (req: FastifyRequest) => {
        const q = req.query as Q;
        return wantsMembers(q.attributes, q.excludedAttributes);
      };
      scope.get("/Groups", { config: scim, schema: { tags, summary: 'List groups (filter e.g. displayName eq "…"; excludedAttributes=members)', querystring: ScimListQuery } }, async (req) => {
        const r = await svc.listGroups(ctxOf(req), req.query, withMembers(req));
        return listResponse(r.rows.map((row) => group(req, row, r.members?.get(row.id))), r.total, r.startIndex);
      });
      scope.get("/Groups/:id", { config: scim, schema: { tags, summary: "Get a group", params: ScimIdParam, querystring: ScimResourceQuery } }, async (req) => {
        const g = await svc.getGroup(ctxOf(req), req.params.id, withMembers(req));
        return group(req, g.row, g.members);
      });
      scope.post("/Groups", { config: scim, schema: { tags, consumes, summary: "Create a group, optionally with members", body: ScimGroupBody, querystring: ScimResourceQuery } }, async (req, reply) => {
        const g = await svc.createGroup(ctxOf(req), req.body as Body);
        return reply.status(201).header("location", `${baseOf(req)}/Groups/${g.row.id}`).send(group(req, g.row, g.members));
      });
      scope.put("/Groups/:id", { config: scim, schema: { tags, consumes, summary: "Replace a group (name, externalId and the full member list)", params: ScimIdParam, body: ScimGroupBody, querystring: ScimResourceQuery } }, async (req) => {
        const g = await svc.replaceGroup(ctxOf(req), req.params.id, req.body as Body);
        return group(req, g.row, g.members);
      });
      scope.patch("/Groups/:id", { config: scim, schema: { tags, consumes, summary: "Change a group with PatchOp (members add/remove, displayName replace); 204", params: ScimIdParam, body: ScimPatchBody } }, async (req, reply) => {
        await svc.patchGroup(ctxOf(req), req.params.id, req.body as Body);
        return reply.status(204).send();
      });
      scope.delete("/Groups/:id", { config: scim, schema: { tags, summary: "Delete a group", params: ScimIdParam } }, async (req, reply) => {
        await svc.deleteGroup(ctxOf(req), req.params.id);
        return reply.status(204).send();
      });
    },
    { prefix: SCIM_PREFIX },
  );
}

/** SCIM token management under /beta/admin (Global administrators). Secrets are shown once, at creation. */
export function registerScimTokenRoutes(app: App, deps: { scimService: ScimService }) {
  const svc = deps.scimService;
  const manage = { access: "access.manage" as const };
  const tags = ["admin"];
  app.get("/admin/scimTokens", { config: manage, schema: { tags, summary: "List SCIM provisioning tokens (secrets are never returned)" } }, async (req) => ({ value: await svc.listTokens(ctxOf(req)) }));
  app.post("/admin/scimTokens", { config: manage, schema: { tags, summary: "Create a SCIM provisioning token; the secret is shown once", body: ScimTokenCreate } }, async (req, reply) =>
    reply.status(201).send(await svc.createToken(ctxOf(req), req.body.displayName)),
  );
  app.delete("/admin/scimTokens/:id", { config: manage, schema: { tags, summary: "Revoke a SCIM provisioning token", params: ScimTokenId } }, async (req, reply) => {
    await svc.deleteToken(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
}

