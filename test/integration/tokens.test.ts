// TOK-1..8 through real HTTP: Allot → a recording proxy → the Apple emulator. Every row of the
// upload table of issue 3, renewal (same and different location), deletion (TOK-7), the v1.0 and
// beta shapes, secrets never shown, the per-tenant limit, revoked tokens and another MDM's claim
// seen on later Apple calls, role checks.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppleEmulator, startAppleEmulator } from "../../src/emulators/apple/index.ts";
import { decryptSecret } from "../../src/lib/crypto.ts";
import { AppleMdmConflictError, AppleTokenError } from "../../src/stores/apple/index.ts";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";
import {
  betaOnlyMembers,
  newLocation,
  type RecordedCall,
  startRecordingProxy,
  v1Members,
} from "./tokens-helpers.ts";

const OTHER_MDM = { id: "jamf-0001", name: "Jamf Pro", metadata: '{"host":"jamf.example"}' };
const base = (v: "v1.0" | "beta") => `/${v}/deviceAppManagement/vppTokens`;

describe(`VPP tokens (${engine})`, () => {
  let emu: AppleEmulator;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let t: TestAllot;
  let tenantId: string;
  const logLines: string[] = [];
  /** Every sToken used in these tests: none may show up in a response, audit entry or log line. */
  const secrets = new Set<string>();
  const responses: string[] = [];

  const req = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await t.request(method, path, { token: token ?? t.adminToken, body });
    responses.push(res.text, JSON.stringify([...res.headers]));
    return res;
  };
  const upload = (body: Record<string, unknown>, v: "v1.0" | "beta" = "beta", token?: string) =>
    req("POST", base(v), body, token);
  const location = async (input: Parameters<typeof newLocation>[1] = {}) => {
    const loc = await newLocation(emu, input);
    secrets.add(loc.sToken);
    secrets.add(JSON.parse(Buffer.from(loc.sToken, "base64").toString("utf8")).token);
    return loc;
  };
  const callsDuring = async <T>(fn: () => Promise<T>): Promise<{ result: T; calls: RecordedCall[] }> => {
    const from = proxy.calls.length;
    const result = await fn();
    return { result, calls: proxy.calls.slice(from) };
  };
  /** Calls made with this sToken (the sync of other tokens runs meanwhile and is left out). */
  const withToken = (calls: RecordedCall[], sToken: string) =>
    calls.filter((c) => c.bearer === sToken.trim());
  const configWrites = (calls: RecordedCall[]) =>
    calls.filter((c) => c.method === "POST" && c.path === "/mdm/v2/client/config");
  const countTokens = async () =>
    (await req("GET", `${base("beta")}?$count=true&$top=1`)).body["@odata.count"] as number;

  beforeAll(async () => {
    emu = await startAppleEmulator({ settleMs: 30 });
    proxy = await startRecordingProxy(emu.url);
    t = await startTestAllot({ ALLOT_APPLE_BASE_URL: proxy.baseUrl, LOG_LEVEL: "silent" });
    tenantId = t.allot.bootstrapResult.tenantId;
    const line = (level: string) => (o: object, m: string) =>
      void logLines.push(`${level} ${m} ${JSON.stringify(o)}`);
    t.allot.services.appleLogger.use({
      debug: line("debug"),
      info: line("info"),
      warn: line("warn"),
      error: line("error"),
    });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await emu?.close();
  });

  describe("upload outcomes (issue 3 table)", () => {
    it("not a token (bad Base64, not JSON, missing fields) → 400, nothing saved, Apple not called", async () => {
      const before = await countTokens();
      for (const bad of [
        "not base64 at all!!",
        Buffer.from("hello, world").toString("base64"),
        Buffer.from(JSON.stringify({ orgName: "X" })).toString("base64"),
      ]) {
        const { result: res, calls } = await callsDuring(() => upload({ token: bad }));
        expect(res.status, bad).toBe(400);
        expect(res.body.error.message).toMatch(/not a VPP token file/);
        expect(withToken(calls, bad)).toEqual([]);
      }
      expect(await countTokens()).toBe(before);
    });

    it("expired (9621) → 400 naming the reason, nothing saved", async () => {
      const loc = await location({ expDate: new Date(Date.now() - 86_400_000).toISOString() });
      const before = await countTokens();
      const res = await upload({ token: loc.sToken });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/has expired/);
      expect(res.body.error.message).toMatch(/9621/);
      expect(await countTokens()).toBe(before);
    });

    it("revoked (9625) → 400 naming the reason, nothing saved", async () => {
      const loc = await location();
      const renewed = await emu.control.renew(loc.uId);
      secrets.add(renewed.sToken);
      const res = await upload({ token: loc.sToken });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/revoked/);
      expect(res.body.error.message).toMatch(/9625/);
      expect((await emu.control.location(loc.uId)).mdmInfo).toBeNull();
    });

    it("unknown token (9622, sent by Apple with HTTP 200) → 400 naming the reason, nothing saved", async () => {
      const fake = Buffer.from(
        JSON.stringify({
          token: "bm90LWEtcmVhbC10b2tlbg==",
          expDate: "2031-01-01T00:00:00+0000",
          orgName: "Nobody",
        }),
      ).toString("base64");
      secrets.add(fake);
      const before = await countTokens();
      const { result: res, calls } = await callsDuring(() => upload({ token: fake }));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/9622/);
      expect(res.body.error.message).toMatch(/not valid/);
      // Apple answered with HTTP 200 (production behaviour), and only the read was made
      expect(withToken(calls, fake).map((c) => `${c.method} ${c.path}`)).toEqual([
        "GET /mdm/v2/client/config",
      ]);
      expect(await countTokens()).toBe(before);
    });

    it("location already used by another tenant → 409, nothing saved in the second tenant", async () => {
      const loc = await location();
      expect((await upload({ token: loc.sToken })).status).toBe(201);
      const created = await req("POST", "/beta/admin/tenants", {
        displayName: "Fabrikam",
        adminUserPrincipalName: "boss@fabrikam.example",
        adminPassword: "Correct-Horse-9-Battery",
      });
      expect(created.status).toBe(201);
      const other = await t.tokenFor(["globalAdministrator"], created.body.id);
      const res = await upload({ token: loc.sToken }, "beta", other);
      expect(res.status).toBe(409);
      expect(res.body.error.message).toMatch(/another tenant/);
      expect((await req("GET", base("beta"), undefined, other)).body.value).toEqual([]);
      // the first tenant's claim at Apple is untouched
      expect((await emu.control.location(loc.uId)).mdmInfo).toMatchObject({
        id: t.allot.services.tokensService.mdmId(tenantId),
      });
    });

    it("location already present in this tenant → 201 duplicateLocationId on beta, valid on v1.0, no write to Apple", async () => {
      const loc = await location();
      const first = await upload({ token: loc.sToken, displayName: "Primary" });
      expect(first.status).toBe(201);
      expect(first.body.state).toBe("valid");
      const { result: second, calls } = await callsDuring(() =>
        upload({ token: loc.sToken, displayName: "Second copy" }),
      );
      expect(second.status).toBe(201);
      expect(second.body.state).toBe("duplicateLocationId");
      expect(configWrites(calls)).toEqual([]);
      const v1 = await req("GET", `${base("v1.0")}/${second.body.id}`);
      expect(v1.body.state).toBe("valid");
      // $filter agrees with what each version shows
      const ids = (r: { body: { value: { id: string }[] } }) => r.body.value.map((x) => x.id);
      expect(ids(await req("GET", `${base("v1.0")}?$filter=state eq 'valid'&$top=999`))).toContain(
        second.body.id,
      );
      expect(ids(await req("GET", `${base("beta")}?$filter=state eq 'duplicateLocationId'`))).toEqual([
        second.body.id,
      ]);
      expect((await req("GET", `${base("v1.0")}?$filter=state eq 'duplicateLocationId'`)).status).toBe(400);

      // deleting the primary leaves the copy standing alone
      expect((await req("DELETE", `${base("beta")}/${first.body.id}`)).status).toBe(204);
      expect((await req("GET", `${base("beta")}/${second.body.id}`)).body.state).toBe("valid");
    });

    it("claimed by another MDM without consent → 409 naming it, nothing saved, Apple not written", async () => {
      const loc = await location();
      await emu.control.claim(loc.uId, { mdmInfo: OTHER_MDM });
      const before = await countTokens();
      for (const v of ["v1.0", "beta"] as const) {
        const { result: res, calls } = await callsDuring(() => upload({ token: loc.sToken }, v));
        expect(res.status).toBe(409);
        expect(res.body.error.message).toContain("Jamf Pro");
        expect(withToken(calls, loc.sToken).map((c) => `${c.method} ${c.path}`)).toEqual([
          "GET /mdm/v2/client/config",
        ]);
      }
      expect(await countTokens()).toBe(before);
      expect((await emu.control.location(loc.uId)).mdmInfo).toEqual(OTHER_MDM);
      // consent is a beta member: v1.0 refuses it
      expect(
        (await upload({ token: loc.sToken, claimTokenManagementFromExternalMdm: true }, "v1.0")).status,
      ).toBe(400);
    });

    it("claimed by another MDM with claimTokenManagementFromExternalMdm: true → 201, Allot takes it over (audited)", async () => {
      const loc = await location();
      await emu.control.claim(loc.uId, { mdmInfo: OTHER_MDM });
      const res = await upload({ token: loc.sToken, claimTokenManagementFromExternalMdm: true });
      expect(res.status).toBe(201);
      expect(res.body.state).toBe("valid");
      expect(res.body.claimTokenManagementFromExternalMdm).toBe(true);
      const at = (await emu.control.location(loc.uId)).mdmInfo as { id: string; name: string };
      expect(at).toMatchObject({ id: t.allot.services.tokensService.mdmId(tenantId), name: "Allot" });
      const audit = await req(
        "GET",
        `/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Take over VPP token from another MDM'`,
      );
      const entry = audit.body.value.find(
        (e: { resources: { resourceId: string }[] }) => e.resources[0].resourceId === res.body.id,
      );
      expect(entry).toBeDefined();
      expect(entry.resources[0].modifiedProperties).toEqual([
        { displayName: "managedBy", oldValue: "Jamf Pro", newValue: "Allot" },
      ]);
    });

    it("otherwise → 201 valid with expirationDateTime from Apple; Allot's mdmInfo is set", async () => {
      const expDate = "2027-03-04T05:06:07.000Z";
      const loc = await location({ expDate, locationName: "Stockholm HQ", accountType: "education" });
      const { result: res, calls } = await callsDuring(() =>
        upload({ token: loc.sToken, appleId: "vpp@contoso.example", automaticallyUpdateApps: true }),
      );
      expect(res.status).toBe(201);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(res.body).toMatchObject({
        state: "valid",
        expirationDateTime: expDate,
        organizationName: "Contoso Ltd",
        locationName: "Stockholm HQ",
        appleId: "vpp@contoso.example",
        countryOrRegion: "se",
        vppTokenAccountType: "education",
        automaticallyUpdateApps: true,
        lastSyncStatus: "none",
        lastSyncDateTime: "0001-01-01T00:00:00Z",
        token: null,
      });
      expect(res.body["@odata.context"]).toMatch(
        /\/beta\/\$metadata#deviceAppManagement\/vppTokens\/\$entity$/,
      );
      // one read, then the claim (the first sync may start before the answer: its calls are reads)
      const mine = withToken(calls, loc.sToken).map((c) => `${c.method} ${c.path}`);
      expect(mine.slice(0, 2)).toEqual(["GET /mdm/v2/client/config", "POST /mdm/v2/client/config"]);
      expect(configWrites(calls)).toHaveLength(1);
      expect(calls.filter((c) => c.method === "POST" && c.bearer !== loc.sToken)).toEqual([]);
      const at = await emu.control.location(loc.uId);
      expect(at.mdmInfo).toMatchObject({ id: t.allot.services.tokensService.mdmId(tenantId), name: "Allot" });
      // no ALLOT_PUBLIC_URL here: no notification endpoint, polling only
      expect(at.notificationUrl).toBeNull();
      expect(
        (await t.allot.services.tokensService.getTokenInfo(tenantId, res.body.id))?.notificationsEnabled,
      ).toBe(false);
      // audited
      const audit = await req(
        "GET",
        `/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Upload VPP token'&$top=999`,
      );
      expect(
        audit.body.value.some(
          (e: { resources: { resourceId: string }[] }) => e.resources[0].resourceId === res.body.id,
        ),
      ).toBe(true);
    });
  });

  describe("renewal (PATCH with a new token)", () => {
    it("same location: the new token replaces the old one, expiry from Apple, state valid", async () => {
      const loc = await location({ expDate: "2027-01-01T00:00:00.000Z" });
      const created = (await upload({ token: loc.sToken })).body;
      const renewed = await emu.control.renew(loc.uId, { expDate: "2028-01-01T00:00:00.000Z" });
      secrets.add(renewed.sToken);
      const { result: res, calls } = await callsDuring(() =>
        req("PATCH", `${base("beta")}/${created.id}`, { token: renewed.sToken }),
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: created.id,
        state: "valid",
        expirationDateTime: "2028-01-01T00:00:00.000Z",
        token: null,
      });
      expect(
        withToken(calls, renewed.sToken)
          .slice(0, 2)
          .map((c) => `${c.method} ${c.path}`),
      ).toEqual(["GET /mdm/v2/client/config", "POST /mdm/v2/client/config"]);
      expect(configWrites(calls).map((c) => c.bearer)).toEqual([renewed.sToken]);
      // the stored token is the new one: Allot's Apple client works with it
      const apple = await t.allot.services.tokensService.appleFor(tenantId, created.id);
      expect((await apple.getAssets()).uId).toBe(loc.uId);
      const audit = await req(
        "GET",
        `/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Renew VPP token'&$top=999`,
      );
      const entry = audit.body.value.find(
        (e: { resources: { resourceId: string }[] }) => e.resources[0].resourceId === created.id,
      );
      expect(
        entry.resources[0].modifiedProperties.map((p: { displayName: string }) => p.displayName),
      ).toContain("expirationDateTime");
    });

    it("different location: 400, no write to Apple, nothing changed", async () => {
      const loc = await location();
      const other = await location();
      const created = (await upload({ token: loc.sToken })).body;
      const { result: res, calls } = await callsDuring(() =>
        req("PATCH", `${base("beta")}/${created.id}`, { token: other.sToken, automaticallyUpdateApps: true }),
      );
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/another location/);
      // only the read of the new token's location; the emulator saw no client/config write at all
      expect(withToken(calls, other.sToken).map((c) => `${c.method} ${c.path}`)).toEqual([
        "GET /mdm/v2/client/config",
      ]);
      expect(configWrites(calls)).toEqual([]);
      const otherAtApple = await emu.control.location(other.uId);
      expect(otherAtApple.mdmInfo).toBeNull();
      expect((await emu.control.notifications(other.uId)).deliveries).toEqual([]);
      // nothing changed (the sync's own members aside: the first sync may be running)
      const {
        lastSyncStatus: _s,
        lastSyncDateTime: _d,
        ...after
      } = (await req("GET", `${base("beta")}/${created.id}`)).body;
      const { lastSyncStatus: _s2, lastSyncDateTime: _d2, ...before } = created;
      expect(after).toEqual({ ...before, "@odata.context": after["@odata.context"] });
      const apple = await t.allot.services.tokensService.appleFor(tenantId, created.id);
      expect((await apple.getClientConfig()).uId).toBe(loc.uId);
    });

    it("settings: displayName, appleId, countryOrRegion (read by the sync), account type, automatic updates", async () => {
      const loc = await location();
      const created = (await upload({ token: loc.sToken })).body;
      const { result: res, calls } = await callsDuring(() =>
        req("PATCH", `${base("beta")}/${created.id}`, {
          displayName: "Renamed",
          appleId: "new@contoso.example",
          countryOrRegion: "US",
          vppTokenAccountType: "education",
          automaticallyUpdateApps: true,
        }),
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        displayName: "Renamed",
        appleId: "new@contoso.example",
        countryOrRegion: "us",
        vppTokenAccountType: "education",
        automaticallyUpdateApps: true,
      });
      expect(calls.filter((c) => c.method === "POST")).toEqual([]);
      expect((await t.allot.services.tokensService.getTokenInfo(tenantId, created.id))?.countryOrRegion).toBe(
        "us",
      );
      // beta-only members are refused on v1.0, unknown ones everywhere
      expect((await req("PATCH", `${base("v1.0")}/${created.id}`, { displayName: "x" })).status).toBe(400);
      expect((await req("PATCH", `${base("beta")}/${created.id}`, { colour: "red" })).status).toBe(400);
      expect(
        (await req("PATCH", `${base("beta")}/${created.id}`, { countryOrRegion: "Sweden" })).status,
      ).toBe(400);
      expect(
        (await req("PATCH", `${base("v1.0")}/${created.id}`, { automaticallyUpdateApps: false })).body
          .automaticallyUpdateApps,
      ).toBe(false);
      expect(
        (
          await req("PATCH", `${base("beta")}/00000000-0000-0000-0000-000000000000`, {
            automaticallyUpdateApps: false,
          })
        ).status,
      ).toBe(404);
    });
  });

  describe("deletion (TOK-7)", () => {
    it("deletes the token, its apps and their assignments; licenses stay at Apple; the answer says so", async () => {
      const loc = await location({
        assets: [{ adamId: "409183694", name: "Keynote", bundleId: "com.apple.Keynote", totalCount: 5 }],
      });
      await emu.control.seedAssignments(loc.uId, {
        assignments: [{ adamId: "409183694", serialNumber: "C02XK1" }],
      });
      const created = (await upload({ token: loc.sToken })).body;
      // what a sync would have stored: one app, its store assignment, a processed notification
      const db = t.allot.database.db;
      const appId = crypto.randomUUID();
      await sql`insert into apps (tenant_id, id, odata_type, source, token_id, adam_id, pricing_param) values (${tenantId}, ${appId}, '#microsoft.graph.iosVppApp', 'appleVpp', ${created.id}, '409183694', 'STDQ')`.execute(
        db,
      );
      await db
        .insertInto("store_assignments")
        .values({
          tenant_id: tenantId,
          token_id: created.id,
          adam_id: "409183694",
          pricing_param: "STDQ",
          serial_number: "C02XK1",
        })
        .execute();
      await db
        .insertInto("store_notifications")
        .values({
          tenant_id: tenantId,
          token_id: created.id,
          notification_id: "n-1",
          notification_type: "ASSET_COUNT",
        })
        .execute();

      const { result: res, calls } = await callsDuring(() => req("DELETE", `${base("v1.0")}/${created.id}`));
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expect(res.headers.get("warning")).toMatch(
        /^299 allot ".*Licenses assigned at Apple stay assigned.*"$/,
      );
      expect(calls.filter((c) => c.method === "POST")).toEqual([]);
      expect((await req("GET", `${base("beta")}/${created.id}`)).status).toBe(404);
      expect(await db.selectFrom("apps").select("id").where("token_id", "=", created.id).execute()).toEqual(
        [],
      );
      expect(
        await db
          .selectFrom("store_assignments")
          .select("adam_id")
          .where("token_id", "=", created.id)
          .execute(),
      ).toEqual([]);
      expect(
        await db
          .selectFrom("store_notifications")
          .select("notification_id")
          .where("token_id", "=", created.id)
          .execute(),
      ).toEqual([]);
      // Apple still has the license assigned, and no revoke was sent
      expect((await emu.control.assignments(loc.uId)).assignments).toEqual([
        { adamId: "409183694", pricingParam: "STDQ", serialNumber: "C02XK1" },
      ]);
      expect((await emu.control.events(loc.uId)).events).toEqual([]);
      const audit = await req(
        "GET",
        `/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Delete VPP token'&$top=999`,
      );
      const entry = audit.body.value.find(
        (e: { resources: { resourceId: string }[] }) => e.resources[0].resourceId === created.id,
      );
      expect(entry.resources[0].modifiedProperties).toContainEqual({
        displayName: "appsDeleted",
        oldValue: "1",
        newValue: null,
      });
      expect((await req("DELETE", `${base("v1.0")}/${created.id}`)).status).toBe(404);
      // the API documents it
      const doc = (await req("GET", "/openapi.json")).body;
      const op = doc.paths["/v1.0/deviceAppManagement/vppTokens/{id}"].delete;
      expect(op.description).toMatch(/Licenses assigned at Apple stay assigned/);
      expect(op.responses["204"].headers.Warning).toBeDefined();
    });
  });

  describe("shapes and secrets", () => {
    it("v1.0 shows exactly v1.0's members, beta adds its own; token is null everywhere", async () => {
      const loc = await location();
      const created = (await upload({ token: loc.sToken, displayName: "Shapes" })).body;
      const v1 = (await req("GET", `${base("v1.0")}/${created.id}`)).body;
      expect(
        Object.keys(v1)
          .filter((k) => k !== "@odata.context")
          .sort(),
      ).toEqual(v1Members);
      const beta = (await req("GET", `${base("beta")}/${created.id}`)).body;
      expect(
        Object.keys(beta)
          .filter((k) => k !== "@odata.context")
          .sort(),
      ).toEqual([...v1Members, ...betaOnlyMembers].sort());
      const list = (await req("GET", `${base("v1.0")}?$top=999`)).body;
      for (const item of list.value) {
        for (const m of betaOnlyMembers) expect(item).not.toHaveProperty(m);
        expect(item.token).toBeNull();
      }
      expect((await req("GET", `${base("v1.0")}/${created.id}?$select=token,state`)).body).toMatchObject({
        token: null,
        state: "valid",
      });
      expect(
        (await req("GET", `${base("beta")}?$select=token&$filter=id eq ${created.id}`)).body.value,
      ).toEqual([{ token: null }]);
      expect((await req("GET", `${base("v1.0")}?$select=displayName`)).status).toBe(400);
      expect((await req("GET", `${base("beta")}?$filter=token eq 'x'`)).status).toBe(400);
      expect(
        (await req("GET", `${base("beta")}?$orderby=expirationDateTime desc&$count=true`)).body[
          "@odata.count"
        ],
      ).toBeGreaterThan(0);
      // Graph's own create example carries read-only members: accepted and ignored
      const loc2 = await location();
      const graphStyle = await upload(
        {
          "@odata.type": "#microsoft.graph.vppToken",
          token: loc2.sToken,
          organizationName: "Ignored",
          state: "expired",
          expirationDateTime: "2000-01-01T00:00:00Z",
          lastSyncStatus: "failed",
          vppTokenAccountType: "business",
          countryOrRegion: "no",
        },
        "v1.0",
      );
      expect(graphStyle.status).toBe(201);
      expect(graphStyle.body).toMatchObject({
        organizationName: "Contoso Ltd",
        state: "valid",
        lastSyncStatus: "none",
        countryOrRegion: "no",
      });
      expect(graphStyle.body.expirationDateTime).not.toBe("2000-01-01T00:00:00Z");
      for (const m of betaOnlyMembers) expect(graphStyle.body).not.toHaveProperty(m);
    });

    it("the secret is encrypted at rest and never appears in responses, the audit log, its export or log lines", async () => {
      const loc = await location();
      const created = (await upload({ token: loc.sToken })).body;
      const row = await t.allot.database.db
        .selectFrom("vpp_tokens")
        .selectAll()
        .where("id", "=", created.id)
        .executeTakeFirstOrThrow();
      expect(row.token_ciphertext).not.toContain(loc.sToken);
      expect(row.token_ciphertext.startsWith("v1.")).toBe(true);
      expect(
        decryptSecret(row.token_ciphertext, t.allot.config.secretKey, `vpp_tokens:${tenantId}:${created.id}`),
      ).toBe(loc.sToken);
      // bound to its row: the same ciphertext does not decrypt as another token's
      expect(() =>
        decryptSecret(
          row.token_ciphertext,
          t.allot.config.secretKey,
          `vpp_tokens:${tenantId}:${crypto.randomUUID()}`,
        ),
      ).toThrow();
      expect(row.token_fingerprint).not.toContain(loc.sToken);

      await req("GET", "/v1.0/deviceManagement/auditEvents?$top=999");
      await req("GET", "/v1.0/deviceManagement/auditEvents/export");
      await req("GET", `${base("beta")}?$top=999`);
      await req("GET", `${base("v1.0")}?$top=999&$select=token,organizationName`);
      expect(responses.length).toBeGreaterThan(20);
      expect(secrets.size).toBeGreaterThan(10);
      const everything = [...responses, ...logLines].join("\n");
      for (const s of secrets) expect(everything.includes(s), "a token secret leaked").toBe(false);
    });
  });

  describe("later problems seen on Apple's answers", () => {
    it("revoked token: on the next Apple call the state becomes invalid and administrators are alerted; renewal fixes it", async () => {
      const loc = await location();
      const created = (await upload({ token: loc.sToken })).body;
      const renewed = await emu.control.renew(loc.uId);
      secrets.add(renewed.sToken);
      const svc = t.allot.services.tokensService;
      const apple = await svc.appleFor(tenantId, created.id);
      const error = await apple.getAssets().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppleTokenError);
      expect((error as AppleTokenError).errorNumber).toBe(9625);
      await svc.whenIdle();
      expect((await req("GET", `${base("beta")}/${created.id}`)).body.state).toBe("invalid");
      const alerts = (await req("GET", `/beta/admin/notifications?$filter=resourceId eq '${created.id}'`))
        .body.value;
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        kind: "vppTokenInvalid",
        severity: "critical",
        resourceType: "microsoft.graph.vppToken",
        acknowledgedDateTime: null,
      });
      expect(alerts[0].title).toMatch(/revoked/);
      // a second failing call does not alert again
      await (await svc.appleFor(tenantId, created.id)).getUsers().catch(() => undefined);
      await svc.whenIdle();
      expect(
        (await req("GET", `/beta/admin/notifications?$filter=resourceId eq '${created.id}'`)).body.value,
      ).toHaveLength(1);
      // the renewal with the newest token makes it valid again
      const res = await req("PATCH", `${base("v1.0")}/${created.id}`, { token: renewed.sToken });
      expect(res.status).toBe(200);
      expect(res.body.state).toBe("valid");
    });

    it("claimed later by another MDM: assignedToExternalMDM, writes refused before reaching Apple, alert; consent takes it back", async () => {
      const loc = await location({
        assets: [{ adamId: "409201541", name: "Numbers", bundleId: "com.apple.Numbers", totalCount: 5 }],
      });
      const created = (await upload({ token: loc.sToken })).body;
      await emu.control.claim(loc.uId, { mdmInfo: OTHER_MDM });
      const svc = t.allot.services.tokensService;
      const apple = await svc.appleFor(tenantId, created.id);
      await apple.getAssets();
      expect(apple.mdmConflict).toBe(true);
      await svc.whenIdle();
      expect((await req("GET", `${base("v1.0")}/${created.id}`)).body.state).toBe("assignedToExternalMDM");
      const alerts = (await req("GET", `/beta/admin/notifications?$filter=resourceId eq '${created.id}'`))
        .body.value;
      expect(alerts.map((a: { kind: string }) => a.kind)).toEqual(["vppTokenAssignedToExternalMdm"]);
      expect(alerts[0].message).toContain("Jamf Pro");

      // a fresh client for the token refuses writes before sending anything
      const later = await svc.appleFor(tenantId, created.id);
      const { result: refused, calls } = await callsDuring(() =>
        later
          .associateAssets({
            assets: [{ adamId: "409201541", pricingParam: "STDQ" }],
            serialNumbers: ["SN1"],
          })
          .catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(AppleMdmConflictError);
      expect(calls.filter((c) => c.method === "POST")).toEqual([]);
      expect((await emu.control.events(loc.uId)).events).toEqual([]);

      // v1.0 cannot consent; beta can, and Allot claims it again
      expect(
        (await req("PATCH", `${base("v1.0")}/${created.id}`, { claimTokenManagementFromExternalMdm: true }))
          .status,
      ).toBe(400);
      const back = await req("PATCH", `${base("beta")}/${created.id}`, {
        claimTokenManagementFromExternalMdm: true,
      });
      expect(back.status).toBe(200);
      expect(back.body.state).toBe("valid");
      expect((await emu.control.location(loc.uId)).mdmInfo).toMatchObject({
        id: svc.mdmId(tenantId),
        name: "Allot",
      });
      const audit = await req(
        "GET",
        `/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Take over VPP token from another MDM'&$top=999`,
      );
      expect(
        audit.body.value.some(
          (e: { resources: { resourceId: string }[] }) => e.resources[0].resourceId === created.id,
        ),
      ).toBe(true);
      const fresh = await svc.appleFor(tenantId, created.id);
      const written = await fresh.associateAssets({
        assets: [{ adamId: "409201541", pricingParam: "STDQ" }],
        serialNumbers: ["SN1"],
      });
      expect(written.events).toHaveLength(1);
    });
  });

  describe("access", () => {
    it("Readers read tokens but cannot upload, change or delete them; Application managers can", async () => {
      const reader = await t.tokenFor(["reader"]);
      const manager = await t.tokenFor(["applicationManager"]);
      const licenseAdmin = await t.tokenFor(["licenseAdministrator"]);
      const loc = await location();
      const { result: refused, calls } = await callsDuring(() =>
        upload({ token: loc.sToken }, "beta", reader),
      );
      expect(refused.status).toBe(403);
      expect(withToken(calls, loc.sToken)).toEqual([]);
      expect((await upload({ token: loc.sToken }, "v1.0", licenseAdmin)).status).toBe(403);
      const created = await upload({ token: loc.sToken }, "v1.0", manager);
      expect(created.status).toBe(201);
      expect((await req("GET", base("v1.0"), undefined, reader)).status).toBe(200);
      expect((await req("GET", `${base("beta")}/${created.body.id}`, undefined, reader)).status).toBe(200);
      expect(
        (await req("PATCH", `${base("beta")}/${created.body.id}`, { displayName: "x" }, reader)).status,
      ).toBe(403);
      expect((await req("DELETE", `${base("beta")}/${created.body.id}`, undefined, reader)).status).toBe(403);
      expect((await req("DELETE", `${base("beta")}/${created.body.id}`, undefined, manager)).status).toBe(
        204,
      );
    });
  });
});
