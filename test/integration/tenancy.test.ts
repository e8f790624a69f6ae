// TEN-1: a second tenant's credentials see and change nothing of the first, through any route.
// The GET and write sweeps walk the LIVE route table, with path parameters filled with tenant A's
// real ids, so routes added later are swept too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouteEntry, registeredRoutes } from "../../src/http/auth.ts";
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const PASSWORD = "correct horse battery staple";
const isGraph = (url: string) => /^\/(v1\.0|beta)\//.test(url);
const params = (url: string) => [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
const fill = (url: string, values: Record<string, string>) => url.replace(/:([A-Za-z0-9_]+)/g, (_m, n: string) => encodeURIComponent(values[n]));
/** The tenants admin API belongs to the default tenant's administrators only. */
const isTenantsAdmin = (url: string) => /\/admin\/tenants(\/|$)/.test(url);
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A value that appears in the request path itself may of course appear in the answer. */
const inPath = (path: string, m: string) => path.includes(m) || path.includes(encodeURIComponent(m));

describe(`tenant isolation (${engine})`, () => {
  let t: TestAllot;
  let tenantB: { id: string; displayName: string };
  let tokenB: string;
  let tokenA: string;
  let routes: readonly RouteEntry[];
  /** Tenant A's ids by kind, and every string of A that must never reach tenant B. */
  const a = {} as { users: string[]; groups: string[]; devices: string[]; admins: string[]; apps: string[]; audit: string[]; upns: string[] };
  const markers: string[] = [];
  let snapshotA: string;

  const A = (method: string, path: string, body?: unknown) => t.request(method, path, { token: tokenA, body });
  const B = (method: string, path: string, body?: unknown) => t.request(method, path, { token: tokenB, body });
  const leaks = (text: string) => markers.filter((m) => text.includes(m));

  /** Everything tenant A can read about itself, to prove B's attempts changed nothing. */
  const snapshot = async () => {
    const parts: unknown[] = [];
    for (const path of ["/v1.0/users", "/v1.0/groups", "/v1.0/deviceManagement/managedDevices", "/beta/admin/administrators", "/beta/admin/appRegistrations", "/v1.0/deviceManagement/auditEvents?$count=true&$top=1"]) {
      const res = await A("GET", path);
      expect(res.status).toBe(200);
      parts.push(path.includes("auditEvents") ? res.body["@odata.count"] : res.body.value);
    }
    for (const g of a.groups) parts.push((await A("GET", `/v1.0/groups/${g}/members`)).body.value);
    return JSON.stringify(parts);
  };

  beforeAll(async () => {
    t = await startTestAllot();
    tokenA = t.adminToken;
    routes = registeredRoutes(t.allot.server);

    // tenant A (the default tenant): users, groups (nested), members, devices, an administrator, audit
    const mk = async (path: string, body: unknown) => {
      const res = await A("POST", path, body);
      expect(res.status).toBe(201);
      return res.body;
    };
    const u1 = await mk("/v1.0/users", { displayName: "Alpha Person", userPrincipalName: "alpha.person@tenant-a.example", accountEnabled: true, mail: "alpha.person@tenant-a.example" });
    const u2 = await mk("/v1.0/users", { displayName: "Alpha Second", userPrincipalName: "alpha.second@tenant-a.example", accountEnabled: true });
    const shared = await mk("/v1.0/users", { displayName: "Shared Name", userPrincipalName: "shared@example.com", accountEnabled: true });
    const g1 = await mk("/v1.0/groups", { displayName: "Alpha Engineers", memberKind: "user" });
    const g2 = await mk("/v1.0/groups", { displayName: "Alpha Everyone", memberKind: "mixed" });
    const d1 = await mk("/v1.0/deviceManagement/managedDevices", { deviceName: "Alpha iPad", operatingSystem: "iPadOS", serialNumber: "ALPHASER1", userId: u1.id });
    const ref = (id: string) => ({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
    for (const [g, m] of [[g1.id, u1.id], [g1.id, u2.id], [g2.id, g1.id], [g2.id, d1.id], [g2.id, shared.id]]) expect((await A("POST", `/v1.0/groups/${g}/members/$ref`, ref(m))).status).toBe(204);
    const admin = await mk("/beta/admin/administrators", { userPrincipalName: "alpha.admin@tenant-a.example", password: PASSWORD, roles: ["globalAdministrator"] });
    const apps = (await A("GET", "/beta/admin/appRegistrations")).body.value as { id: string }[];
    const audit = (await A("GET", "/v1.0/deviceManagement/auditEvents?$top=999")).body.value as { id: string }[];
    expect(audit.length).toBeGreaterThan(5);
    Object.assign(a, {
      users: [u1.id, u2.id, shared.id],
      groups: [g1.id, g2.id],
      devices: [d1.id],
      admins: [admin.id],
      apps: apps.map((x) => x.id),
      audit: audit.map((x) => x.id),
      upns: ["alpha.person@tenant-a.example", "alpha.second@tenant-a.example"],
    });
    markers.push(...a.users, ...a.groups, ...a.devices, ...a.admins, ...a.apps, ...a.audit, ...a.upns, "Alpha Person", "Alpha Second", "Alpha Engineers", "Alpha Everyone", "Alpha iPad", "ALPHASER1", "alpha.admin@tenant-a.example", t.allot.bootstrapResult.tenantId);

    // tenant B, with its own Global administrator app registration and a little data of its own
    const created = await A("POST", "/beta/admin/tenants", { displayName: "Fabrikam", adminUserPrincipalName: "boss@fabrikam.example", adminPassword: PASSWORD });
    expect(created.status).toBe(201);
    tenantB = created.body;
    expect(tenantB.id).not.toBe(t.allot.bootstrapResult.tenantId);
    tokenB = await t.tokenFor(["globalAdministrator"], tenantB.id);
    // the same UPN may exist in both tenants
    expect((await B("POST", "/v1.0/users", { displayName: "Shared Name", userPrincipalName: "shared@example.com", accountEnabled: true })).status).toBe(201);
    expect((await B("POST", "/v1.0/groups", { displayName: "Beta Group", memberKind: "mixed" })).status).toBe(201);
    snapshotA = await snapshot();
  });
  afterAll(async () => t?.close());

  it("B's credentials are tokens of tenant B", async () => {
    const me = await B("GET", "/auth/session");
    expect(me.body.tenantId).toBe(tenantB.id);
  });

  it("no GET route without parameters shows anything of tenant A", async () => {
    const wrong: string[] = [];
    const list = routes.filter((r) => r.method === "GET" && isGraph(r.url) && params(r.url).length === 0 && r.access !== "public");
    expect(list.length).toBeGreaterThan(5);
    for (const r of list) {
      for (const query of ["", "?$top=999", "?$count=true"]) {
        const res = await B("GET", `${r.url}${query}`);
        const expected = isTenantsAdmin(r.url) ? [403] : [200, 400];
        if (!expected.includes(res.status)) wrong.push(`GET ${r.url}${query} → ${res.status}`);
        const leaked = leaks(res.text);
        if (leaked.length) wrong.push(`GET ${r.url}${query} shows ${leaked.join(", ")}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no GET route with parameters finds tenant A's objects by id or userPrincipalName (404 or an empty collection)", async () => {
    const wrong: string[] = [];
    const list = routes.filter((r) => r.method === "GET" && isGraph(r.url) && params(r.url).length > 0 && r.access !== "public");
    expect(list.length).toBeGreaterThan(5);
    const values = [...a.users, ...a.groups, ...a.devices, ...a.admins, ...a.apps, ...a.audit.slice(0, 3), ...a.upns];
    let calls = 0;
    for (const r of list) {
      const names = params(r.url);
      const idNames = names.filter((n) => n !== "cast");
      // every parameter takes each of A's values in turn; with two id parameters, also A's real (group, member) pairs
      const fillings: Record<string, string>[] = values.map((v) => Object.fromEntries(idNames.map((n) => [n, v])));
      if (idNames.length === 2) for (const g of a.groups) for (const m of [...a.users, ...a.devices, a.groups[0]]) fillings.push({ [idNames[0]]: g, [idNames[1]]: m });
      for (const f of fillings) {
        for (const cast of names.includes("cast") ? ["microsoft.graph.user", "microsoft.graph.group", "microsoft.graph.device"] : [undefined]) {
          const path = fill(r.url, { ...f, ...(cast ? { cast } : {}) });
          const res = await B("GET", path);
          calls++;
          const emptyCollection = res.status === 200 && Array.isArray(res.body?.value) && res.body.value.length === 0;
          const validationOnly = res.status === 400 && Object.values(f).some((v) => !uuidRe.test(v)) && /format "uuid"/.test(res.body?.error?.message ?? "");
          const ok = res.status === 404 || emptyCollection || validationOnly || (isTenantsAdmin(r.url) && res.status === 403);
          if (!ok) wrong.push(`GET ${path} → ${res.status} ${res.text.slice(0, 120)}`);
          const leaked = leaks(res.text).filter((m) => !inPath(path, m));
          if (leaked.length) wrong.push(`GET ${path} shows ${leaked.join(", ")}`);
        }
      }
    }
    expect(calls).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });

  it("no write route changes tenant A's objects: every attempt is a 404, and A is unchanged", async () => {
    const ref = (id: string) => ({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
    // valid bodies, so the requests reach the tenant check rather than stop at validation
    const bodyFor = (r: RouteEntry, f: Record<string, string>): unknown => {
      const u = r.url.replace(/^\/(v1\.0|beta)/, "");
      if (r.method === "PATCH" && u === "/users/:id") return { displayName: "Hijacked" };
      if (r.method === "PATCH" && u === "/groups/:id") return { displayName: "Hijacked" };
      if (r.method === "PATCH" && u === "/deviceManagement/managedDevices/:id") return { deviceName: "Hijacked" };
      if (r.method === "PATCH" && u === "/admin/administrators/:id") return { displayName: "Hijacked" };
      if (r.method === "POST" && u === "/groups/:id/members/$ref") return ref(a.users[0] === f.id ? a.users[1] : a.users[0]);
      if (u.endsWith("/revokeUserLicense")) return { userId: a.users[0], notifyManagedDevices: false };
      if (u.endsWith("/revokeDeviceLicense")) return { managedDeviceId: a.devices[0], notifyManagedDevices: false };
      if (u.endsWith("/previewMembershipChange")) return { groupId: a.groups[0], add: [a.users[0]], remove: [] };
      if (u.endsWith("/previewPurchase")) return { totalLicenseCount: 1 };
      if (u.endsWith("/reportInstalledApps")) return { apps: [] };
      if (u.endsWith("/requestAppInstall")) return { mobileAppId: a.apps[0] ?? a.users[0] };
      if (r.method === "POST" || r.method === "PATCH" || r.method === "PUT") return {};
      return undefined;
    };
    const wrong: string[] = [];
    const list = routes.filter((r) => r.method !== "GET" && isGraph(r.url) && params(r.url).length > 0 && r.access !== "public");
    expect(list.length).toBeGreaterThan(5);
    const values = [...a.users, ...a.groups, ...a.devices, ...a.admins, ...a.apps, ...a.upns];
    for (const r of list) {
      const names = params(r.url);
      const fillings: Record<string, string>[] = values.map((v) => Object.fromEntries(names.map((n) => [n, v])));
      if (names.length === 2) for (const g of a.groups) for (const m of [...a.users, ...a.devices]) fillings.push({ [names[0]]: g, [names[1]]: m });
      for (const f of fillings) {
        const path = fill(r.url, f);
        const res = await t.request(r.method, path, { token: tokenB, body: bodyFor(r, f) });
        // a userPrincipalName where a route takes only GUIDs fails validation (400), which reveals nothing either
        const validationOnly = res.status === 400 && Object.values(f).some((v) => !uuidRe.test(v)) && /format "uuid"/.test(res.body?.error?.message ?? "");
        if (res.status !== 404 && !validationOnly) wrong.push(`${r.method} ${path} → ${res.status} ${res.text.slice(0, 120)}`);
        const leaked = leaks(res.text).filter((m) => !inPath(path, m));
        if (leaked.length) wrong.push(`${r.method} ${path} shows ${leaked.join(", ")}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await snapshot()).toBe(snapshotA);
  });

  it("B cannot pull A's objects into its own groups or devices", async () => {
    const groupB = (await B("POST", "/v1.0/groups", { displayName: "Beta Mixed", memberKind: "mixed" })).body;
    for (const id of [...a.users, ...a.groups, ...a.devices]) {
      const add = await B("POST", `/v1.0/groups/${groupB.id}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
      expect(add.status).toBe(404);
      expect(leaks(add.text).filter((m) => m !== id)).toEqual([]);
    }
    const bind = await B("POST", "/v1.0/groups", { displayName: "Beta Bind", memberKind: "user", "members@odata.bind": [`https://graph.microsoft.com/v1.0/directoryObjects/${a.users[0]}`] });
    expect([400, 404]).toContain(bind.status);
    const device = await B("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: "Beta iPad", operatingSystem: "iPadOS", userId: a.users[0] });
    expect([400, 404]).toContain(device.status);
    expect((await B("GET", `/v1.0/groups/${groupB.id}/members`)).body.value).toEqual([]);
    expect((await B("GET", "/v1.0/groups?$filter=displayName eq 'Beta Bind'")).body.value).toEqual([]);
    expect((await B("GET", "/v1.0/deviceManagement/managedDevices?$filter=deviceName eq 'Beta iPad'")).body.value).toEqual([]);
    expect(await snapshot()).toBe(snapshotA);
  });

  it("queries in B never match A's rows", async () => {
    for (const q of [
      `/v1.0/users?$filter=userPrincipalName eq '${a.upns[0]}'`,
      `/v1.0/users?$filter=id eq '${a.users[0]}'`,
      "/v1.0/users?$filter=startswith(displayName,'Alpha')",
      `/v1.0/groups?$filter=id in ('${a.groups.join("','")}')`,
      "/v1.0/deviceManagement/managedDevices?$filter=serialNumber eq 'ALPHASER1'",
      "/v1.0/deviceManagement/auditEvents?$filter=actor/userPrincipalName eq 'alpha.admin@tenant-a.example'",
      `/v1.0/deviceManagement/auditEvents?$filter=resources/resourceId eq '${a.users[0]}'`,
    ]) {
      const res = await B("GET", q);
      expect(res.status, q).toBe(200);
      expect(res.body.value, q).toEqual([]);
    }
    const users = await B("GET", "/v1.0/users?$count=true");
    expect(users.body["@odata.count"]).toBe(1);
    expect(users.body.value[0].userPrincipalName).toBe("shared@example.com");
    expect(users.body.value[0].id).not.toBe(a.users[2]);
    const csv = await B("GET", "/v1.0/deviceManagement/auditEvents/export");
    expect(csv.status).toBe(200);
    expect(leaks(csv.text)).toEqual([]);
  });

  it("$batch and directoryObjects/{id} stay inside the caller's tenant", async () => {
    const res = await B("POST", "/v1.0/$batch", {
      requests: [
        { id: "1", method: "GET", url: `/users/${a.users[0]}` },
        { id: "2", method: "GET", url: `/directoryObjects/${a.groups[0]}` },
        { id: "3", method: "GET", url: `/directoryObjects/${a.devices[0]}` },
        { id: "4", method: "PATCH", url: `/users/${a.users[1]}`, headers: { "content-type": "application/json" }, body: { displayName: "Hijacked" } },
        { id: "5", method: "DELETE", url: `/groups/${a.groups[1]}` },
        { id: "6", method: "GET", url: `/beta/deviceManagement/auditEvents/${a.audit[0]}` },
        { id: "7", method: "GET", url: "/users" },
      ],
    });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.responses.map((r: { id: string; status: number }) => [r.id, r.status]));
    expect(byId).toEqual({ "1": 404, "2": 404, "3": 404, "4": 404, "5": 404, "6": 404, "7": 200 });
    expect(leaks(res.text).filter((m) => ![a.users[0], a.users[1], a.groups[0], a.groups[1], a.devices[0], a.audit[0]].includes(m))).toEqual([]);
    for (const id of [...a.users, ...a.groups, ...a.devices]) expect((await B("GET", `/v1.0/directoryObjects/${id}`)).status).toBe(404);
    // A still sees its own objects through the same routes
    expect((await A("GET", `/v1.0/directoryObjects/${a.devices[0]}`)).status).toBe(200);
    expect(await snapshot()).toBe(snapshotA);
  });

  it("credentials and sessions are bound to their tenant", async () => {
    // A's client at B's token endpoint
    const wrongTenant = await fetch(`${t.url}/${tenantB.id}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: BOOTSTRAP_CLIENT_ID, client_secret: BOOTSTRAP_CLIENT_SECRET, grant_type: "client_credentials", scope: "https://graph.microsoft.com/.default" }),
    });
    expect(wrongTenant.status).toBe(401);
    expect(((await wrongTenant.json()) as { error: string }).error).toBe("invalid_client");
    // B's administrator signs in to B, not to the default tenant
    expect((await t.request("POST", "/auth/login", { body: { userPrincipalName: "boss@fabrikam.example", password: PASSWORD } })).status).toBe(401);
    const signIn = await t.request("POST", "/auth/login", { body: { userPrincipalName: "boss@fabrikam.example", password: PASSWORD, tenant: tenantB.id } });
    expect(signIn.status).toBe(200);
    expect(signIn.body.tenantId).toBe(tenantB.id);
    const cookie = signIn.headers.getSetCookie().map((l) => l.split(";")[0]).join("; ");
    const users = await t.request("GET", "/v1.0/users", { headers: { cookie } });
    expect(users.status).toBe(200);
    expect(leaks(users.text)).toEqual([]);
    const admins = await t.request("GET", "/beta/admin/administrators", { headers: { cookie } });
    expect(admins.body.value.map((x: { userPrincipalName: string }) => x.userPrincipalName)).toEqual(["boss@fabrikam.example"]);
    // A's administrators do not appear in B and vice versa
    const adminsA = await A("GET", "/beta/admin/administrators");
    expect(adminsA.text).not.toContain("boss@fabrikam.example");
  });

  it("the tenants admin API refuses administrators of any tenant but the default one", async () => {
    const list = await B("GET", "/beta/admin/tenants");
    expect(list.status).toBe(403);
    expect(list.body.error.code).toBe("Authorization_RequestDenied");
    const create = await B("POST", "/beta/admin/tenants", { displayName: "Sneaky" });
    expect(create.status).toBe(403);
    // the default tenant's Global administrator sees both tenants
    const all = await A("GET", "/beta/admin/tenants");
    expect(all.status).toBe(200);
    expect(all.body.value.map((x: { id: string }) => x.id).sort()).toEqual([t.allot.bootstrapResult.tenantId, tenantB.id].sort());
    expect(all.body.value.map((x: { displayName: string }) => x.displayName)).not.toContain("Sneaky");
  });

  it("creating a tenant with an invalid first administrator creates nothing", async () => {
    const before = (await A("GET", "/beta/admin/tenants")).body.value.length;
    const bad = await A("POST", "/beta/admin/tenants", { displayName: "Half made", adminUserPrincipalName: "x@half.example", adminPassword: "short" });
    expect(bad.status).toBe(400);
    const notEmail = await A("POST", "/beta/admin/tenants", { displayName: "Half made", adminUserPrincipalName: "not-an-email", adminPassword: PASSWORD });
    expect(notEmail.status).toBe(400);
    expect((await A("GET", "/beta/admin/tenants")).body.value.length).toBe(before);
  });
});
