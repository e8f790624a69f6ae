// License ledger end to end (ENG-2, ENG-3, ENG-6, ENG-8): seed 000's FAQ with small numbers, against
// the Apple emulator over real HTTP — the earliest members licensed AT THE EMULATOR, the rest waiting
// with insufficientLicenses; a purchase serves the next ones; a leaver is released and the next served;
// a worker stopped mid-batch converges without duplicate associations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const LICENSES = 10;
const DEVICES = 15;

describe("license ledger against the Apple emulator", () => {
  let s: SyncSetup;
  let uId: string;
  let appId: string;
  let tokenId: string;
  let groupId: string;
  const adamId = "700000001";
  const devices: { id: string; serial: string }[] = [];

  const req = (method: string, path: string, body?: unknown) => s.t.request(method, path, { token: s.t.adminToken, body });
  const emulatorSerials = async () =>
    (await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId === adamId).map((a) => a.serialNumber as string).sort();
  const holdings = async () =>
    s.t.allot.database.db.selectFrom("license_holdings").selectAll().where("app_id", "=", appId).execute();
  const settled = (want: string[]) =>
    waitFor(
      "the emulator to hold the expected licenses",
      async () => {
        const got = await emulatorSerials();
        const h = await holdings();
        const busy = h.some((x) => x.state === "pendingAssign" || x.state === "pendingRelease");
        return !busy && JSON.stringify(got) === JSON.stringify([...want].sort()) ? got : undefined;
      },
      20_000,
    );

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Ledger",
      countryISO2ACode: "US",
      assets: [
        { adamId, name: "Pages", totalCount: LICENSES, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] },
        { adamId: "700000002", name: "Numbers", totalCount: 5, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] },
      ],
    });
    uId = loc.uId;
    tokenId = (await uploadToken(s, loc.sToken)).id;
    const app = await s.t.allot.database.db.selectFrom("apps").select("id").where("adam_id", "=", adamId).executeTakeFirstOrThrow();
    appId = app.id;
    groupId = (await req("POST", "/v1.0/groups", { displayName: "Kiosk iPads", mailEnabled: false, securityEnabled: true, mailNickname: "kiosk" })).body.id;
    for (let i = 0; i < DEVICES; i++) {
      const serial = `SER${String(i).padStart(4, "0")}`;
      const d = (await req("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: `iPad ${i}`, operatingSystem: "iPadOS", serialNumber: serial })).body;
      devices.push({ id: d.id, serial });
      const r = await req("POST", `/v1.0/groups/${groupId}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}` });
      expect(r.status).toBe(204);
    }
  }, 60_000);
  afterAll(async () => s?.close());

  it("licenses exactly the earliest members at the emulator; the rest wait with insufficientLicenses", async () => {
    const r = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
          settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing: true },
        },
      ],
    });
    expect(r.status).toBe(204);
    await settled(devices.slice(0, LICENSES).map((d) => d.serial));
    const h = await holdings();
    expect(h.filter((x) => x.state === "assigned")).toHaveLength(LICENSES);
    const waiting = h.filter((x) => x.state === "waiting");
    expect(waiting).toHaveLength(DEVICES - LICENSES);
    expect(new Set(waiting.map((x) => x.reason))).toEqual(new Set(["insufficientLicenses"]));
    // Other apps untouched; every association made once.
    expect((await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId !== adamId)).toHaveLength(0);
    const history = await s.t.allot.database.db.selectFrom("license_events").selectAll().where("app_id", "=", appId).where("to_state", "=", "assigned").execute();
    expect(history).toHaveLength(LICENSES);
  }, 30_000);

  it("serves the next waiting members after a purchase, in order", async () => {
    await s.emu.control.purchase(uId, { adamId, count: 3 });
    const sync = await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`);
    expect(sync.status).toBeLessThan(300);
    await settled(devices.slice(0, LICENSES + 3).map((d) => d.serial));
  }, 30_000);

  it("releases a device removed from the group at the emulator and serves the next waiting one", async () => {
    const leaver = devices[2];
    const r = await req("DELETE", `/v1.0/groups/${groupId}/members/${leaver.id}/$ref`);
    expect(r.status).toBe(204);
    await settled(devices.slice(0, LICENSES + 4).filter((d) => d !== leaver).map((d) => d.serial));
    const row = (await holdings()).find((x) => x.holder_id === leaver.id);
    expect(row?.state).toBe("released");
    expect(row?.reason).toBe("notTargeted");
  }, 30_000);

  it("a worker stopped mid-batch converges with no duplicate association", async () => {
    // Two more licenses: the plan queues two associations; pretend a worker marked them `sending` and died.
    await s.emu.control.purchase(uId, { adamId, count: 2 });
    const db = s.t.allot.database.db;
    await s.t.allot.services.syncService.runSync({ tenantId: s.tenantId, tokenId, full: true, reason: "manual" });
    // Reconcile directly (as the job would) and intercept the outbox before the worker takes it.
    await s.t.allot.services.licensesService.reconcileAll(s.tenantId);
    await db.updateTable("store_operations").set({ state: "sending" }).where("state", "=", "pending").execute();
    await s.t.allot.services.licensesService.drainOutbox(s.tenantId);
    await settled(devices.slice(0, LICENSES + 6).filter((d) => d !== devices[2]).map((d) => d.serial));
    const associated = (await s.emu.control.events(uId)).events.filter((e) => e.eventType === "ASSOCIATE");
    const requested = associated.reduce((n, e) => n + e.numRequested, 0);
    // 10 + 3 + 1 + 2 associations at most were ever needed: nothing was sent twice after the "crash".
    expect(requested).toBeLessThanOrEqual(LICENSES + 6);
    const assignedRows = await db.selectFrom("license_events").select("holder_id").where("app_id", "=", appId).where("to_state", "=", "assigned").execute();
    expect(new Set(assignedRows.map((r) => r.holder_id)).size).toBe(assignedRows.length);
    expect(await db.selectFrom("store_operations").select("id").where("state", "in", ["pending", "sending", "sent"]).execute()).toHaveLength(0);
  }, 30_000);
});
