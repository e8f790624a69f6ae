// JSON batching (POST /{version}/$batch): up to 20 requests, dependsOn ordering, 424 for requests
// whose dependency failed. Each inner request goes through the full pipeline (auth, roles, audit).
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { badRequest } from "../lib/errors.ts";
import type { App } from "./types.ts";
import { graphErrorBody } from "./error-handler.ts";

const BatchBody = Type.Object(
  {
    requests: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1 }),
          method: Type.Union(["GET", "POST", "PATCH", "PUT", "DELETE"].map((m) => Type.Literal(m))),
          url: Type.String({ minLength: 1 }),
          headers: Type.Optional(Type.Record(Type.String(), Type.String())),
          body: Type.Optional(Type.Unknown()),
          dependsOn: Type.Optional(Type.Array(Type.String())),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const forwarded = ["authorization", "cookie", "x-csrf-token", "consistencylevel"];

export function registerBatchRoute(app: App, root: FastifyInstance, version: "v1.0" | "beta") {
  app.post("/$batch", { config: { access: "authenticated" }, schema: { tags: ["batch"], summary: "JSON batch of up to 20 requests", body: BatchBody } }, async (req) => {
    const { requests } = req.body;
    if (requests.length === 0) throw badRequest("The batch contains no requests.");
    if (requests.length > 20) throw badRequest(`The batch contains ${requests.length} requests; the limit is 20.`);
    const ids = new Set<string>();
    for (const r of requests) {
      if (ids.has(r.id)) throw badRequest(`The batch request id '${r.id}' is used more than once.`);
      ids.add(r.id);
    }
    for (const r of requests) for (const d of r.dependsOn ?? []) if (!ids.has(d)) throw badRequest(`Request '${r.id}' depends on '${d}', which is not in the batch.`);
    for (const r of requests) if (r.body !== undefined && !Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === "content-type")) throw badRequest(`Request '${r.id}' has a body but no Content-Type header.`);

    // Topological order; a cycle is a malformed batch.
    const order: typeof requests = [];
    const state = new Map<string, "visiting" | "done">();
    const byId = new Map(requests.map((r) => [r.id, r]));
    const visit = (r: (typeof requests)[number]) => {
      if (state.get(r.id) === "done") return;
      if (state.get(r.id) === "visiting") throw badRequest(`The dependsOn of request '${r.id}' forms a cycle.`);
      state.set(r.id, "visiting");
      for (const d of r.dependsOn ?? []) visit(byId.get(d)!);
      state.set(r.id, "done");
      order.push(r);
    };
    for (const r of requests) visit(r);

    const results = new Map<string, { id: string; status: number; headers: Record<string, string>; body?: unknown }>();
    for (const r of order) {
      const failedDep = (r.dependsOn ?? []).find((d) => (results.get(d)?.status ?? 500) >= 400);
      if (failedDep) {
        results.set(r.id, { id: r.id, status: 424, headers: { "Content-Type": "application/json" }, body: graphErrorBody(req, "failedDependency", `Request '${failedDep}', which this request depends on, failed.`) });
        continue;
      }
      let url = r.url.startsWith("/") ? r.url : `/${r.url}`;
      if (!/^\/(v1\.0|beta)\//i.test(url)) url = `/${version}${url}`;
      if (/^\/(v1\.0|beta)\/\$batch/i.test(url)) {
        results.set(r.id, { id: r.id, status: 400, headers: { "Content-Type": "application/json" }, body: graphErrorBody(req, "invalidRequest", "A batch cannot contain another batch.") });
        continue;
      }
      const headers: Record<string, string> = {};
      for (const h of forwarded) if (typeof req.headers[h] === "string") headers[h] = req.headers[h] as string;
      for (const [k, v] of Object.entries(r.headers ?? {})) if (k.toLowerCase() !== "authorization") headers[k.toLowerCase()] = v;
      headers.host = req.headers.host ?? "localhost";
      if (req.headers["x-forwarded-proto"]) headers["x-forwarded-proto"] = String(req.headers["x-forwarded-proto"]);
      const res = await root.inject({ method: r.method as "GET", url, headers, payload: r.body === undefined ? undefined : typeof r.body === "string" ? r.body : JSON.stringify(r.body) });
      // Header names as Graph writes them in batch responses; the JS SDK's BatchResponseContent only
      // parses a JSON body when it finds "Content-Type" spelled this way.
      const outHeaders: Record<string, string> = {};
      for (const [k, name] of [["content-type", "Content-Type"], ["location", "Location"], ["retry-after", "Retry-After"]]) if (res.headers[k]) outHeaders[name] = String(res.headers[k]);
      let body: unknown;
      if (res.body) {
        try {
          body = JSON.parse(res.body);
        } catch {
          body = res.body;
        }
      }
      results.set(r.id, { id: r.id, status: res.statusCode, headers: outHeaders, ...(body === undefined ? {} : { body }) });
    }
    return { responses: requests.map((r) => results.get(r.id)) };
  });
}
