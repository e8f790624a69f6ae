// The Fastify server: logging, request ids, body limits, auth, error handling, OpenAPI, health,
// metrics, and the Graph API mounted under /v1.0 and /beta.
import { randomUUID } from "node:crypto";
import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import { registerAuth, type AuthDeps } from "./auth.ts";
import { registerBatchRoute } from "./batch.ts";
import { registerErrorHandling } from "./error-handler.ts";
import { registerMetrics } from "./metrics.ts";
import type { App } from "./types.ts";

export const BODY_LIMIT = 10 * 1024 * 1024;

export interface HttpOptions {
  logLevel: string;
  auth: AuthDeps;
  readiness: () => Promise<boolean>;
  /** Routes under /v1.0 and /beta; `version` lets a module keep beta-only routes out of v1.0. */
  graphRoutes: ((app: App, version: "v1.0" | "beta") => void)[];
  /** Routes outside the Graph prefixes (token endpoint, /auth, SCIM, console). */
  rootRoutes: ((app: App) => void | Promise<void>)[];
  version: string;
  /** Which peers may set X-Forwarded-For/-Proto/-Host (proxy-addr syntax); false trusts none. */
  trustProxy: string | false;
  /** RUN_MODE=worker: serve only /healthz, /readyz and /metrics (no Graph, root or OpenAPI routes). */
  opsOnly?: boolean;
}

export async function createHttpServer(opts: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: opts.logLevel,
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "res.headers['set-cookie']"], censor: "[redacted]" },
    },
    // One log line per request (on completion, below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: opts.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, useDefaults: true } },
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onRequest", async (req, reply) => {
    reply.header("request-id", req.id);
    const clientRequestId = req.headers["client-request-id"];
    if (typeof clientRequestId === "string") reply.header("client-request-id", clientRequestId);
  });

  app.addHook("onResponse", async (req, reply) => {
    req.log.info({ method: req.method, url: req.url.split("?")[0], statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, "request");
  });

  registerErrorHandling(app);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(rateLimit, { global: false, errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, message: `Too many requests; retry after ${Math.ceil(ctx.ttl / 1000)} seconds.` }) });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Allot API", version: opts.version, description: "Graph-shaped API for Allot: directory, access, audit." },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "Access token from POST /{tenant}/oauth2/v2.0/token" },
          session: { type: "apiKey", in: "cookie", name: "allot_session", description: "Console session (send x-csrf-token on unsafe methods)" },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: ({ schema, url, route }) => {
      const s = { ...(schema ?? {}) } as Record<string, unknown>;
      const method = String(Array.isArray(route.method) ? route.method[0] : route.method).toLowerCase();
      s.operationId = `${method}${url.replace(/\$/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`;
      const access = (route.config as { access?: string } | undefined)?.access;
      if (access === "public" || access === "scim") s.security = access === "scim" ? [{ bearer: [] }] : [];
      if (access && access !== "public") s.description = `${(s.description as string | undefined) ?? ""}${s.description ? " " : ""}Requires: ${access}.`;
      return { schema: s as never, url };
    },
  });
  registerAuth(app, opts.auth);
  registerMetrics(app);

  app.get("/healthz", { config: { access: "public" }, schema: { tags: ["ops"], summary: "Liveness" } }, async () => ({ status: "ok" }));
  app.get("/readyz", { config: { access: "public" }, schema: { tags: ["ops"], summary: "Readiness: the database answers" } }, async (_req, reply) => {
    const ok = await opts.readiness().catch(() => false);
    return reply.status(ok ? 200 : 503).send({ status: ok ? "ready" : "unavailable" });
  });
  if (opts.opsOnly) return app;
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => app.swagger());

  for (const version of ["v1.0", "beta"] as const) {
    await app.register(
      async (scope) => {
        // The Graph API speaks JSON: a text/plain body is a 415, not a string for the schema to reject.
        scope.removeContentTypeParser("text/plain");
        const typed = scope as unknown as App;
        registerBatchRoute(typed, app, version);
        for (const register of opts.graphRoutes) register(typed, version);
      },
      { prefix: `/${version}` },
    );
  }
  for (const register of opts.rootRoutes) await register(app as unknown as App);
  return app;
}
