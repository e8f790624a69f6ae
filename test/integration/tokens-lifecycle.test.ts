// TOK-2, TOK-4, TOK-5 over time: expiry warnings (once per threshold) and expiry, administrator
// alerts (list, acknowledge), the per-tenant token limit, and the notification endpoint set at
// upload and renewal — Apple's TEST_NOTIFICATION during the claim is accepted for the pending token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppleEmulator, startAppleEmulator } from "../../src/emulators/apple/index.ts";
import { hashSecret } from "../../src/lib/crypto.ts";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";
import { newLocation, startNotificationReceiver, startRecordingProxy } from "./tokens-helpers.ts";

const DAY = 86_400_000;
const base = "/beta/deviceAppManagement/vppTokens";
/** Whole seconds: Apple's dates have no fractions. */
const inDays = (days: number) => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000).toISOString();

let emu: AppleEmulator;
beforeAll(async () => {
  emu = await startAppleEmulator({ settleMs: 30 });
});
afterAll(async () => emu?.close());

describe(`token expiry and alerts (${engine})`, () => {
  let t: TestAllot;
  beforeAll(async () => {
    t = await startTestAllot({ ALLOT_APPLE_BASE_URL: emu.baseUrl });
  });
  afterAll(async () => t?.close());

  const alertsFor = async (id: string) =>
    (
      await t.request(
        "GET",
        `/beta/admin/notifications?$filter=resourceId eq '${id}'&$orderby=createdDateTime`,
        { token: t.adminToken },
      )
    ).body.value as {
      id: string;
      kind: string;
      severity: string;
      title: string;
      message: string;
      acknowledgedDateTime: string | null;
    }[];

  it("warns at 30, 14, 7 and 1 days, each once, then marks the token expired", async () => {
    const loc = await newLocation(emu, { expDate: inDays(40) });
    const created = await t.request("POST", base, {
      token: t.adminToken,
      body: { token: loc.sToken, displayName: "Main site" },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const expires = new Date(created.body.expirationDateTime).getTime();
    const svc = t.allot.services.tokensService;
    const at = (daysBefore: number) => new Date(expires - daysBefore * DAY);

    expect(await svc.checkExpiries(at(35))).toEqual({ expired: 0, warned: 0 });
    expect(await svc.checkExpiries(at(29.5))).toEqual({ expired: 0, warned: 1 });
    expect(await svc.checkExpiries(at(29))).toEqual({ expired: 0, warned: 0 });
    expect(await svc.checkExpiries(at(13))).toEqual({ expired: 0, warned: 1 });
    expect(await svc.checkExpiries(at(10))).toEqual({ expired: 0, warned: 0 });
    expect(await svc.checkExpiries(at(6))).toEqual({ expired: 0, warned: 1 });
    expect(await svc.checkExpiries(at(6))).toEqual({ expired: 0, warned: 0 });
    expect(await svc.checkExpiries(at(0.5))).toEqual({ expired: 0, warned: 1 });
    expect(await svc.checkExpiries(at(0.25))).toEqual({ expired: 0, warned: 0 });
    expect((await t.request("GET", `${base}/${id}`, { token: t.adminToken })).body.state).toBe("valid");
    expect(await svc.checkExpiries(at(-0.01))).toEqual({ expired: 1, warned: 0 });
    expect(await svc.checkExpiries(at(-2))).toEqual({ expired: 0, warned: 0 });

    const token = (
      await t.request("GET", `/v1.0/deviceAppManagement/vppTokens/${id}`, { token: t.adminToken })
    ).body;
    expect(token.state).toBe("expired");
    const alerts = await alertsFor(id);
    expect(alerts.map((a) => a.kind)).toEqual([
      "vppTokenExpiring",
      "vppTokenExpiring",
      "vppTokenExpiring",
      "vppTokenExpiring",
      "vppTokenExpired",
    ]);
    expect(alerts.map((a) => a.title)).toEqual([
      "VPP token 'Main site' expires in 30 days",
      "VPP token 'Main site' expires in 13 days",
      "VPP token 'Main site' expires in 6 days",
      "VPP token 'Main site' expires in 1 day",
      "VPP token 'Main site' has expired",
    ]);
    expect(alerts.map((a) => a.severity)).toEqual(["warning", "warning", "critical", "critical", "critical"]);
    expect(alerts[0].message).toContain("PATCH /deviceAppManagement/vppTokens/");
    const audit = await t.request(
      "GET",
      "/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Mark VPP token expired'",
      { token: t.adminToken },
    );
    expect(audit.body.value).toHaveLength(1);
    expect(audit.body.value[0].actor.auditActorType).toBe("system");
  });

  it("a token found inside several thresholds at once gets one warning; renewal starts the warnings again", async () => {
    const loc = await newLocation(emu, { expDate: inDays(10) });
    const created = await t.request("POST", base, { token: t.adminToken, body: { token: loc.sToken } });
    const id = created.body.id as string;
    const expires = new Date(created.body.expirationDateTime).getTime();
    const svc = t.allot.services.tokensService;
    expect(await svc.checkExpiries(new Date(expires - 10 * DAY))).toEqual({ expired: 0, warned: 1 });
    expect(await svc.checkExpiries(new Date(expires - 9 * DAY))).toEqual({ expired: 0, warned: 0 });
    expect((await alertsFor(id)).map((a) => a.title)).toEqual([
      `VPP token '${created.body.locationName}' expires in 10 days`,
    ]);

    const renewed = await emu.control.renew(loc.uId, { expDate: inDays(20) });
    const patched = await t.request("PATCH", `${base}/${id}`, {
      token: t.adminToken,
      body: { token: renewed.sToken },
    });
    expect(patched.status).toBe(200);
    const newExpiry = new Date(patched.body.expirationDateTime).getTime();
    expect(newExpiry).toBeGreaterThan(expires);
    expect(await svc.checkExpiries(new Date(newExpiry - 13 * DAY))).toEqual({ expired: 0, warned: 1 });
    expect((await alertsFor(id)).map((a) => a.title).at(-1)).toMatch(/expires in 13 days$/);
  });

  it("alerts are listed to every role, acknowledged by license and app managers (audited), and stay in their tenant", async () => {
    const loc = await newLocation(emu, { expDate: inDays(3) });
    const id = (await t.request("POST", base, { token: t.adminToken, body: { token: loc.sToken } })).body
      .id as string;
    await t.allot.services.tokensService.checkExpiries(new Date());
    const [alert] = await alertsFor(id);
    expect(alert).toMatchObject({ kind: "vppTokenExpiring", acknowledgedDateTime: null });

    const reader = await t.tokenFor(["reader"]);
    const licenseAdmin = await t.tokenFor(["licenseAdministrator"]);
    const list = await t.request(
      "GET",
      "/beta/admin/notifications?$count=true&$filter=acknowledgedDateTime eq null",
      { token: reader },
    );
    expect(list.status).toBe(200);
    expect(list.body["@odata.context"]).toMatch(/\$metadata#admin\/notifications$/);
    expect(list.body.value.map((a: { id: string }) => a.id)).toContain(alert.id);
    expect(
      (await t.request("GET", `/beta/admin/notifications/${alert.id}`, { token: reader })).body.title,
    ).toBe(alert.title);
    expect(
      (await t.request("POST", `/beta/admin/notifications/${alert.id}/acknowledge`, { token: reader }))
        .status,
    ).toBe(403);
    expect(
      (await t.request("POST", `/beta/admin/notifications/${alert.id}/acknowledge`, { token: licenseAdmin }))
        .status,
    ).toBe(204);
    expect(
      (await t.request("POST", `/beta/admin/notifications/${alert.id}/acknowledge`, { token: licenseAdmin }))
        .status,
    ).toBe(204);
    const after = (await t.request("GET", `/beta/admin/notifications/${alert.id}`, { token: reader })).body;
    expect(Date.parse(after.acknowledgedDateTime)).toBeGreaterThan(Date.parse(after.createdDateTime) - 1);
    const open = await t.request(
      "GET",
      "/beta/admin/notifications?$filter=acknowledgedDateTime eq null&$top=999",
      { token: reader },
    );
    expect(open.body.value.map((a: { id: string }) => a.id)).not.toContain(alert.id);
    const audit = await t.request(
      "GET",
      "/v1.0/deviceManagement/auditEvents?$filter=activity eq 'Acknowledge notification'",
      { token: t.adminToken },
    );
    expect(audit.body.value).toHaveLength(1);
    expect(
      (
        await t.request("POST", `/beta/admin/notifications/${crypto.randomUUID()}/acknowledge`, {
          token: t.adminToken,
        })
      ).status,
    ).toBe(404);
    expect(
      (await t.request("GET", "/beta/admin/notifications?$filter=severity eq 'loud'", { token: reader }))
        .status,
    ).toBe(400);
    // v1.0 has no such resource
    expect((await t.request("GET", "/v1.0/admin/notifications", { token: reader })).status).toBe(404);

    const tenant = await t.request("POST", "/beta/admin/tenants", {
      token: t.adminToken,
      body: {
        displayName: "Elsewhere",
        adminUserPrincipalName: "boss@elsewhere.example",
        adminPassword: "Correct-Horse-9-Battery",
      },
    });
    const other = await t.tokenFor(["globalAdministrator"], tenant.body.id);
    expect((await t.request("GET", "/beta/admin/notifications", { token: other })).body.value).toEqual([]);
    expect((await t.request("GET", `/beta/admin/notifications/${alert.id}`, { token: other })).status).toBe(
      404,
    );
  });
});

describe(`token limit per tenant (${engine})`, () => {
  let t: TestAllot;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  beforeAll(async () => {
    proxy = await startRecordingProxy(emu.url);
    t = await startTestAllot({ ALLOT_APPLE_BASE_URL: proxy.baseUrl, ALLOT_MAX_TOKENS_PER_TENANT: "2" });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it("refuses the token over ALLOT_MAX_TOKENS_PER_TENANT with 400 before calling Apple; a deletion makes room", async () => {
    const locs = [await newLocation(emu), await newLocation(emu), await newLocation(emu)];
    const ids: string[] = [];
    for (const loc of locs.slice(0, 2)) {
      const res = await t.request("POST", base, { token: t.adminToken, body: { token: loc.sToken } });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const from = proxy.calls.length;
    const refused = await t.request("POST", base, { token: t.adminToken, body: { token: locs[2].sToken } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/already has 2 VPP tokens/);
    expect(proxy.calls.slice(from).filter((c) => c.bearer === locs[2].sToken)).toEqual([]);
    expect((await emu.control.location(locs[2].uId)).mdmInfo).toBeNull();
    expect(
      (await t.request("GET", `${base}?$count=true`, { token: t.adminToken })).body["@odata.count"],
    ).toBe(2);

    expect((await t.request("DELETE", `${base}/${ids[0]}`, { token: t.adminToken })).status).toBe(204);
    expect(
      (await t.request("POST", base, { token: t.adminToken, body: { token: locs[2].sToken } })).status,
    ).toBe(201);
  });
});

describe(`notification endpoint at upload and renewal (${engine})`, () => {
  let t: TestAllot;
  let receiver: Awaited<ReturnType<typeof startNotificationReceiver>>;
  beforeAll(async () => {
    receiver = await startNotificationReceiver();
    t = await startTestAllot({ ALLOT_APPLE_BASE_URL: emu.baseUrl, ALLOT_PUBLIC_URL: receiver.url });
    const svc = t.allot.services.tokensService;
    receiver.state.verify = (tokenId, bearer) => svc.verifyNotificationSecret(null, tokenId, bearer);
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it("registers ALLOT_PUBLIC_URL/notifications/apple/{id}; the TEST_NOTIFICATION is accepted while the upload is pending", async () => {
    const svc = t.allot.services.tokensService;
    const tenantId = t.allot.bootstrapResult.tenantId;
    const loc = await newLocation(emu);
    const res = await t.request("POST", base, { token: t.adminToken, body: { token: loc.sToken } });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const test = receiver.received.filter((r) => r.tokenId === id);
    expect(test).toHaveLength(1);
    expect(test[0].type).toBe("TEST_NOTIFICATION");
    expect(test[0].verdict).toEqual({ tenantId, tokenId: id, pending: true });
    const secret = test[0].bearer as string;
    expect(secret.length).toBeGreaterThanOrEqual(40);

    const atApple = await emu.control.location(loc.uId);
    expect(atApple.notificationUrl).toBe(`${receiver.url}/notifications/apple/${id}`);
    expect(atApple.subscribedNotificationTypes).toEqual(
      expect.arrayContaining(["ASSET_MANAGEMENT", "USER_MANAGEMENT", "USER_ASSOCIATED", "ASSET_COUNT"]),
    );
    expect((await svc.getTokenInfo(tenantId, id))?.notificationsEnabled).toBe(true);
    // stored hashed, never returned
    const row = await t.allot.database.db
      .selectFrom("vpp_tokens")
      .select(["notification_secret_hash"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    expect(row.notification_secret_hash).toBe(hashSecret(secret));
    expect(res.text.includes(secret)).toBe(false);

    // committed: the stored hash answers now
    expect(await svc.verifyNotificationSecret(null, id, `Bearer ${secret}`)).toEqual({
      tenantId,
      tokenId: id,
      pending: false,
    });
    expect(await svc.verifyNotificationSecret(tenantId, id, secret)).toEqual({
      tenantId,
      tokenId: id,
      pending: false,
    });
    expect(await svc.verifyNotificationSecret(crypto.randomUUID(), id, secret)).toBeUndefined();
    expect(await svc.verifyNotificationSecret(null, id, "wrong-secret")).toBeUndefined();
    expect(await svc.verifyNotificationSecret(null, id, undefined)).toBeUndefined();
    expect(await svc.verifyNotificationSecret(null, "not-a-uuid", secret)).toBeUndefined();

    // Apple's later notifications carry the same secret
    await emu.control.purchase(loc.uId, {
      adamId: (await emu.control.assets(loc.uId)).assets[0].adamId,
      count: 3,
    });
    await emu.idle();
    const counts = receiver.received.filter((r) => r.tokenId === id && r.type === "ASSET_COUNT");
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(counts[0].verdict).toEqual({ tenantId, tokenId: id, pending: false });

    // renewal: a new secret, accepted while pending, and the old one stops working
    const renewed = await emu.control.renew(loc.uId);
    expect(
      (await t.request("PATCH", `${base}/${id}`, { token: t.adminToken, body: { token: renewed.sToken } }))
        .status,
    ).toBe(200);
    const tests = receiver.received.filter((r) => r.tokenId === id && r.type === "TEST_NOTIFICATION");
    expect(tests).toHaveLength(2);
    expect(tests[1].verdict).toEqual({ tenantId, tokenId: id, pending: true });
    expect(tests[1].bearer).not.toBe(secret);
    expect(await svc.verifyNotificationSecret(null, id, tests[1].bearer)).toEqual({
      tenantId,
      tokenId: id,
      pending: false,
    });
    expect(await svc.verifyNotificationSecret(null, id, secret)).toBeUndefined();
  });

  it("when the endpoint does not answer, the token is claimed without notifications (polling only)", async () => {
    const svc = t.allot.services.tokensService;
    const loc = await newLocation(emu);
    receiver.state.refuse = true;
    try {
      const res = await t.request("POST", base, { token: t.adminToken, body: { token: loc.sToken } });
      expect(res.status).toBe(201);
      expect(res.body.state).toBe("valid");
      const atApple = await emu.control.location(loc.uId);
      expect(atApple.mdmInfo).toMatchObject({
        id: svc.mdmId(t.allot.bootstrapResult.tenantId),
        name: "Allot",
      });
      expect(atApple.notificationUrl).toBeNull();
      expect(
        (await svc.getTokenInfo(t.allot.bootstrapResult.tenantId, res.body.id))?.notificationsEnabled,
      ).toBe(false);
      const row = await t.allot.database.db
        .selectFrom("vpp_tokens")
        .select(["notification_secret_hash"])
        .where("id", "=", res.body.id)
        .executeTakeFirstOrThrow();
      expect(row.notification_secret_hash).toBeNull();
    } finally {
      receiver.state.refuse = false;
    }
  });
});
