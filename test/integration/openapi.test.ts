// API-1: /openapi.json is a valid OpenAPI 3.1 document generated from the route schemas, and it
// covers every registered route (only the console pages, /metrics and itself are left out).
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registeredRoutes } from "../../src/http/auth.ts";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

/** Routes deliberately absent from the document: the console's pages, metrics and the document itself. */
const hidden = new Set(["GET /", "GET /setup", "GET /assets/{*}", "GET /{*}", "GET /metrics", "GET /openapi.json"]);
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Fastify's `/groups/:id/members/:memberId/$ref` → OpenAPI's `/groups/{id}/members/{memberId}/$ref`
 * (a trailing wildcard, as in `…/promptMatrix*`, is documented as the parameter `{*}`). */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\*$/, "{*}");

describe(`OpenAPI document (${engine})`, () => {
  let t: TestAllot;
  let doc: any;
  beforeAll(async () => {
    t = await startTestAllot();
    const res = await t.request("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    doc = res.body;
  });
  afterAll(async () => t?.close());

  it("is served without authentication and validates as OpenAPI 3.1", async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    // validate() dereferences in place; give it a copy so the document stays intact for the other tests
    const validated = await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(validated.paths ?? {}).length).toBeGreaterThan(50);
  });

  it("covers every registered route (method and path), and documents nothing that is not served", () => {
    const routes = registeredRoutes(t.allot.server);
    expect(routes.length).toBeGreaterThan(50);
    const served = new Set(
      routes.map((r) => `${r.method} ${toOpenApiPath(r.url)}`).filter((k) => !hidden.has(k)),
    );
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths))
      for (const m of Object.keys(item))
        if (methods.includes(m)) documented.add(`${m.toUpperCase()} ${path}`);
    expect(
      [...served].filter((k) => !documented.has(k)),
      "routes missing from /openapi.json",
    ).toEqual([]);
    expect(
      [...documented].filter((k) => !served.has(k)),
      "documented operations that no route serves",
    ).toEqual([]);
    for (const h of hidden)
      if (routes.some((r) => `${r.method} ${toOpenApiPath(r.url)}` === h)) expect(documented.has(h)).toBe(false);
    // the Graph surface is there under both versions
    for (const k of [
      "GET /v1.0/users",
      "POST /beta/$batch",
      "GET /v1.0/groups/{id}/transitiveMembers",
      "GET /v1.0/deviceManagement/managedDevices/{id}",
      "POST /{tenant}/oauth2/v2.0/token",
      "GET /healthz",
      "GET /readyz",
    ])
      expect(documented.has(k), k).toBe(true);
  });

  it("gives each operation a unique operationId and the schemas its route validates", () => {
    const seen = new Set<string>();
    for (const item of Object.values<Record<string, any>>(doc.paths))
      for (const [m, op] of Object.entries(item)) {
        if (!methods.includes(m)) continue;
        expect(op.operationId, JSON.stringify(op)).toBeTruthy();
        expect(seen.has(op.operationId), op.operationId).toBe(false);
        seen.add(op.operationId);
      }
    // every templated path segment is declared as a required path parameter
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths))
      for (const [m, op] of Object.entries(item)) {
        if (!methods.includes(m)) continue;
        for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]))
          expect(op.parameters ?? [], `${m.toUpperCase()} ${path}: {${name}}`).toEqual(
            expect.arrayContaining([expect.objectContaining({ in: "path", name, required: true })]),
          );
      }
    const createUser = doc.paths["/v1.0/users"].post;
    const body = createUser.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(
      expect.arrayContaining(["displayName", "userPrincipalName", "accountEnabled"]),
    );
    expect(body.additionalProperties).toBe(false);
    const getUser = doc.paths["/v1.0/users/{id}"].get;
    expect(getUser.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: "path", name: "id", required: true })]),
    );
  });

  it("marks public routes as needing no credentials and the rest as bearer or session", () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    expect(doc.paths["/{tenant}/oauth2/v2.0/token"].post.security).toEqual([]);
    expect(doc.paths["/v1.0/users"].get.security ?? doc.security).toEqual(
      expect.arrayContaining([{ bearer: [] }]),
    );
    expect(doc.paths["/v1.0/users"].get.description).toContain("directory.read");
  });
});
