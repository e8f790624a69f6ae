// Dry runs (ENG-7) and the prompt matrix (EUX-1) over real HTTP: a preview changes nothing, and what it
// announces is exactly what applying the same change through the API does to the ledger and at the
// Apple emulator (assign, purchase, membership change).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor, waitForSync } from "./sync-helpers.ts";

const ADAM = "700000021";

describe("previews and the prompt matrix", () => {
  let s: SyncSetup;
  let uId: string;
  let tokenId: string;
  let appId: string;
  let groupId: string;
  const devices: { id: string; serial: string }[] = [];

  const req = (method: string, path: string, body?: unknown, token?: string) => s.t.request(method, path, { token: token ?? s.t.adminToken, body });
  const db = () => s.t.allot.database.db;
  const base = () => `/beta/deviceAppManagement/mobileApps/${appId}`;
  const licensedNow = async () =>
    (await db().selectFrom("license_holdings").select("holder_id").where("app_id", "=", appId).where("state", "=", "assigned").execute()).map((r) => r.holder_id).sort();
  const settled = (want: string[]) =>
    waitFor(
      "the ledger and the emulator to settle",
      async () => {
        const open = await db().selectFrom("store_operations").select("id").where("state", "in", ["pending", "sending", "sent"]).execute();
        if (open.length > 0) return undefined;
        const got = await licensedNow();
        const truth = (await s.emu.control.assignments(uId)).assignments.map((a) => a.serialNumber as string).sort();
        const wantSerials = devices.filter((d) => want.includes(d.id)).map((d) => d.serial).sort();
        return JSON.stringify(got) === JSON.stringify([...want].sort()) && JSON.stringify(truth) === JSON.stringify(wantSerials) ? got : undefined;
      },
      20_000,
    );
  const assignBody = () => ({
    mobileAppAssignments: [
      {
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        intent: "required",
        target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
        settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing: true },
      },
    ],
  });

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Preview",
      countryISO2ACode: "US",
      assets: [{ adamId: ADAM, name: "Keynote", totalCount: 3, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] }],
    });
    uId = loc.uId;
    tokenId = (await uploadToken(s, loc.sToken)).id;
    appId = (await db().selectFrom("apps").select("id").where("adam_id", "=", ADAM).executeTakeFirstOrThrow()).id;
    groupId = (await req("POST", "/v1.0/groups", { displayName: "Tablets", mailEnabled: false, securityEnabled: true, mailNickname: "tablets" })).body.id;
    for (let i = 0; i < 6; i++) {
      const serial = `PRE${i}`;
      const d = (await req("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: `Tablet ${i}`, operatingSystem: "iPadOS", serialNumber: serial })).body;
      devices.push({ id: d.id, serial });
      if (i < 5) expect((await req("POST", `/v1.0/groups/${groupId}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}` })).status).toBe(204);
    }
  }, 60_000);
  afterAll(async () => s?.close());

  it("previewAssign changes nothing and equals what assign then does", async () => {
    const p = await req("POST", `${base()}/previewAssign`, assignBody());
    expect(p.status).toBe(200);
    expect(p.body.licensed.map((h: any) => h.id)).toEqual(devices.slice(0, 3).map((d) => d.id));
    expect(p.body.waiting).toEqual(devices.slice(3, 5).map((d) => ({ id: d.id, type: "device", reason: "insufficientLicenses" })));
    expect(p.body.released).toEqual([]);
    expect(p.body.counts).toMatchObject({ licensed: 3, shortfall: 2 });
    expect(p.body.cost).toHaveProperty("unitPrice");
    // nothing changed
    expect(await db().selectFrom("mobile_app_assignments").select("id").execute()).toHaveLength(0);
    expect(await db().selectFrom("license_holdings").select("holder_id").execute()).toHaveLength(0);
    expect((await s.emu.control.events(uId)).events.filter((e) => e.eventType === "ASSOCIATE")).toHaveLength(0);
    // apply the same change for real
    expect((await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, assignBody())).status).toBe(204);
    await settled(p.body.licensed.map((h: any) => h.id));
    const waiting = await db().selectFrom("license_holdings").select(["holder_id", "reason"]).where("app_id", "=", appId).where("state", "=", "waiting").orderBy("holder_seq").execute();
    expect(waiting.map((w) => ({ id: w.holder_id, type: "device", reason: w.reason }))).toEqual(p.body.waiting);
  }, 40_000);

  it("previewPurchase equals what buying the licenses at the store does", async () => {
    const p = await req("POST", `${base()}/previewPurchase`, { totalLicenseCount: 4 });
    expect(p.status).toBe(200);
    expect(p.body.licensed.map((h: any) => h.id)).toEqual([devices[3].id]);
    expect(p.body.counts.licensed).toBe(4);
    expect(await licensedNow()).toHaveLength(3);
    await s.emu.control.purchase(uId, { adamId: ADAM, count: 1 });
    const since = new Date().toISOString();
    expect((await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`)).status).toBeLessThan(300);
    await waitForSync(s, tokenId, since);
    await settled(devices.slice(0, 4).map((d) => d.id));
  }, 40_000);

  it("previewMembershipChange equals what the membership change does", async () => {
    const p = await req("POST", `${base()}/previewMembershipChange`, { groupId, remove: [devices[0].id], add: [devices[5].id] });
    expect(p.status).toBe(200);
    expect(p.body.released).toEqual([{ id: devices[0].id, type: "device" }]);
    // The released license still counts until Apple confirms the release (pendingRelease consumes), so
    // the plan of the change itself serves nobody: device 4 and the newcomer wait, in queue order.
    expect(p.body.licensed).toEqual([]);
    expect(p.body.waiting).toEqual([devices[4], devices[5]].map((d) => ({ id: d.id, type: "device", reason: "insufficientLicenses" })));
    expect(p.body.counts).toMatchObject({ licensed: 3, pendingRelease: 1, consuming: 4 });
    expect(await licensedNow()).toHaveLength(4);
    expect((await req("DELETE", `/v1.0/groups/${groupId}/members/${devices[0].id}/$ref`)).status).toBe(204);
    expect((await req("POST", `/v1.0/groups/${groupId}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${devices[5].id}` })).status).toBe(204);
    // Applied for real: once Apple confirmed the release, the freed license goes to the head of the queue (device 4).
    await settled(devices.slice(1, 5).map((d) => d.id));
    // The plan of the change released device 0 exactly as previewed (pendingRelease, then released).
    const history = await db().selectFrom("license_events").select("to_state").where("app_id", "=", appId).where("holder_id", "=", devices[0].id).orderBy("seq").execute();
    expect(history.map((h) => h.to_state).slice(-2)).toEqual(["pendingRelease", "released"]);
    const w = await db().selectFrom("license_holdings").select(["holder_id", "reason"]).where("app_id", "=", appId).where("state", "=", "waiting").execute();
    expect(w).toEqual([{ holder_id: devices[5].id, reason: "insufficientLicenses" }]);
  }, 40_000);

  it("rejects malformed preview bodies", async () => {
    expect((await req("POST", `${base()}/previewPurchase`, { totalLicenseCount: -1 })).status).toBe(400);
    expect((await req("POST", `${base()}/previewMembershipChange`, { groupId: "nope" })).status).toBe(400);
    expect((await req("POST", `${base()}/previewAssign`, { other: [] })).status).toBe(400);
  });

  it("answers the prompt matrix for a device and the app (seed 000's rows, kiosk warning)", async () => {
    const d = devices[1].id;
    const call = (args: string) => req("GET", `${base()}/promptMatrix(${args})`);
    await db().updateTable("devices").set({ managed_device_owner_type: "company", is_supervised: true, kiosk_mode: false }).where("id", "=", d).execute();
    const r6 = await call(`managedDeviceId='${d}',useDeviceLicensing=true`);
    expect(r6.status).toBe(200);
    expect(r6.body).toMatchObject({ scenario: 6, vppInvitation: false, installPrompt: false, appleIdPrompt: false, warning: null });
    const r3 = await call(`managedDeviceId='${d}',useDeviceLicensing=false`);
    expect(r3.body).toMatchObject({ scenario: 3, vppInvitation: true, installPrompt: false, appleIdPrompt: true });
    await db().updateTable("devices").set({ managed_device_owner_type: "personal", is_supervised: false }).where("id", "=", d).execute();
    expect((await call(`managedDeviceId='${d}',useDeviceLicensing=false`)).body).toMatchObject({ scenario: 1, vppInvitation: true, installPrompt: true, appleIdPrompt: true });
    expect((await call(`managedDeviceId='${d}',useDeviceLicensing=true`)).body).toMatchObject({ scenario: 4, installPrompt: true });
    await db().updateTable("devices").set({ managed_device_owner_type: "company", is_supervised: true, kiosk_mode: true }).where("id", "=", d).execute();
    const k = await call(`managedDeviceId=%27${d}%27,useDeviceLicensing=false`);
    expect(k.body).toMatchObject({ scenario: 8, vppInvitation: null, installPrompt: null, appleIdPrompt: null });
    expect(k.body.warning).toMatch(/kiosk/i);
    expect((await call(`managedDeviceId='${d}',useDeviceLicensing=true`)).body).toMatchObject({ scenario: 7, installPrompt: false });
    expect((await call(`managedDeviceId='${d}'`)).status).toBe(400);
    expect((await call(`managedDeviceId='${randomUUID()}',useDeviceLicensing=true`)).status).toBe(404);
  });
});
