// Contract: for the requests behind Apple's own examples (fixtures/), the emulator answers with
// exactly the same key sets and value types as Apple's example responses — through real HTTP.
// (Subscription examples are not covered: subscriptions are not emulated yet.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppleEmulator } from "./index.ts";
import {
  type AppleClient,
  appleClient,
  fixture,
  fixtureText,
  type Receiver,
  shapeDiff,
  shapeDiffSubset,
  startEmu,
  startReceiver,
  stopAll,
  testOrg,
  waitFor,
} from "./test-helpers.ts";

let emu: AppleEmulator;

beforeAll(async () => {
  emu = await startEmu({ settleMs: 0 });
});
afterAll(stopAll);

async function newLocation(assets: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const loc = await emu.control.createLocation({ ...testOrg, assets: assets as never, ...extra });
  return { ...loc, api: appleClient(emu, loc.sToken) };
}

const fiveApps = fixture("get-assets-response.json").assets.map((a: any) => ({
  adamId: a.adamId,
  pricingParam: a.pricingParam,
  productType: a.productType,
  totalCount: a.totalCount,
  deviceAssignable: a.deviceAssignable,
  revocable: a.revocable,
  supportedPlatforms: a.supportedPlatforms,
}));

async function settled(api: AppleClient, eventId: string) {
  emu.flush();
  const r = await api.get(`/status?eventId=${eventId}`);
  expect(r.status).toBe(200);
  return r.body;
}

describe("Apple's example bodies", () => {
  it("service config", async () => {
    const r = await appleClient(emu, undefined).get("/service/config");
    expect(r.status).toBe(200);
    expect(shapeDiff(r.body, fixture("service-config-response.json"))).toEqual([]);
    expect(r.body.urls.contentMetadataLookup).toBe(`${emu.url}/WebObjects/MZStorePlatform.woa/wa/lookup`);
    expect(r.body.urls.getAssets).toBe(`${emu.baseUrl}/assets`);
  });

  it("the sToken decodes like Apple's example", async () => {
    const { sToken } = await newLocation([]);
    const decoded = JSON.parse(Buffer.from(sToken, "base64").toString("utf8"));
    expect(shapeDiff(decoded, fixture("stoken-decoded.json"))).toEqual([]);
    expect(decoded.expDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
    expect(decoded.orgName).toBe("ORG12345");
    const example = JSON.parse(
      Buffer.from(fixtureText("stoken-example.txt").trim(), "base64").toString("utf8"),
    );
    expect(shapeDiff(decoded, example)).toEqual([]);
  });

  it("get assets (filtered list and single asset)", async () => {
    const { uId, api } = await newLocation(fiveApps);
    await emu.control.seedAssignments(uId, { generate: { count: 25_000, devices: 5_000 } });
    const list = await api.get("/assets?pageIndex=0&pricingParam=STDQ&productType=App");
    expect(shapeDiff(list.body, fixture("get-assets-response.json"))).toEqual([]);
    expect(list.body.assets.map((a: any) => [a.assignedCount, a.availableCount, a.totalCount])).toEqual(
      fiveApps.map(() => [5000, 10000, 15000]),
    );
    const single = await api.get("/assets?adamId=361309726");
    expect(shapeDiff(single.body, fixture("get-assets-response-single.json"))).toEqual([]);
  });

  it("get assignments", async () => {
    const { uId, api } = await newLocation([{ adamId: "408709785", totalCount: 10 }]);
    await emu.control.seedUsers(uId, {
      users: [{ clientUserId: "client-1", email: "client-1@example.com" }],
    });
    const ev = await api.post("/assets/associate", {
      assets: [{ adamId: "408709785", pricingParam: "STDQ" }],
      clientUserIds: ["client-1"],
      serialNumbers: ["serial-1"],
    });
    expect((await settled(api, ev.body.eventId)).eventStatus).toBe("COMPLETE");
    const r = await api.get("/assignments?adamId=408709785");
    expect(shapeDiff(r.body, fixture("get-assignments-response.json"))).toEqual([]);
  });

  it("associate, disassociate and revoke", async () => {
    const { uId, api } = await newLocation([
      { adamId: "408709785", totalCount: 100 },
      { adamId: "377298193", totalCount: 100 },
    ]);
    await emu.control.seedUsers(uId, {
      users: ["client-1", "client-2", "client-3", "client-4"].map((clientUserId) => ({ clientUserId })),
    });
    const assoc = await api.post("/assets/associate", fixture("associate-request.json"));
    expect(assoc.status).toBe(200);
    expect(shapeDiff(assoc.body, fixture("associate-response.json"))).toEqual([]);
    const done = await settled(api, assoc.body.eventId);
    expect(shapeDiff(done, fixture("event-status-response.json"))).toEqual([]);
    expect(done).toMatchObject({
      eventStatus: "COMPLETE",
      eventType: "ASSOCIATE",
      numCompleted: 8,
      numRequested: 8,
    });

    const dis = await api.post("/assets/disassociate", fixture("disassociate-request.json"));
    expect(shapeDiff(dis.body, fixture("disassociate-response.json"))).toEqual([]);
    expect(await settled(api, dis.body.eventId)).toMatchObject({
      eventStatus: "COMPLETE",
      eventType: "DISASSOCIATE",
    });

    const again = await api.post("/assets/associate", fixture("associate-request.json"));
    await settled(api, again.body.eventId);
    const revoke = await api.post("/assets/revoke", fixture("revoke-request.json"));
    expect(shapeDiff(revoke.body, fixture("revoke-response.json"))).toEqual([]);
    expect(await settled(api, revoke.body.eventId)).toMatchObject({
      eventStatus: "COMPLETE",
      eventType: "REVOKE",
      numRequested: 8,
    });
  });

  it("associate by adamId only: 2 assets × 8 targets = 16 tasks, PENDING 8/16 then COMPLETE", async () => {
    const { uId, api } = await newLocation([
      { adamId: "408709785", totalCount: 100 },
      { adamId: "377298193", totalCount: 100 },
    ]);
    await emu.control.seedUsers(uId, {
      users: ["client-1", "client-2", "client-3", "client-4"].map((clientUserId) => ({ clientUserId })),
    });
    await emu.control.patchConfig({ settleMs: 1200, eventSteps: 2 });
    try {
      const r = await api.post("/assets/associate", fixture("associate-request-adamid-only.json"));
      expect(shapeDiff(r.body, fixture("associate-response-adamid-only.json"))).toEqual([]);
      let pending: any;
      await waitFor(async () => {
        pending = (await api.get(`/status?eventId=${r.body.eventId}`)).body;
        return pending.numCompleted > 0;
      });
      expect(pending).toMatchObject({ eventStatus: "PENDING", numCompleted: 8, numRequested: 16 });
      expect(shapeDiff(pending, fixture("event-status-pending.json"))).toEqual([]);
      await waitFor(
        async () => (await api.get(`/status?eventId=${r.body.eventId}`)).body.eventStatus !== "PENDING",
        3000,
      );
      expect((await api.get(`/status?eventId=${r.body.eventId}`)).body).toMatchObject({
        eventStatus: "COMPLETE",
        numCompleted: 16,
        numRequested: 16,
      });
    } finally {
      await emu.control.patchConfig({ settleMs: 0, eventSteps: 2 });
    }
  });

  it("a failed event (unknown users)", async () => {
    const { api } = await newLocation([{ adamId: "408709785", totalCount: 10 }]);
    const r = await api.post("/assets/associate", {
      assets: [{ adamId: "408709785" }],
      clientUserIds: ["user102", "user101"],
    });
    const body = await settled(api, r.body.eventId);
    expect(shapeDiff(body, fixture("event-status-failed-all.json"))).toEqual([]);
    expect(body).toMatchObject({
      eventStatus: "FAILED",
      numCompleted: 0,
      numRequested: 2,
      failures: [{ errorNumber: 9609, errorInfo: { clientUserIds: ["user102", "user101"] } }],
    });
  });

  it("users: create (pending, complete), update, retire, get", async () => {
    const { api } = await newLocation([]);
    await emu.control.patchConfig({ settleMs: 1200, eventSteps: 2 });
    let created: any;
    try {
      created = await api.post("/users/create", {
        users: fixture("create-users-request.json").users.slice(0, 2),
      });
      expect(shapeDiff(created.body, fixture("create-users-response.json"))).toEqual([]);
      let pending: any;
      await waitFor(async () => {
        pending = (await api.get(`/status?eventId=${created.body.eventId}`)).body;
        return pending.numCompleted > 0;
      });
      expect(shapeDiff(pending, fixture("event-status-create-pending.json"))).toEqual([]);
      expect(pending).toMatchObject({ eventStatus: "PENDING", numCompleted: 1, numRequested: 2 });
    } finally {
      await emu.control.patchConfig({ settleMs: 0 });
    }
    const complete = await settled(api, created.body.eventId);
    expect(shapeDiff(complete, fixture("event-status-create-complete.json"))).toEqual([]);

    const more = await api.post("/users/create", {
      users: [
        { clientUserId: "client-102", email: "client-102@next.com" },
        { clientUserId: "client-103", email: "client-1031@apple.com" },
      ],
    });
    await settled(api, more.body.eventId);
    const upd = await api.post("/users/update", fixture("update-users-request.json"));
    expect(shapeDiff(upd.body, fixture("update-users-response.json"))).toEqual([]);
    expect((await settled(api, upd.body.eventId)).eventStatus).toBe("COMPLETE");
    const ret = await api.post("/users/retire", { users: [{ clientUserId: "client-103" }] });
    expect(shapeDiff(ret.body, fixture("retire-users-response.json"))).toEqual([]);
    expect((await settled(api, ret.body.eventId)).eventStatus).toBe("COMPLETE");
    const retire2 = await api.post("/users/retire", fixture("retire-users-request.json"));
    expect((await settled(api, retire2.body.eventId)).eventStatus).toBe("COMPLETE");

    expect((await api.get("/users")).body.users.map((u: any) => [u.clientUserId, u.status])).toEqual([
      ["client-100", "Retired"],
      ["client-101", "Retired"],
      ["client-102", "Associated"],
      ["client-103", "Retired"],
    ]);
  });

  it("get users: Registered users with invite codes and a Retired one, as in Apple's example", async () => {
    const { api } = await newLocation([]);
    const reg = await api.post("/users/create", {
      users: ["client-101", "client-102", "client-103"].map((id) => ({
        clientUserId: id,
        email: `${id}@apple.com`,
      })),
    });
    await settled(api, reg.body.eventId);
    const ret = await api.post("/users/retire", { users: [{ clientUserId: "client-103" }] });
    await settled(api, ret.body.eventId);
    const all = await api.get("/users");
    expect(shapeDiff(all.body, fixture("get-users-response.json"))).toEqual([]);
    expect(all.body.users.map((u: any) => u.status)).toEqual(["Registered", "Registered", "Retired"]);
    const active = await api.get("/users?activeOnly=true");
    expect(shapeDiff(active.body, fixture("get-users-response.json"))).toEqual([]);
    expect(active.body.users.map((u: any) => u.clientUserId)).toEqual(["client-101", "client-102"]);
  });

  it("synchronous error body (unsupported method)", async () => {
    const { api } = await newLocation([]);
    const r = await api.get("/assets/associate");
    expect(r.status).toBe(405);
    expect(r.body).toEqual(fixture("error-response.json"));
  });

  describe("client config and notifications", () => {
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(() => receiver.close());

    it("POST and GET client config, TEST_NOTIFICATION", async () => {
      const { api } = await newLocation([]);
      const request = { ...fixture("client-config-request.json"), notificationUrl: receiver.url };
      const posted = await api.post("/client/config", request);
      expect(posted.status).toBe(200);
      expect(shapeDiff(posted.body, fixture("client-config-response.json"))).toEqual([]);
      expect(posted.body.mdmInfo).toEqual(request.mdmInfo);
      const test = receiver.received.find((r) => r.body.notificationType === "TEST_NOTIFICATION");
      expect(test).toBeDefined();
      expect(shapeDiff(test!.body, fixture("notification-test.json"))).toEqual([]);
      expect(test!.headers.authorization).toBe("Bearer SUp3rS3Cr3t");
      const got = await api.get("/client/config");
      expect(shapeDiff(got.body, fixture("client-config-response.json"))).toEqual([]);

      const { api: api2 } = await newLocation([]);
      const walk = { ...fixture("client-config-request-walkthrough.json"), notificationUrl: receiver.url };
      const r2 = await api2.post("/client/config", walk);
      // Apple's walkthrough example shows fewer members than the reference page; all it shows are there.
      expect(shapeDiffSubset(r2.body, fixture("client-config-response-walkthrough.json"))).toEqual([]);
      expect(r2.body.subscribedNotificationTypes).toEqual(walk.notificationTypes);
    });

    it("every notification type", async () => {
      const { uId, api } = await newLocation([
        { adamId: "408709785", totalCount: 20 },
        { adamId: "361309726", totalCount: 20 },
        { adamId: "329103948", totalCount: 20 },
      ]);
      await api.post("/client/config", {
        ...fixture("client-config-request.json"),
        notificationUrl: receiver.url,
      });
      const seen = (type: string, pred: (n: any) => boolean = () => true) =>
        receiver.waitFor((rs) =>
          rs.some((r) => r.body.uId === uId && r.body.notificationType === type && pred(r.body.notification)),
        );
      const find = (type: string, pred: (n: any) => boolean = () => true) =>
        receiver.received.find(
          (r) => r.body.uId === uId && r.body.notificationType === type && pred(r.body.notification),
        )!.body;

      await emu.control.purchase(uId, { adamId: "408709785", pricingParam: "STDQ", count: -12 });
      await seen("ASSET_COUNT");
      expect(shapeDiff(find("ASSET_COUNT"), fixture("notification-asset-count.json"))).toEqual([]);
      expect(find("ASSET_COUNT").notification).toEqual({
        adamId: "408709785",
        countDelta: -12,
        pricingParam: "STDQ",
      });

      const c1 = await api.post("/users/create", {
        users: [{ clientUserId: "client-100", email: "client-100@apple.com" }],
      });
      emu.flush();
      await seen("USER_MANAGEMENT", (n) => n.eventId === c1.body.eventId);
      expect(
        shapeDiff(
          find("USER_MANAGEMENT", (n) => n.eventId === c1.body.eventId),
          fixture("notification-user-management-create.json"),
        ),
      ).toEqual([]);

      const c2 = await api.post("/users/create", {
        users: [{ clientUserId: "user-1", managedAppleId: "user-1@org.example" }],
      });
      emu.flush();
      await seen("USER_MANAGEMENT", (n) => n.eventId === c2.body.eventId);
      expect(
        shapeDiff(
          find("USER_MANAGEMENT", (n) => n.eventId === c2.body.eventId),
          fixture("notification-user-management-create-associated.json"),
        ),
      ).toEqual([]);

      const u = await api.post("/users/update", {
        users: [{ clientUserId: "client-100", email: "client-100@apple.com" }],
      });
      emu.flush();
      await seen("USER_MANAGEMENT", (n) => n.eventId === u.body.eventId);
      expect(
        shapeDiff(
          find("USER_MANAGEMENT", (n) => n.eventId === u.body.eventId),
          fixture("notification-user-management-update.json"),
        ),
      ).toEqual([]);

      await emu.control.acceptInvitation(uId, "client-100");
      await seen("USER_ASSOCIATED");
      expect(shapeDiff(find("USER_ASSOCIATED"), fixture("notification-user-associated.json"))).toEqual([]);

      const a = await api.post("/assets/associate", {
        assets: [{ adamId: "361309726", pricingParam: "STDQ" }],
        clientUserIds: ["user-1"],
      });
      emu.flush();
      await seen("ASSET_MANAGEMENT", (n) => n.eventId === a.body.eventId);
      expect(
        shapeDiff(
          find("ASSET_MANAGEMENT", (n) => n.eventId === a.body.eventId),
          fixture("notification-asset-management.json"),
        ),
      ).toEqual([]);

      const a2 = await api.post("/assets/associate", {
        assets: [{ adamId: "408709785" }, { adamId: "329103948" }],
        clientUserIds: ["client-100"],
      });
      emu.flush();
      await seen("ASSET_MANAGEMENT", (n) => n.eventId === a2.body.eventId);
      const d = await api.post("/assets/disassociate", {
        assets: [{ adamId: "408709785" }],
        clientUserIds: ["client-100"],
      });
      emu.flush();
      await seen("ASSET_MANAGEMENT", (n) => n.eventId === d.body.eventId);
      expect(
        shapeDiff(
          find("ASSET_MANAGEMENT", (n) => n.eventId === d.body.eventId),
          fixture("notification-asset-management-disassociate.json"),
        ),
      ).toEqual([]);
      await emu.control.seedAssignments(uId, {
        assignments: [{ adamId: "408709785", clientUserId: "client-100" }],
      });
      const rv = await api.post("/assets/revoke", { clientUserIds: ["client-100"] });
      emu.flush();
      await seen("ASSET_MANAGEMENT", (n) => n.eventId === rv.body.eventId);
      const revoke = find("ASSET_MANAGEMENT", (n) => n.eventId === rv.body.eventId);
      expect(shapeDiff(revoke, fixture("notification-asset-management-revoke.json"))).toEqual([]);
      expect(revoke.notification.assignments).toHaveLength(2);
    });
  });

  it("legacy content-metadata lookup, both response versions", async () => {
    const { sToken } = await newLocation([
      { adamId: "361309726", name: "Pages", bundleId: "com.apple.Pages", version: "5.0.1", totalCount: 5 },
      {
        adamId: "451796775",
        name: "b2b Test 2",
        bundleId: "com.apple.b2bTest2",
        watchBundleId: "com.example.bbTest.watchkitapp",
        isB2BCustomApp: true,
        totalCount: 5,
      },
    ]);
    const sc = (await appleClient(emu, undefined).get("/service/config")).body;
    const lookup = sc.urls.contentMetadataLookup;
    const v1 = await fetch(
      `${lookup}?version=1&id=361309726&p=mdm-lockup&caller=MDM&platform=enterprisestore&cc=us&l=en`,
    );
    expect(shapeDiff(await v1.json(), fixture("legacy-content-metadata-lookup-response.json"))).toEqual([]);
    const v2 = await fetch(
      `${lookup}?version=2&id=451796775&p=mdm-lockup&caller=MDM&platform=enterprisestore&cc=us&l=en`,
      {
        headers: { Cookie: `itvt=${sToken}` },
      },
    );
    expect(shapeDiff(await v2.json(), fixture("legacy-content-metadata-lookup-b2b-response.json"))).toEqual(
      [],
    );
  });

  it("stoken-authenticated apps catalogue", async () => {
    const { sToken } = await newLocation([
      { adamId: "2001350931", name: "App_67588039", bundleId: "com.67588039", price: 1.99, totalCount: 1 },
    ]);
    const r = await fetch(
      `${emu.url}/v1/catalog/us/stoken-authenticated-apps?ids=2001350931&platform=iphone`,
      {
        headers: { Authorization: "Bearer developer-token", Cookie: `itvt=${sToken}` },
      },
    );
    expect(r.status).toBe(200);
    expect(shapeDiff(await r.json(), fixture("metadata-stoken-authenticated-apps-response.json"))).toEqual(
      [],
    );
  });

  it("legacy v1 client configuration and get assignments", async () => {
    const { uId, sToken } = await newLocation([{ adamId: "361304891", totalCount: 3 }]);
    await emu.control.seedUsers(uId, { users: [{ clientUserId: "user1" }] });
    await emu.control.seedAssignments(uId, { assignments: [{ adamId: "361304891", clientUserId: "user1" }] });
    const post = async (path: string, body: unknown) =>
      (
        await fetch(`${emu.url}/mdm/${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        })
      ).json();
    const cc = await post("VPPClientConfigSrv", {
      ...fixture("legacy-v1-client-config-request.json"),
      sToken,
    });
    expect(shapeDiff(cc, fixture("legacy-v1-client-config-response.json"))).toEqual([]);
    const as = await post("getAssignments", { ...fixture("legacy-v1-get-assignments-request.json"), sToken });
    expect(shapeDiff(as, fixture("legacy-v1-get-assignments-response.json"))).toEqual([]);
  });
});
