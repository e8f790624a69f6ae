// Releases and Uninstall intent (ENG-6, MDM-1) against the Apple emulator and a local MDM receiver:
// an Uninstall assignment sends a signed RemoveApplication for the devices that hold the app and the
// license stays until the MDM reports the app removed (an inventory without it) — or, when the MDM
// never answers, until ALLOT_UNINSTALL_TIMEOUT_SECONDS has passed — then it is released AT THE
// EMULATOR; removing an assignment releases with no RemoveApplication at all; deleting a managed
// device whose assignment sets uninstallOnDeviceRemoval releases its license at the emulator.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, waitFor, waitForSync } from "./sync-helpers.ts";

const MDM_SECRET = "mdm-webhook-secret-uninstall-0123";
const TIMEOUT_S = 40;
/** Generous: the suite shares a 2-core machine; every wait ends as soon as the condition holds. */
const WAIT = 120_000;

describe("uninstall intent and releases", () => {
  let s: SyncSetup;
  let mdm: http.Server;
  let uId: string;
  const keynote = { adamId: "730000001", bundleId: "com.apple.Keynote", appId: "" };
  const numbers = { adamId: "730000002", bundleId: "com.apple.Numbers", appId: "" };
  const devices: { id: string; serial: string }[] = [];
  const commands: { body: any; signatureOk: boolean; at: number }[] = [];
  let fleet = "";
  let leavers = "";

  /** Uploads the location's token and waits (patiently) for its first sync. */
  const upload = async (sToken: string) => {
    const r = await req("POST", "/beta/deviceAppManagement/vppTokens", {
      token: sToken,
      appleId: "vpp@contoso.example",
      vppTokenAccountType: "business",
    });
    expect(r.status).toBe(201);
    await waitForSync(s, r.body.id, undefined, WAIT);
    return r.body as { id: string };
  };
  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });
  const db = () => s.t.allot.database.db;
  const serialsAt = async (adamId: string) =>
    (await s.emu.control.assignments(uId)).assignments
      .filter((a) => a.adamId === adamId)
      .map((a) => a.serialNumber as string)
      .sort();
  const holding = (appId: string, deviceId: string) =>
    db()
      .selectFrom("license_holdings")
      .selectAll()
      .where("app_id", "=", appId)
      .where("holder_id", "=", deviceId)
      .executeTakeFirst();
  const removeCommandsFor = (appId: string) =>
    commands.filter((c) => c.body.mobileAppId === appId && c.body.type === "removeApplication");
  const atEmulator = (adamId: string, serials: string[]) =>
    waitFor(
      `the emulator to hold ${serials.length} licenses of ${adamId}`,
      async () => {
        const got = await serialsAt(adamId);
        return JSON.stringify(got) === JSON.stringify([...serials].sort()) ? got : undefined;
      },
      WAIT,
    );
  const group = async (name: string, members: string[]) => {
    const id = (
      await req("POST", "/v1.0/groups", {
        displayName: name,
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: name.replace(/\W/g, ""),
      })
    ).body.id as string;
    for (const m of members)
      expect(
        (
          await req("POST", `/v1.0/groups/${id}/members/$ref`, {
            "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${m}`,
          })
        ).status,
      ).toBe(204);
    return id;
  };
  const assignment = (intent: string, groupId: string) => ({
    "@odata.type": "#microsoft.graph.mobileAppAssignment",
    intent,
    target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
    settings: {
      "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings",
      useDeviceLicensing: true,
      uninstallOnDeviceRemoval: true,
    },
  });
  const assign = async (appId: string, list: unknown[]) =>
    expect(
      (
        await req("POST", `/beta/deviceAppManagement/mobileApps/${appId}/assign`, {
          mobileAppAssignments: list,
        })
      ).status,
    ).toBe(204);

  beforeAll(async () => {
    mdm = http.createServer(async (rq, res) => {
      const chunks: Buffer[] = [];
      for await (const c of rq) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      const signatureOk =
        rq.headers["x-allot-signature"] ===
        `sha256=${createHmac("sha256", MDM_SECRET).update(raw).digest("hex")}`;
      commands.push({ body: JSON.parse(raw), signatureOk, at: Date.now() });
      res.writeHead(signatureOk ? 200 : 401).end();
    });
    await new Promise<void>((resolve) => mdm.listen(0, "127.0.0.1", resolve));
    s = await startSyncSetup({
      env: {
        ALLOT_APPLE_EVENT_POLL_SECONDS: "1",
        ALLOT_MDM_WEBHOOK_URL: `http://127.0.0.1:${(mdm.address() as AddressInfo).port}/commands`,
        ALLOT_MDM_WEBHOOK_SECRET: MDM_SECRET,
        ALLOT_NOTIFY_RETRY_BASE_MS: "100",
        ALLOT_UNINSTALL_TIMEOUT_SECONDS: String(TIMEOUT_S),
      },
    });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Uninstall",
      countryISO2ACode: "US",
      assets: [keynote, numbers].map((a) => ({
        adamId: a.adamId,
        name: a.bundleId.split(".")[2],
        bundleId: a.bundleId,
        totalCount: 10,
        deviceAssignable: true,
        revocable: true,
        supportedPlatforms: ["iOS"],
      })),
    });
    uId = loc.uId;
    await upload(loc.sToken);
    for (const a of [keynote, numbers])
      a.appId = (
        await db().selectFrom("apps").select("id").where("adam_id", "=", a.adamId).executeTakeFirstOrThrow()
      ).id;
    for (let i = 0; i < 4; i++) {
      const serial = `UNSER${String(i).padStart(4, "0")}`;
      const d = await req("POST", "/v1.0/deviceManagement/managedDevices", {
        deviceName: `iPad ${i}`,
        operatingSystem: "iPadOS",
        serialNumber: serial,
      });
      expect(d.status).toBe(201);
      devices.push({ id: d.body.id, serial });
    }
    fleet = await group(
      "Fleet",
      devices.map((d) => d.id),
    );
    leavers = await group("Leavers", [devices[0].id, devices[1].id]);
  }, 600_000);

  afterAll(async () => {
    await s?.close();
    mdm?.closeAllConnections();
    await new Promise<void>((resolve) => mdm?.close(() => resolve()));
  });

  it("licenses the fleet and installs it (Required, device licensing)", async () => {
    await assign(keynote.appId, [assignment("required", fleet)]);
    await atEmulator(
      keynote.adamId,
      devices.map((d) => d.serial),
    );
    await waitFor(
      "an InstallApplication per device",
      async () =>
        commands.filter((c) => c.body.mobileAppId === keynote.appId && c.body.type === "installApplication")
          .length === 4
          ? true
          : undefined,
      WAIT,
    );
    for (const d of devices.slice(0, 2)) {
      const r = await req("POST", `/beta/deviceManagement/managedDevices/${d.id}/reportInstalledApps`, {
        apps: [{ bundleId: keynote.bundleId, state: "installed" }],
      });
      expect(r.status).toBe(200);
    }
  }, 360_000);

  it("Uninstall sends RemoveApplication first; the license is released at the emulator once the MDM reports the app gone, or after the timeout", async () => {
    await assign(keynote.appId, [assignment("required", fleet), assignment("uninstall", leavers)]);
    const removes = await waitFor(
      "a RemoveApplication for both leavers",
      async () =>
        removeCommandsFor(keynote.appId).length >= 2 ? removeCommandsFor(keynote.appId) : undefined,
      WAIT,
    );
    expect(removes.map((c) => c.body.deviceId).sort()).toEqual([devices[0].id, devices[1].id].sort());
    for (const c of removes) {
      expect(c.signatureOk).toBe(true);
      expect(c.body.command).toEqual({ RequestType: "RemoveApplication", Identifier: keynote.bundleId });
    }
    // The licenses stay until the MDM confirms: still held at the emulator, the rows still consuming.
    expect(await serialsAt(keynote.adamId)).toEqual(devices.map((d) => d.serial).sort());
    expect((await holding(keynote.appId, devices[0].id))?.state).toBe("assigned");
    // Device 0's MDM reports its inventory without Keynote: released at the emulator, well before the timeout.
    const removeCreated = async (deviceId: string) =>
      new Date(
        (
          await db()
            .selectFrom("device_commands")
            .select("created_at")
            .where("app_id", "=", keynote.appId)
            .where("device_id", "=", deviceId)
            .where("kind", "=", "remove")
            .executeTakeFirstOrThrow()
        ).created_at,
      ).getTime();
    const releaseStarted = async (deviceId: string) =>
      db()
        .selectFrom("license_events")
        .select(["occurred_at", "reason"])
        .where("app_id", "=", keynote.appId)
        .where("holder_id", "=", deviceId)
        .where("to_state", "=", "pendingRelease")
        .executeTakeFirst();
    const reportedAt = Date.now();
    // (Otherwise the test itself was too slow to tell the two paths apart.)
    expect(reportedAt - (await removeCreated(devices[0].id))).toBeLessThan(TIMEOUT_S * 1000);
    const r = await req(
      "POST",
      `/beta/deviceManagement/managedDevices/${devices[0].id}/reportInstalledApps`,
      {
        apps: [{ bundleId: "com.example.other", state: "installed" }],
      },
    );
    expect(r.status).toBe(200);
    await waitFor(
      "the emulator to release device 0",
      async () => ((await serialsAt(keynote.adamId)).includes(devices[0].serial) ? undefined : true),
      WAIT,
    );
    const byReport = await releaseStarted(devices[0].id);
    expect(byReport?.reason).toBe("uninstallIntent");
    const reportReleaseAt = new Date(byReport?.occurred_at as Date).getTime();
    expect(reportReleaseAt).toBeGreaterThanOrEqual(reportedAt - 1000);
    expect(reportReleaseAt - (await removeCreated(devices[0].id))).toBeLessThan(TIMEOUT_S * 1000);
    await waitFor(
      "device 0's holding to be released",
      async () => ((await holding(keynote.appId, devices[0].id))?.state === "released" ? true : undefined),
      WAIT,
    );
    // Device 1's MDM never answers: its license is released at the emulator once the timeout has passed, not before.
    await atEmulator(
      keynote.adamId,
      devices.slice(2).map((d) => d.serial),
    );
    const byTimeout = await releaseStarted(devices[1].id);
    expect(byTimeout?.reason).toBe("uninstallIntent");
    const timeoutReleaseAt = new Date(byTimeout?.occurred_at as Date).getTime();
    expect(timeoutReleaseAt - (await removeCreated(devices[1].id))).toBeGreaterThanOrEqual(TIMEOUT_S * 1000);
    expect(removeCommandsFor(keynote.appId)).toHaveLength(2);
  }, 360_000);

  it("removing an assignment releases at the emulator without any RemoveApplication", async () => {
    await assign(numbers.appId, [assignment("required", fleet)]);
    await atEmulator(
      numbers.adamId,
      devices.map((d) => d.serial),
    );
    await assign(numbers.appId, []);
    await atEmulator(numbers.adamId, []);
    for (const d of devices)
      await waitFor(
        "the holding to be released",
        async () => ((await holding(numbers.appId, d.id))?.state === "released" ? true : undefined),
        WAIT,
      );
    for (const d of devices)
      expect(await holding(numbers.appId, d.id)).toMatchObject({ state: "released", reason: "notTargeted" });
    // Give the bridge time to (wrongly) send something, then check it did not.
    await new Promise((r) => setTimeout(r, 3000));
    expect(removeCommandsFor(numbers.appId)).toEqual([]);
  }, 360_000);

  it("a managed device deleted under uninstallOnDeviceRemoval is released at the emulator", async () => {
    const gone = devices[3];
    expect(await serialsAt(keynote.adamId)).toContain(gone.serial);
    expect((await req("DELETE", `/v1.0/deviceManagement/managedDevices/${gone.id}`)).status).toBe(204);
    await atEmulator(keynote.adamId, [devices[2].serial]);
    await waitFor(
      "the holding to be released",
      async () => ((await holding(keynote.appId, gone.id))?.state === "released" ? true : undefined),
      WAIT,
    );
    expect(await holding(keynote.appId, gone.id)).toMatchObject({
      state: "released",
      reason: "deviceRemoved",
    });
  }, 360_000);
});
