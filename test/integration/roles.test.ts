// TEN-2: role checks on every route. The matrix walks the LIVE route table (every route the server
// registered, with its declared config.access), so a route added later is covered automatically and
// a route that fits none of the known kinds of access fails this test.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouteEntry, registeredRoutes } from "../../src/http/auth.ts";
import { hasPermission, type Permission, permissions, type Role, roles } from "../../src/modules/access/roles.ts";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const isGraph = (url: string) => /^\/(v1\.0|beta)(\/|$)/.test(url);
const isPermission = (access: string): access is Permission => Object.hasOwn(permissions, access);

/** A concrete path for a route pattern: every parameter becomes a random UUID (or `fill` of its name). */
function concrete(url: string, fill: (name: string) => string = () => randomUUID()): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => encodeURIComponent(fill(name))).replace(/\*/g, "x");
}

const withBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH";

describe(`route × role matrix (${engine})`, () => {
  let t: TestAllot;
  let routes: readonly RouteEntry[];
  const tokens = new Map<Role, string>();

  beforeAll(async () => {
    t = await startTestAllot();
    routes = registeredRoutes(t.allot.server);
    for (const role of roles) tokens.set(role, await t.tokenFor([role]));
  });
  afterAll(async () => t?.close());

  const call = (r: RouteEntry, token?: string) =>
    t.request(r.method, concrete(r.url, (name) => (name === "tenant" ? "default" : randomUUID())), { token, ...(withBody(r.method) ? { body: {} } : {}) });

  /** Routes that need a principal: everything under /v1.0 and /beta, and /auth/session. */
  const guarded = () => routes.filter((r) => (isGraph(r.url) || r.url === "/auth/session") && r.access !== "public");

  it("collects the live route table, and every route declares a known kind of access", () => {
    expect(routes.length).toBeGreaterThan(20);
    const urls = routes.map((r) => `${r.method} ${r.url}`);
    // a few well-known routes, so an empty or partial collector cannot pass silently
    for (const u of ["GET /v1.0/users", "POST /beta/groups", "GET /v1.0/deviceManagement/auditEvents", "POST /v1.0/$batch", "GET /auth/session", "GET /beta/admin/administrators", "POST /:tenant/oauth2/v2.0/token", "GET /healthz"])
      expect(urls).toContain(u);
    const unknown = routes.filter((r) => !["public", "authenticated", "scim"].includes(r.access) && !isPermission(r.access));
    expect(unknown).toEqual([]);
    // Outside /v1.0 and /beta a route is public, SCIM (own bearer secret) or /auth/session; anything
    // else is a new kind of route this matrix does not know how to check.
    const unclassified = routes.filter((r) => !isGraph(r.url) && r.url !== "/auth/session" && r.access !== "public" && r.access !== "scim");
    expect(unclassified).toEqual([]);
  });

  it("answers 401 without credentials on every guarded route", async () => {
    const wrong: string[] = [];
    for (const r of guarded()) {
      const res = await call(r);
      if (res.status !== 401) wrong.push(`${r.method} ${r.url} → ${res.status}`);
      else if (res.body?.error?.code !== "InvalidAuthenticationToken") wrong.push(`${r.method} ${r.url} → 401 without a Graph error body`);
    }
    expect(wrong).toEqual([]);
  });

  it("answers 401 with a malformed bearer token on every guarded route", async () => {
    const wrong: string[] = [];
    for (const r of guarded()) {
      const res = await call(r, "not-a-token");
      if (res.status !== 401) wrong.push(`${r.method} ${r.url} → ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it.each(roles)("enforces the permission table for %s on every guarded route", async (role) => {
    const token = tokens.get(role)!;
    const wrong: string[] = [];
    let checked = 0;
    for (const r of guarded()) {
      const allowed = r.access === "authenticated" || (r.access !== "scim" && hasPermission([role], r.access as Permission));
      const res = await call(r, token);
      checked++;
      if (r.access === "scim") {
        // an app registration's token is not a SCIM secret
        if (res.status !== 401) wrong.push(`${r.method} ${r.url} (scim) → ${res.status}, expected 401`);
      } else if (!allowed) {
        if (res.status !== 403) wrong.push(`${r.method} ${r.url} (${r.access}) → ${res.status}, expected 403`);
        else if (res.body?.error?.code !== "Authorization_RequestDenied") wrong.push(`${r.method} ${r.url} → 403 without a Graph error body`);
      } else if (res.status === 401 || res.status === 403 || res.status >= 500) {
        wrong.push(`${r.method} ${r.url} (${r.access}) → ${res.status}: ${res.text.slice(0, 200)}`);
      }
    }
    expect(checked).toBe(guarded().length);
    expect(wrong).toEqual([]);
  });

  it("no guarded route fails with 500 when its path parameters are not GUIDs", async () => {
    const token = tokens.get("globalAdministrator")!;
    const wrong: string[] = [];
    for (const r of guarded().filter((x) => x.url.includes(":"))) {
      for (const value of ["not-a-guid", "someone@contoso.com", "1234"]) {
        const res = await t.request(r.method, concrete(r.url, () => value), { token, ...(withBody(r.method) ? { body: {} } : {}) });
        if (res.status >= 500 || res.status === 401 || res.status === 403) wrong.push(`${r.method} ${r.url} with '${value}' → ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("answers public routes without credentials", async () => {
    const wrong: string[] = [];
    // Apple's notification endpoint checks a per-token bearer secret of its own (like SCIM): 401 without it.
    const ownSecret = (url: string) => url.startsWith("/notifications/");
    const publicRoutes = routes.filter((r) => r.access === "public" && !ownSecret(r.url));
    expect(publicRoutes.map((r) => r.url)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics", "/openapi.json", "/:tenant/oauth2/v2.0/token"]));
    for (const r of publicRoutes) {
      const res = await call(r);
      if (res.status === 401 || res.status === 403 || res.status >= 500) wrong.push(`${r.method} ${r.url} → ${res.status}`);
    }
    for (const r of routes.filter((x) => x.access === "public" && ownSecret(x.url))) {
      const res = await call(r);
      if (res.status !== 401) wrong.push(`${r.method} ${r.url} → ${res.status} (expected 401 without its secret)`);
    }
    expect(wrong).toEqual([]);
  });

  it("answers SCIM routes 401 without their bearer secret", async () => {
    const wrong: string[] = [];
    for (const r of routes.filter((x) => x.access === "scim")) {
      const res = await call(r);
      if (res.status !== 401) wrong.push(`${r.method} ${r.url} → ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it("gives each role exactly the permissions the table lists (spot checks through real calls)", async () => {
    // TEN-2: only Global and User administrators change the directory; everyone reads it.
    const create = async (role: Role) =>
      (await t.request("POST", "/v1.0/users", { token: tokens.get(role), body: { displayName: `By ${role}`, userPrincipalName: `by-${role.toLowerCase()}@contoso.com`, accountEnabled: true } })).status;
    expect(await create("globalAdministrator")).toBe(201);
    expect(await create("userAdministrator")).toBe(201);
    for (const role of ["licenseAdministrator", "applicationManager", "billingAdministrator", "reader"] as const) expect(await create(role)).toBe(403);
    for (const role of roles) expect((await t.request("GET", "/v1.0/users?$top=1", { token: tokens.get(role) })).status).toBe(200);
    // a token with several roles holds the union
    const combined = await t.tokenFor(["reader", "userAdministrator"]);
    expect((await t.request("POST", "/v1.0/groups", { token: combined, body: { displayName: "Union", memberKind: "user" } })).status).toBe(201);
    expect((await t.request("GET", "/beta/admin/administrators", { token: combined })).status).toBe(403);
  });

  it("applies role checks to the requests inside a $batch", async () => {
    const res = await t.request("POST", "/v1.0/$batch", {
      token: tokens.get("reader"),
      body: {
        requests: [
          { id: "1", method: "GET", url: "/users?$top=1" },
          { id: "2", method: "POST", url: "/groups", headers: { "content-type": "application/json" }, body: { displayName: "Nope", memberKind: "user" } },
          { id: "3", method: "GET", url: "/beta/admin/appRegistrations" },
        ],
      },
    });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.responses.map((r: { id: string; status: number }) => [r.id, r.status]));
    expect(byId).toEqual({ "1": 200, "2": 403, "3": 403 });
  });
});
