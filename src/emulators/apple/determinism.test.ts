// Determinism: two emulators with the same seed, driven by the same requests, answer identically
// (uIds, sTokens, eventIds, versionIds, invite codes, idHashes, notificationIds); another seed differs.
import { afterEach, describe, expect, it } from "vitest";
import { appleClient, type Receiver, startEmu, startReceiver, stopAll } from "./test-helpers.ts";

const receivers: Receiver[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function script(
  seed: number,
  receiver: Receiver,
): Promise<{ answers: unknown[]; notifications: unknown[] }> {
  const emu = await startEmu({ seed, settleMs: 0 });
  receiver.received.length = 0;
  const answers: unknown[] = [];
  const created = await emu.control.createLocation({
    orgName: "ORG",
    locationName: "Unit",
    countryISO2ACode: "US",
    expDate: "2031-01-01T00:00:00+0000",
    assets: [
      { adamId: "10", totalCount: 3 },
      { adamId: "20", productType: "Book", totalCount: 2 },
    ],
  });
  answers.push(created);
  const api = appleClient(emu, created.sToken);
  const step = async (p: Promise<{ status: number; body: unknown }>) => {
    const r = await p;
    answers.push([r.status, r.body]);
    return r.body as any;
  };
  await step(
    api.post("/client/config", {
      mdmInfo: { id: "m", name: "n", metadata: "x" },
      notificationUrl: receiver.url,
      notificationAuthToken: "t",
      notificationTypes: ["ASSET_MANAGEMENT", "USER_MANAGEMENT", "USER_ASSOCIATED", "ASSET_COUNT"],
    }),
  );
  const c = await step(
    api.post("/users/create", {
      users: [{ clientUserId: "a" }, { clientUserId: "b", managedAppleId: "b@org.example" }],
    }),
  );
  emu.flush();
  await step(api.get(`/status?eventId=${c.eventId}`));
  const assoc = await step(
    api.post("/assets/associate", {
      assets: [{ adamId: "10" }, { adamId: "20" }],
      clientUserIds: ["a", "b"],
    }),
  );
  await step(
    api.post("/assets/associate", { assets: [{ adamId: "10" }], serialNumbers: ["S1", "S2", "S3"] }),
  );
  emu.flush();
  await step(api.get(`/status?eventId=${assoc.eventId}`));
  await emu.control.acceptInvitation(created.uId, "a");
  await emu.control.purchase(created.uId, { adamId: "10", count: 2 });
  await step(api.post("/users/retire", { users: [{ clientUserId: "b" }] }));
  emu.flush();
  await step(api.get("/assets"));
  await step(api.get("/assignments?includeUserState=true"));
  await step(api.get("/users"));
  await step(api.get("/client/config"));
  answers.push((await emu.control.renew(created.uId, { expDate: "2032-01-01T00:00:00+0000" })).sToken);
  await emu.idle();
  await emu.close();
  return { answers, notifications: receiver.received.map((r) => r.body) };
}

describe("determinism", () => {
  it("same seed → identical answers and notifications; another seed → different ids", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const a = await script(42, receiver);
    const b = await script(42, receiver);
    expect(b).toEqual(a);
    expect(a.notifications.length).toBeGreaterThan(5);
    const c = await script(43, receiver);
    expect(c.answers).not.toEqual(a.answers);
    expect((c.answers[0] as any).uId).not.toBe((a.answers[0] as any).uId);
  });
});
