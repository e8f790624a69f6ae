// Notifications (reference §10, §16.13): bearer secret, one notificationId per message (the dedupe
// key, kept across retries and duplicates), ≤100 items each, retries after receiver errors, https
// (loopback http only without strictHttps), and the drop / duplicate / reorder / delay faults.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  appleClient,
  type Receiver,
  startEmu,
  startReceiver,
  stopAll,
  testOrg,
  waitFor,
} from "./test-helpers.ts";

const receivers: Receiver[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const tls = {
  key: readFileSync(new URL("./testdata/loopback-key.pem", import.meta.url), "utf8"),
  cert: readFileSync(new URL("./testdata/loopback-cert.pem", import.meta.url), "utf8"),
};

const allTypes = ["ASSET_MANAGEMENT", "ASSET_COUNT", "USER_MANAGEMENT", "USER_ASSOCIATED"];

async function setup(
  options: Parameters<typeof startEmu>[0] = {},
  receiverOptions: Parameters<typeof startReceiver>[0] = {},
) {
  const emu = await startEmu({ settleMs: 0, notificationRetryMs: 20, ...options });
  const receiver = await startReceiver(receiverOptions);
  receivers.push(receiver);
  const { uId, sToken } = await emu.control.createLocation({
    ...testOrg,
    assets: [{ adamId: "408709785", totalCount: 1000 }],
  });
  const api = appleClient(emu, sToken);
  const cfg = await api.post("/client/config", {
    mdmInfo: { id: "allot-1", name: "Allot", metadata: "test" },
    notificationUrl: receiver.url,
    notificationAuthToken: "s3cret-bearer",
    notificationTypes: allTypes,
  });
  expect(cfg.status, JSON.stringify(cfg.body)).toBe(200);
  const ofType = (type: string) => receiver.received.filter((r) => r.body.notificationType === type);
  return { emu, uId, api, receiver, ofType };
}

describe("delivery", () => {
  it("POSTs with the MDM's bearer secret, unique notificationIds, ≤100 items per notification", async () => {
    const { emu, api, receiver, ofType } = await setup();
    const serials = Array.from({ length: 250 }, (_, i) => `S${i}`);
    const r = await api.post("/assets/associate", {
      assets: [{ adamId: "408709785" }],
      serialNumbers: serials,
    });
    emu.flush();
    await emu.idle();
    const am = ofType("ASSET_MANAGEMENT");
    expect(am.length).toBeGreaterThanOrEqual(3);
    for (const n of am) {
      expect(n.headers.authorization).toBe("Bearer s3cret-bearer");
      expect(n.headers["content-type"]).toBe("application/json");
      expect(n.body.notification.assignments.length).toBeLessThanOrEqual(100);
      expect(n.body.notification).toMatchObject({
        eventId: r.body.eventId,
        result: "SUCCESS",
        type: "ASSOCIATE",
      });
    }
    const items = am.flatMap((n) => n.body.notification.assignments.map((a: any) => a.serialNumber));
    expect(items.sort()).toEqual([...serials].sort());
    const ids = receiver.received.map((n) => n.body.notificationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("failures arrive as result FAILURE with one error object for the listed assignments", async () => {
    const { emu, uId, api, ofType } = await setup();
    await emu.control.purchase(uId, { adamId: "408709785", count: -998 });
    await api.post("/assets/associate", {
      assets: [{ adamId: "408709785" }],
      serialNumbers: ["A", "B", "C"],
    });
    emu.flush();
    await emu.idle();
    const failure = ofType("ASSET_MANAGEMENT").find((n) => n.body.notification.result === "FAILURE")!.body
      .notification;
    expect(failure.error).toEqual({
      errorMessage:
        "There are not enough licenses for this app or book available to assign to the selected group.",
      errorNumber: 9709,
    });
    expect(failure.assignments).toEqual([{ adamId: "408709785", pricingParam: "STDQ", serialNumber: "C" }]);
    expect(ofType("ASSET_COUNT")[0].body.notification.countDelta).toBe(-998);
  });

  it("retries after receiver errors with the same notificationId, and gives up after the attempts", async () => {
    const { emu, uId, api, receiver, ofType } = await setup({ notificationAttempts: 3 });
    let k = 0;
    receiver.answer = () => (k++ < 2 ? 500 : 200);
    receiver.received.length = 0;
    await emu.control.purchase(uId, { adamId: "408709785", count: 5 });
    await receiver.waitFor((rs) => rs.length === 3);
    const counts = ofType("ASSET_COUNT");
    expect(new Set(counts.map((c) => c.body.notificationId)).size).toBe(1);
    expect(counts[1].at - counts[0].at).toBeGreaterThanOrEqual(15);
    expect(counts[2].at - counts[1].at).toBeGreaterThanOrEqual(counts[1].at - counts[0].at);
    const log = (await emu.control.notifications(uId)).deliveries.filter(
      (d) => d.notificationType === "ASSET_COUNT",
    );
    expect(log.map((d) => [d.attempt, d.outcome, d.status])).toEqual([
      [1, "failed", 500],
      [2, "failed", 500],
      [3, "delivered", 200],
    ]);

    receiver.answer = () => 503;
    await emu.control.purchase(uId, { adamId: "408709785", count: 1 });
    await emu.idle();
    const last = (await emu.control.notifications(uId)).deliveries.slice(-3);
    expect(last.map((d) => d.outcome)).toEqual(["failed", "failed", "gave-up"]);
    expect(receiver.received).toHaveLength(6);
    void api;
  });

  it("sends only subscribed types, and nothing once another MDM claimed the token", async () => {
    const { emu, uId, api, receiver } = await setup();
    await api.post("/client/config", { notificationTypes: ["USER_MANAGEMENT"] });
    receiver.received.length = 0;
    await emu.control.purchase(uId, { adamId: "408709785", count: 5 });
    await api.post("/users/create", { users: [{ clientUserId: "u1" }] });
    emu.flush();
    await emu.idle();
    expect(receiver.received.map((r) => r.body.notificationType)).toEqual(["USER_MANAGEMENT"]);
    await emu.control.claim(uId, { mdmInfo: { id: "other", name: "Other", metadata: "x" } });
    await api.post("/users/create", { users: [{ clientUserId: "u2" }] });
    emu.flush();
    await emu.idle();
    expect(receiver.received).toHaveLength(1);
  });
});

describe("https", () => {
  it("delivers to an https receiver; strictHttps refuses loopback http (9712) but not https", async () => {
    const emu = await startEmu({ settleMs: 0, strictHttps: true, notificationCa: tls.cert });
    const secure = await startReceiver({ tls });
    const plain = await startReceiver();
    receivers.push(secure, plain);
    const { sToken } = await emu.control.createLocation(testOrg);
    const api = appleClient(emu, sToken);
    const refused = await api.post("/client/config", {
      notificationUrl: plain.url,
      notificationAuthToken: "t",
    });
    expect(refused.body.errorNumber).toBe(9712);
    expect(plain.received).toHaveLength(0);
    const ok = await api.post("/client/config", {
      notificationUrl: secure.url,
      notificationAuthToken: "t",
      notificationTypes: allTypes,
    });
    expect(ok.status).toBe(200);
    expect(secure.received[0].body.notificationType).toBe("TEST_NOTIFICATION");
    expect(secure.received[0].headers.authorization).toBe("Bearer t");
  });

  it("an https receiver whose certificate is not trusted fails the TEST_NOTIFICATION (9728)", async () => {
    const emu = await startEmu({ settleMs: 0 });
    const secure = await startReceiver({ tls });
    receivers.push(secure);
    const { sToken } = await emu.control.createLocation(testOrg);
    const r = await appleClient(emu, sToken).post("/client/config", {
      notificationUrl: secure.url,
      notificationAuthToken: "t",
    });
    expect(r.body.errorNumber).toBe(9728);
  });
});

describe("notification faults", () => {
  it("drop: the next n notifications are not sent (logged as dropped)", async () => {
    const { emu, uId, receiver, ofType } = await setup();
    await emu.control.setFaults({ notifications: { drop: 2 } });
    for (const count of [1, 2, 3]) await emu.control.purchase(uId, { adamId: "408709785", count });
    await emu.idle();
    expect(ofType("ASSET_COUNT").map((n) => n.body.notification.countDelta)).toEqual([3]);
    const log = (await emu.control.notifications(uId)).deliveries.filter(
      (d) => d.notificationType === "ASSET_COUNT",
    );
    expect(log.map((d) => d.outcome)).toEqual(["dropped", "dropped", "delivered"]);
    expect(await emu.control.faults()).toMatchObject({ notifications: {} });
    void receiver;
  });

  it("duplicate: the same notification (same notificationId) arrives twice", async () => {
    const { emu, uId, ofType } = await setup();
    await emu.control.setFaults({ notifications: { duplicate: 1 } });
    await emu.control.purchase(uId, { adamId: "408709785", count: 4 });
    await emu.control.purchase(uId, { adamId: "408709785", count: 5 });
    await emu.idle();
    const counts = ofType("ASSET_COUNT");
    expect(counts.map((n) => n.body.notification.countDelta)).toEqual([4, 4, 5]);
    expect(counts[0].body.notificationId).toBe(counts[1].body.notificationId);
    expect(counts[2].body.notificationId).not.toBe(counts[0].body.notificationId);
  });

  it("reorder: a notification is overtaken by the next one", async () => {
    const { emu, uId, ofType } = await setup();
    await emu.control.setFaults({ notifications: { reorder: 1 } });
    await emu.control.purchase(uId, { adamId: "408709785", count: 1 });
    await emu.control.purchase(uId, { adamId: "408709785", count: 2 });
    await emu.control.purchase(uId, { adamId: "408709785", count: 3 });
    await emu.idle();
    expect(ofType("ASSET_COUNT").map((n) => n.body.notification.countDelta)).toEqual([2, 1, 3]);
  });

  it("reorder with no successor releases the held notification after the window", async () => {
    const { emu, uId, ofType } = await setup({ reorderWindowMs: 50 });
    await emu.control.setFaults({ notifications: { reorder: true } });
    await emu.control.purchase(uId, { adamId: "408709785", count: 7 });
    await waitFor(() => ofType("ASSET_COUNT").length === 1, 2000);
    expect(ofType("ASSET_COUNT")[0].body.notification.countDelta).toBe(7);
  });

  it("delayMs holds every delivery back", async () => {
    const { emu, uId, ofType } = await setup();
    await emu.control.setFaults({ notifications: { delayMs: 150 } });
    const started = Date.now();
    await emu.control.purchase(uId, { adamId: "408709785", count: 1 });
    await emu.idle();
    expect(ofType("ASSET_COUNT")[0].at - started).toBeGreaterThanOrEqual(140);
    await emu.control.clearFaults();
    expect(await emu.control.faults()).toEqual({ failNext: [], notifications: {}, taskFailures: [] });
  });
});
