// TEN-2..4: console sign-in (sessions in cookies, CSRF, rate limit), the first-run bootstrap and
// setup link, the Entra-shaped client-credentials token endpoint, app registrations and
// administrators — over real HTTP on the test engine.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.ts";
import { signJwt } from "../../src/lib/crypto.ts";
import { createAllot } from "../../src/main.ts";
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, engine, freshDatabase, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const PASSWORD = "correct horse battery staple";

/** The Set-Cookie line for `name`, and the cookie pairs to send back. */
function cookiesOf(headers: Headers) {
  const lines = headers.getSetCookie();
  const line = (name: string) => lines.find((l) => l.startsWith(`${name}=`));
  const value = (name: string) => line(name)?.split(";")[0].slice(name.length + 1);
  return { lines, line, value, header: lines.map((l) => l.split(";")[0]).join("; ") };
}
const attrs = (line: string | undefined) => (line ?? "").split(";").slice(1).map((a) => a.trim().toLowerCase());

async function tokenRequest(url: string, tenant: string, form: Record<string, string>, contentType = "application/x-www-form-urlencoded") {
  const body = contentType.startsWith("application/json") ? JSON.stringify(form) : new URLSearchParams(form).toString();
  const res = await fetch(`${url}/${tenant}/oauth2/v2.0/token`, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
const credentials = (clientId: string, secret: string) => ({ client_id: clientId, client_secret: secret, grant_type: "client_credentials", scope: "https://graph.microsoft.com/.default" });

describe(`access (${engine})`, () => {
  let t: TestAllot;
  const createAdmin = async (upn: string, roles: string[] = ["globalAdministrator"]) => {
    const res = await t.request("POST", "/beta/admin/administrators", { token: t.adminToken, body: { userPrincipalName: upn, password: PASSWORD, displayName: upn.split("@")[0], roles } });
    expect(res.status).toBe(201);
    return res.body as { id: string; userPrincipalName: string; roles: string[] };
  };
  const login = async (upn: string, password = PASSWORD, target: TestAllot = t) => {
    const res = await target.request("POST", "/auth/login", { body: { userPrincipalName: upn, password } });
    return { ...res, cookies: cookiesOf(res.headers) };
  };
  /** A signed-in console session: the Cookie header to send and the CSRF token. */
  const session = async (upn: string) => {
    const res = await login(upn);
    expect(res.status).toBe(200);
    return { cookie: res.cookies.header, csrf: res.body.csrfToken as string, body: res.body };
  };

  beforeAll(async () => {
    // many sign-ins below; the limit itself is tested on its own server
    t = await startTestAllot({ ALLOT_LOGIN_RATE_LIMIT: "1000" });
  });
  afterAll(async () => t?.close());

  describe("console sign-in", () => {
    it("signs in a local administrator with HttpOnly, SameSite=Strict cookies (not Secure over http)", async () => {
      const admin = await createAdmin("alice@contoso.com");
      expect(JSON.stringify(admin)).not.toMatch(/password|scrypt/i);
      const res = await login("ALICE@contoso.com");
      expect(res.status).toBe(200);
      expect(res.body.administrator.id).toBe(admin.id);
      expect(res.body.tenantId).toBe(t.allot.bootstrapResult.tenantId);
      const sessionAttrs = attrs(res.cookies.line("allot_session"));
      expect(sessionAttrs).toContain("httponly");
      expect(sessionAttrs).toContain("samesite=strict");
      expect(sessionAttrs).toContain("path=/");
      expect(sessionAttrs).not.toContain("secure");
      // the CSRF cookie is readable by the console's script, and matches the body's token
      expect(attrs(res.cookies.line("allot_csrf"))).not.toContain("httponly");
      expect(res.cookies.value("allot_csrf")).toBe(res.body.csrfToken);
      expect(res.cookies.value("allot_session")).not.toBe(res.body.csrfToken);
      expect(res.text).not.toContain(res.cookies.value("allot_session"));
    });

    it("reports the signed-in principal at /auth/session, for a cookie or a bearer token", async () => {
      await createAdmin("bob@contoso.com", ["reader", "userAdministrator"]);
      const s = await session("bob@contoso.com");
      const me = await t.request("GET", "/auth/session", { headers: { cookie: s.cookie } });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ kind: "administrator", name: "bob@contoso.com", roles: ["reader", "userAdministrator"], csrfToken: s.csrf, tenantId: t.allot.bootstrapResult.tenantId });
      const app = await t.request("GET", "/auth/session", { token: t.adminToken });
      expect(app.status).toBe(200);
      expect(app.body).toMatchObject({ kind: "application", roles: ["globalAdministrator"] });
      expect((await t.request("GET", "/auth/session")).status).toBe(401);
      expect((await t.request("GET", "/auth/session", { headers: { cookie: "allot_session=forged-session-value" } })).status).toBe(401);
    });

    it("needs the CSRF header on unsafe methods with the session cookie, and none on GET", async () => {
      await createAdmin("carol@contoso.com");
      const s = await session("carol@contoso.com");
      const body = { displayName: "Dave", userPrincipalName: "dave@contoso.com", accountEnabled: true };
      const missing = await t.request("POST", "/v1.0/users", { headers: { cookie: s.cookie }, body });
      expect(missing.status).toBe(403);
      expect(missing.body.error.code).toBe("Authorization_RequestDenied");
      expect(missing.body.error.message).toMatch(/x-csrf-token/);
      const wrong = await t.request("POST", "/v1.0/users", { headers: { cookie: s.cookie, "x-csrf-token": `${s.csrf}x` }, body });
      expect(wrong.status).toBe(403);
      // nothing was written by the refused requests
      expect((await t.request("GET", "/v1.0/users/dave@contoso.com", { token: t.adminToken })).status).toBe(404);
      const ok = await t.request("POST", "/v1.0/users", { headers: { cookie: s.cookie, "x-csrf-token": s.csrf }, body });
      expect(ok.status).toBe(201);
      for (const method of ["PATCH", "DELETE"]) {
        const res = await t.request(method, `/v1.0/users/${ok.body.id}`, { headers: { cookie: s.cookie }, ...(method === "PATCH" ? { body: { displayName: "X" } } : {}) });
        expect(res.status).toBe(403);
      }
      const get = await t.request("GET", "/v1.0/users/dave@contoso.com", { headers: { cookie: s.cookie } });
      expect(get.status).toBe(200);
      // another session's CSRF token does not fit this session
      const other = await session("carol@contoso.com");
      expect((await t.request("DELETE", `/v1.0/users/${ok.body.id}`, { headers: { cookie: s.cookie, "x-csrf-token": other.csrf } })).status).toBe(403);
      expect((await t.request("DELETE", `/v1.0/users/${ok.body.id}`, { headers: { cookie: s.cookie, "x-csrf-token": s.csrf } })).status).toBe(204);
    });

    it("enforces the administrator's roles on a session too", async () => {
      await createAdmin("rita@contoso.com", ["reader"]);
      const s = await session("rita@contoso.com");
      expect((await t.request("GET", "/v1.0/users", { headers: { cookie: s.cookie } })).status).toBe(200);
      const denied = await t.request("POST", "/v1.0/groups", { headers: { cookie: s.cookie, "x-csrf-token": s.csrf }, body: { displayName: "G" } });
      expect(denied.status).toBe(403);
      expect((await t.request("GET", "/beta/admin/administrators", { headers: { cookie: s.cookie } })).status).toBe(403);
    });

    it("logout invalidates the session on the server", async () => {
      await createAdmin("erin@contoso.com");
      const s = await session("erin@contoso.com");
      expect((await t.request("GET", "/auth/session", { headers: { cookie: s.cookie } })).status).toBe(200);
      const out = await t.request("POST", "/auth/logout", { headers: { cookie: s.cookie } });
      expect(out.status).toBe(204);
      const cleared = cookiesOf(out.headers);
      expect(cleared.value("allot_session")).toBe("");
      // replaying the old cookie no longer works
      expect((await t.request("GET", "/auth/session", { headers: { cookie: s.cookie } })).status).toBe(401);
      expect((await t.request("GET", "/v1.0/users", { headers: { cookie: s.cookie } })).status).toBe(401);
      expect((await t.request("POST", "/v1.0/groups", { headers: { cookie: s.cookie, "x-csrf-token": s.csrf }, body: { displayName: "G" } })).status).toBe(401);
    });

    it("a disabled or deleted administrator's session stops working", async () => {
      const frank = await createAdmin("frank@contoso.com");
      const s = await session("frank@contoso.com");
      expect((await t.request("PATCH", `/beta/admin/administrators/${frank.id}`, { token: t.adminToken, body: { accountEnabled: false } })).status).toBe(200);
      expect((await t.request("GET", "/auth/session", { headers: { cookie: s.cookie } })).status).toBe(401);
      expect((await login("frank@contoso.com")).status).toBe(401);
      expect((await t.request("PATCH", `/beta/admin/administrators/${frank.id}`, { token: t.adminToken, body: { accountEnabled: true } })).status).toBe(200);
      const again = await session("frank@contoso.com");
      expect((await t.request("DELETE", `/beta/admin/administrators/${frank.id}`, { token: t.adminToken })).status).toBe(204);
      expect((await t.request("GET", "/auth/session", { headers: { cookie: again.cookie } })).status).toBe(401);
    });

    it("refuses a wrong password with 401 without revealing whether the account exists", async () => {
      await createAdmin("gina@contoso.com");
      const wrong = await login("gina@contoso.com", "not the password at all");
      const unknown = await login("nobody@contoso.com", "not the password at all");
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body.error.code).toBe(unknown.body.error.code);
      expect(wrong.body.error.message).toBe(unknown.body.error.message);
      expect(wrong.cookies.lines).toEqual([]);
      expect(unknown.cookies.lines).toEqual([]);
      // an unknown tenant answers the same way
      const badTenant = await t.request("POST", "/auth/login", { body: { userPrincipalName: "gina@contoso.com", password: PASSWORD, tenant: "00000000-0000-4000-8000-000000000000" } });
      expect(badTenant.status).toBe(401);
      expect(badTenant.body.error.message).toBe(wrong.body.error.message);
    });

    it("marks the cookies Secure when ALLOT_PUBLIC_URL is https", async () => {
      const secure = await startTestAllot({ ALLOT_PUBLIC_URL: "https://allot.example.com" });
      try {
        const created = await secure.request("POST", "/beta/admin/administrators", { token: secure.adminToken, body: { userPrincipalName: "sec@contoso.com", password: PASSWORD, roles: ["reader"] } });
        expect(created.status).toBe(201);
        const res = await login("sec@contoso.com", PASSWORD, secure);
        expect(res.status).toBe(200);
        for (const name of ["allot_session", "allot_csrf"]) expect(attrs(res.cookies.line(name))).toContain("secure");
        expect(attrs(res.cookies.line("allot_session"))).toEqual(expect.arrayContaining(["httponly", "samesite=strict"]));
      } finally {
        await secure.close();
      }
    });

    it("rate-limits sign-in attempts with a 429 Graph error", async () => {
      const limited = await startTestAllot({ ALLOT_LOGIN_RATE_LIMIT: "3" });
      try {
        const created = await limited.request("POST", "/beta/admin/administrators", { token: limited.adminToken, body: { userPrincipalName: "rl@contoso.com", password: PASSWORD, roles: ["reader"] } });
        expect(created.status).toBe(201);
        // a guesser that claims a new address in X-Forwarded-For for every attempt is still counted as one client
        for (let i = 0; i < 3; i++) {
          const res = await limited.request("POST", "/auth/login", { body: { userPrincipalName: "rl@contoso.com", password: "wrong password guess" }, headers: { "x-forwarded-for": `203.0.113.${i + 1}` } });
          expect(res.status).toBe(401);
        }
        const spoofed = await limited.request("POST", "/auth/login", { body: { userPrincipalName: "rl@contoso.com", password: "wrong password guess" }, headers: { "x-forwarded-for": "198.51.100.7" } });
        expect(spoofed.status).toBe(429);
        const blocked = await login("rl@contoso.com", PASSWORD, limited);
        expect(blocked.status).toBe(429);
        expect(Object.keys(blocked.body.error).sort()).toEqual(["code", "innerError", "message"]);
        expect(blocked.body.error.code).toBe("activityLimitReached");
        expect(blocked.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(blocked.cookies.lines).toEqual([]);
        // the limit is on sign-in; the API itself still answers
        expect((await limited.request("GET", "/v1.0/users", { token: limited.adminToken })).status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });

  describe("token endpoint", () => {
    it("returns an Entra-shaped token for `default` and for the tenant id", async () => {
      for (const tenant of ["default", t.allot.bootstrapResult.tenantId, t.allot.bootstrapResult.tenantId.toUpperCase()]) {
        const res = await tokenRequest(t.url, tenant, credentials(BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET));
        expect(res.status).toBe(200);
        expect(res.body.token_type).toBe("Bearer");
        expect(res.body.expires_in).toBe(3600);
        expect(typeof res.body.access_token).toBe("string");
        expect((await t.request("GET", "/v1.0/users?$top=1", { token: res.body.access_token })).status).toBe(200);
      }
      // several scopes, one of them /.default, as Entra accepts
      const multi = await tokenRequest(t.url, "default", { ...credentials(BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET), scope: "openid https://graph.microsoft.com/.default" });
      expect(multi.status).toBe(200);
    });

    it("answers OAuth errors: invalid_client, unsupported_grant_type, invalid_scope, invalid_request", async () => {
      const good = credentials(BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET);
      const wrongSecret = await tokenRequest(t.url, "default", { ...good, client_secret: "wrong-secret-wrong-secret" });
      expect(wrongSecret.status).toBe(401);
      expect(wrongSecret.body.error).toBe("invalid_client");
      expect(wrongSecret.body.access_token).toBeUndefined();
      expect(wrongSecret.body.error_description).not.toContain(BOOTSTRAP_CLIENT_SECRET);
      const unknownClient = await tokenRequest(t.url, "default", { ...good, client_id: "no-such-client" });
      expect(unknownClient.status).toBe(401);
      expect(unknownClient.body.error).toBe("invalid_client");
      expect(unknownClient.body.error_description).toBe(wrongSecret.body.error_description);

      const grant = await tokenRequest(t.url, "default", { ...good, grant_type: "password" });
      expect(grant.status).toBe(400);
      expect(grant.body.error).toBe("unsupported_grant_type");
      const scope = await tokenRequest(t.url, "default", { ...good, scope: "https://graph.microsoft.com/User.Read" });
      expect(scope.status).toBe(400);
      expect(scope.body.error).toBe("invalid_scope");
      const noScope = await tokenRequest(t.url, "default", { client_id: good.client_id, client_secret: good.client_secret, grant_type: good.grant_type });
      expect(noScope.status).toBe(400);
      expect(noScope.body.error).toBe("invalid_scope");
      const json = await tokenRequest(t.url, "default", good, "application/json");
      expect(json.status).toBe(400);
      expect(json.body.error).toBe("invalid_request");
      expect(json.body.access_token).toBeUndefined();
      const missing = await tokenRequest(t.url, "default", { grant_type: "client_credentials", scope: good.scope });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toBe("invalid_request");
      const unknownTenant = await tokenRequest(t.url, "00000000-0000-4000-8000-000000000000", good);
      expect(unknownTenant.status).toBe(400);
      expect(unknownTenant.body.access_token).toBeUndefined();
      // every OAuth error carries Entra's fields
      for (const r of [wrongSecret, grant, scope, json, missing, unknownTenant]) expect(Object.keys(r.body)).toEqual(expect.arrayContaining(["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"]));
    });

    it("refuses expired, forged and tampered bearer tokens with 401", async () => {
      const key = t.allot.config.secretKey;
      const now = Math.floor(Date.now() / 1000);
      const valid = t.adminToken;
      const claims = JSON.parse(Buffer.from(valid.split(".")[1], "base64url").toString("utf8"));
      expect(claims).toMatchObject({ tid: t.allot.bootstrapResult.tenantId, typ: "app" });
      const expired = signJwt({ ...claims, iat: now - 7200, exp: now - 60 }, key);
      const forged = signJwt({ ...claims, exp: now + 600 }, Buffer.from("some-other-key-some-other-key-0123456789"));
      const [head, , sig] = valid.split(".");
      const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, roles: ["globalAdministrator"], tid: "00000000-0000-4000-8000-000000000000" })).toString("base64url")}.${sig}`;
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${valid.split(".")[1]}.`;
      const noExp = signJwt({ ...claims, exp: undefined }, key);
      for (const bad of [expired, forged, tampered, unsigned, noExp, "garbage", `${valid}x`]) {
        const res = await t.request("GET", "/v1.0/users", { token: bad });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("InvalidAuthenticationToken");
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
      }
      expect((await t.request("GET", "/v1.0/users", { token: valid })).status).toBe(200);
    });
  });

  describe("app registrations", () => {
    it("shows the secret once at creation, never in lists, and rotation invalidates the old secret for new tokens", async () => {
      const created = await t.request("POST", "/beta/admin/appRegistrations", { token: t.adminToken, body: { displayName: "Inventory sync", roles: ["reader"] } });
      expect(created.status).toBe(201);
      const { appId, id, clientSecret } = created.body as { appId: string; id: string; clientSecret: string };
      expect(clientSecret.length).toBeGreaterThanOrEqual(32);
      const list = await t.request("GET", "/beta/admin/appRegistrations", { token: t.adminToken });
      expect(list.status).toBe(200);
      const listed = list.body.value.find((a: { id: string }) => a.id === id);
      expect(listed).toMatchObject({ appId, displayName: "Inventory sync", roles: ["reader"] });
      expect(listed.clientSecret).toBeUndefined();
      expect(list.text).not.toContain(clientSecret);
      expect(list.text).not.toContain(BOOTSTRAP_CLIENT_SECRET);

      const first = await tokenRequest(t.url, "default", credentials(appId, clientSecret));
      expect(first.status).toBe(200);
      // the app holds exactly its roles
      expect((await t.request("GET", "/v1.0/users", { token: first.body.access_token })).status).toBe(200);
      expect((await t.request("POST", "/v1.0/groups", { token: first.body.access_token, body: { displayName: "No" } })).status).toBe(403);

      const rotated = await t.request("POST", `/beta/admin/appRegistrations/${id}/rotateSecret`, { token: t.adminToken });
      expect(rotated.status).toBe(200);
      expect(rotated.body.clientSecret).toEqual(expect.any(String));
      expect(rotated.body.clientSecret).not.toBe(clientSecret);
      expect(rotated.text).not.toContain(clientSecret);
      const old = await tokenRequest(t.url, "default", credentials(appId, clientSecret));
      expect(old.status).toBe(401);
      expect(old.body.error).toBe("invalid_client");
      expect((await tokenRequest(t.url, "default", credentials(appId, rotated.body.clientSecret))).status).toBe(200);
      const relisted = await t.request("GET", "/beta/admin/appRegistrations", { token: t.adminToken });
      expect(relisted.text).not.toContain(rotated.body.clientSecret);

      expect((await t.request("DELETE", `/beta/admin/appRegistrations/${id}`, { token: t.adminToken })).status).toBe(204);
      expect((await tokenRequest(t.url, "default", credentials(appId, rotated.body.clientSecret))).status).toBe(401);
      expect((await t.request("POST", `/beta/admin/appRegistrations/${id}/rotateSecret`, { token: t.adminToken })).status).toBe(404);
    });

    it("validates roles and bodies", async () => {
      expect((await t.request("POST", "/beta/admin/appRegistrations", { token: t.adminToken, body: { displayName: "X", roles: ["superuser"] } })).status).toBe(400);
      expect((await t.request("POST", "/beta/admin/appRegistrations", { token: t.adminToken, body: { displayName: "X", roles: [] } })).status).toBe(400);
      expect((await t.request("POST", "/beta/admin/appRegistrations", { token: t.adminToken, body: { displayName: "X", roles: ["reader"], clientSecret: "mine" } })).status).toBe(400);
      expect((await t.request("POST", "/beta/admin/administrators", { token: t.adminToken, body: { userPrincipalName: "short@contoso.com", password: "short", roles: ["reader"] } })).status).toBe(400);
      expect((await t.request("POST", "/beta/admin/administrators", { token: t.adminToken, body: { userPrincipalName: "not-an-email", password: PASSWORD, roles: ["reader"] } })).status).toBe(400);
      await createAdmin("dup@contoso.com", ["reader"]);
      const dup = await t.request("POST", "/beta/admin/administrators", { token: t.adminToken, body: { userPrincipalName: "DUP@contoso.com", password: PASSWORD, roles: ["reader"] } });
      expect(dup.status).toBe(409);
    });
  });

  describe("administrators", () => {
    it("cannot delete, disable or demote themselves; another Global administrator can", async () => {
      const me = await createAdmin("self@contoso.com");
      const s = await session("self@contoso.com");
      const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
      const demote = await t.request("PATCH", `/beta/admin/administrators/${me.id}`, { headers: h, body: { roles: ["reader"] } });
      expect(demote.status).toBe(400);
      expect(demote.body.error.message).toMatch(/yourself|your own/);
      expect((await t.request("PATCH", `/beta/admin/administrators/${me.id}`, { headers: h, body: { accountEnabled: false } })).status).toBe(400);
      const del = await t.request("DELETE", `/beta/admin/administrators/${me.id}`, { headers: h });
      expect(del.status).toBe(400);
      // still a Global administrator, still signed in
      const list = await t.request("GET", "/beta/admin/administrators", { headers: { cookie: s.cookie } });
      expect(list.body.value.find((a: { id: string }) => a.id === me.id).roles).toEqual(["globalAdministrator"]);
      expect(list.text).not.toMatch(/scrypt|password/i);
      // keeping Global while adding a role, or renaming oneself, is fine
      expect((await t.request("PATCH", `/beta/admin/administrators/${me.id}`, { headers: h, body: { roles: ["globalAdministrator", "reader"], displayName: "Me" } })).status).toBe(200);
      // someone else may demote and delete
      const other = await createAdmin("other@contoso.com");
      expect((await t.request("PATCH", `/beta/admin/administrators/${other.id}`, { headers: h, body: { roles: ["reader"] } })).body.roles).toEqual(["reader"]);
      expect((await t.request("DELETE", `/beta/admin/administrators/${other.id}`, { headers: h })).status).toBe(204);
      expect((await t.request("DELETE", `/beta/admin/administrators/${other.id}`, { headers: h })).status).toBe(404);
    });

    it("a password change takes effect at the next sign-in", async () => {
      const a = await createAdmin("pw@contoso.com", ["reader"]);
      const newPassword = "another long passphrase 42";
      expect((await t.request("PATCH", `/beta/admin/administrators/${a.id}`, { token: t.adminToken, body: { password: newPassword } })).status).toBe(200);
      expect((await login("pw@contoso.com")).status).toBe(401);
      expect((await login("pw@contoso.com", newPassword)).status).toBe(200);
    });
  });

  describe("first start", () => {
    it("bootstrap from the environment is idempotent: two starts on one database make one administrator and one app registration", async () => {
      const database = await freshDatabase();
      const dataDir = mkdtempSync(join(tmpdir(), "allot-boot-"));
      const env = {
        ALLOT_DATA_DIR: dataDir,
        ALLOT_SECRET_KEY: "boot-secret-key-boot-secret-key-0123456789",
        LOG_LEVEL: "silent",
        PORT: "0",
        ALLOT_BOOTSTRAP_ADMIN_EMAIL: "root@contoso.com",
        ALLOT_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
        ALLOT_BOOTSTRAP_CLIENT_ID: "boot-client",
        ALLOT_BOOTSTRAP_CLIENT_SECRET: "boot-client-secret-0123456789",
      } as const;
      try {
        const first = await createAllot(loadConfig({}, env), { database });
        expect(first.bootstrapResult.setupUrl).toBeUndefined();
        await first.close();
        const second = await createAllot(loadConfig({}, env), { database });
        const tenantId = second.bootstrapResult.tenantId;
        expect(tenantId).toBe(first.bootstrapResult.tenantId);
        expect(second.bootstrapResult.setupUrl).toBeUndefined();
        const repo = second.services.accessRepository;
        expect(await repo.countAdministrators(tenantId)).toBe(1);
        expect((await repo.listApps(tenantId)).map((a) => a.client_id)).toEqual(["boot-client"]);
        expect((await second.services.tenantsRepository.list()).length).toBe(1);
        const login = await second.server.inject({ method: "POST", url: "/auth/login", payload: { userPrincipalName: "root@contoso.com", password: PASSWORD } });
        expect(login.statusCode).toBe(200);
        const token = await second.server.inject({ method: "POST", url: "/default/oauth2/v2.0/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams(credentials(env.ALLOT_BOOTSTRAP_CLIENT_ID, env.ALLOT_BOOTSTRAP_CLIENT_SECRET)).toString() });
        expect(token.statusCode).toBe(200);
        await second.close();

        // the environment stays the source of truth for the bootstrap client's secret
        const third = await createAllot(loadConfig({}, { ...env, ALLOT_BOOTSTRAP_CLIENT_SECRET: "rotated-boot-secret-0123456789" }), { database });
        const tokenWith = (secret: string) =>
          third.server.inject({ method: "POST", url: "/default/oauth2/v2.0/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams(credentials("boot-client", secret)).toString() });
        expect((await tokenWith(env.ALLOT_BOOTSTRAP_CLIENT_SECRET)).statusCode).toBe(401);
        expect((await tokenWith("rotated-boot-secret-0123456789")).statusCode).toBe(200);
        expect((await third.services.accessRepository.listApps(tenantId)).length).toBe(1);
        expect(await third.services.accessRepository.countAdministrators(tenantId)).toBe(1);
        await third.close();
      } finally {
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("without a bootstrap administrator, the one-time setup link creates one Global administrator, once", async () => {
      const fresh = await startTestAllot();
      try {
        const setupUrl = fresh.allot.bootstrapResult.setupUrl;
        expect(setupUrl).toMatch(/\/setup\?token=[A-Za-z0-9_-]{20,}$/);
        const token = new URL(setupUrl!).searchParams.get("token")!;
        expect((await fresh.request("GET", "/auth/setup")).body).toEqual({ setupRequired: true });
        const page = await fresh.request("GET", `/setup?token=${encodeURIComponent(token)}`);
        expect(page.status).toBe(200);
        expect(page.headers.get("content-type")).toMatch(/text\/html/);

        expect((await fresh.request("POST", "/auth/setup", { body: { token: "wrong-token", userPrincipalName: "first@contoso.com", password: PASSWORD } })).status).toBe(403);
        const weak = await fresh.request("POST", "/auth/setup", { body: { token, userPrincipalName: "first@contoso.com", password: "short" } });
        expect(weak.status).toBe(400);
        const done = await fresh.request("POST", "/auth/setup", { body: { token, userPrincipalName: "first@contoso.com", password: PASSWORD } });
        expect(done.status).toBe(201);
        expect(done.body.roles).toEqual(["globalAdministrator"]);
        expect(done.text).not.toContain(PASSWORD);
        const again = await fresh.request("POST", "/auth/setup", { body: { token, userPrincipalName: "second@contoso.com", password: PASSWORD } });
        expect(again.status).toBe(403);
        expect(again.body.error.code).toBe("Authorization_RequestDenied");
        expect((await fresh.request("GET", "/auth/setup")).body).toEqual({ setupRequired: false });
        const admins = await fresh.request("GET", "/beta/admin/administrators", { token: fresh.adminToken });
        expect(admins.body.value.map((a: { userPrincipalName: string }) => a.userPrincipalName)).toEqual(["first@contoso.com"]);
        const signIn = await fresh.request("POST", "/auth/login", { body: { userPrincipalName: "first@contoso.com", password: PASSWORD } });
        expect(signIn.status).toBe(200);
      } finally {
        await fresh.close();
      }
    });

    it("the setup link no longer works once an administrator exists by other means", async () => {
      const fresh = await startTestAllot();
      try {
        const token = new URL(fresh.allot.bootstrapResult.setupUrl!).searchParams.get("token")!;
        const made = await fresh.request("POST", "/beta/admin/administrators", { token: fresh.adminToken, body: { userPrincipalName: "ops@contoso.com", password: PASSWORD, roles: ["globalAdministrator"] } });
        expect(made.status).toBe(201);
        const late = await fresh.request("POST", "/auth/setup", { body: { token, userPrincipalName: "intruder@contoso.com", password: PASSWORD } });
        expect(late.status).toBe(403);
        const admins = await fresh.request("GET", "/beta/admin/administrators", { token: fresh.adminToken });
        expect(admins.body.value.map((a: { userPrincipalName: string }) => a.userPrincipalName)).toEqual(["ops@contoso.com"]);
      } finally {
        await fresh.close();
      }
    });
  });
});
