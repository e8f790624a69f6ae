// Automatic updates (UPD-1), licensing alerts (EUX-3) and purchase-triggered reconciles, end to end
// against the Apple emulator over real HTTP with a local MDM webhook receiver:
// - a newer store version (POST /_emulator/assets/{adamId}/version) found by a sync sends one signed
//   InstallApplication update to each device of a Required assignment that has the app, none where
//   the assignment sets preventAutoAppUpdate; an Available install reads updateAvailable in
//   deviceStatuses and administrators get an alert and a message (found by an incremental sync too);
// - licenses running out and a growing waitlist raise one alert each per condition, debounced;
// - a purchase at the emulator (ASSET_COUNT notification) serves waiting members with no sync call.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, waitFor, waitForSync } from "./sync-helpers.ts";

const MDM_SECRET = "mdm-webhook-secret-updates-0123";

describe("automatic updates, licensing alerts, purchase-triggered reconcile", () => {
  let s: SyncSetup;
  let mdm: http.Server;
  const commands: { body: any; signed: boolean }[] = [];
  let uId: string;
  let tokenId: string;
  const adam = { required: "720000001", available: "720000002", pinned: "720000003", scarce: "720000004" };
  const appIds: Record<keyof typeof adam, string> = { required: "", available: "", pinned: "", scarce: "" };
  let userId: string;
  const kiosk = { id: "", serial: "UPDSER0001" };
  const phone = { id: "", serial: "UPDSER0002" };

  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });
  const db = () => s.t.allot.database.db;
  const group = async (name: string) =>
    (
      await req("POST", "/v1.0/groups", {
        displayName: name,
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: name.replace(/\W/g, ""),
      })
    ).body.id as string;
  const addMember = async (groupId: string, id: string) =>
    expect(
      (
        await req("POST", `/v1.0/groups/${groupId}/members/$ref`, {
          "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
        })
      ).status,
    ).toBe(204);
  const device = async (name: string, serial: string, extra: Record<string, unknown> = {}) =>
    (
      await req("POST", "/v1.0/deviceManagement/managedDevices", {
        deviceName: name,
        operatingSystem: "iPadOS",
        serialNumber: serial,
        ...extra,
      })
    ).body.id as string;
  const assign = async (
    appId: string,
    intent: string,
    groupId: string,
    settings: Record<string, unknown> = {},
  ) =>
    expect(
      (
        await req("POST", `/beta/deviceAppManagement/mobileApps/${appId}/assign`, {
          mobileAppAssignments: [
            {
              "@odata.type": "#microsoft.graph.mobileAppAssignment",
              intent,
              target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
              settings: {
                "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings",
                useDeviceLicensing: true,
                ...settings,
              },
            },
          ],
        })
      ).text,
    ).toBe("");
  const commandsFor = (appId: string, deviceId: string) =>
    commands.filter((c) => c.body.mobileAppId === appId && c.body.deviceId === deviceId);
  const report = async (deviceId: string, adamId: string, version: string) => {
    const r = await req("POST", `/beta/deviceManagement/managedDevices/${deviceId}/reportInstalledApps`, {
      apps: [{ adamId, version, state: "installed" }],
    });
    expect(r.status).toBe(200);
    return r.body.value[0].installState as string;
  };
  const installStateOf = async (appId: string, deviceId: string) => {
    const r = await req("GET", `/beta/deviceAppManagement/mobileApps/${appId}/deviceStatuses`);
    expect(r.status).toBe(200);
    return (r.body.value as { deviceId: string; installState: string }[]).find((v) => v.deviceId === deviceId)
      ?.installState;
  };
  const alerts = async (kind: string, appId: string) =>
    (
      await req(
        "GET",
        `/beta/admin/notifications?$filter=${encodeURIComponent(`kind eq '${kind}' and resourceId eq '${appId}'`)}`,
      )
    ).body.value as { title: string; severity: string }[];
  const adminMessages = async (kind: string) =>
    (await s.t.allot.services.notificationsRepository.messagesOf(s.tenantId, 500)).filter(
      (m) => m.kind === kind && m.audience === "admin",
    );
  const sync = async (full: boolean) => {
    const r = await s.t.allot.services.syncService.runSync({
      tenantId: s.tenantId,
      tokenId,
      full,
      reason: full ? "manual" : "scheduled",
    });
    expect(r?.full).toBe(full);
  };

  beforeAll(async () => {
    mdm = http.createServer(async (rq, res) => {
      const chunks: Buffer[] = [];
      for await (const c of rq) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      const signed =
        rq.headers["x-allot-signature"] ===
        `sha256=${createHmac("sha256", MDM_SECRET).update(raw).digest("hex")}`;
      commands.push({ body: JSON.parse(raw), signed });
      res.writeHead(signed ? 200 : 401).end();
    });
    await new Promise<void>((resolve) => mdm.listen(0, "127.0.0.1", resolve));
    s = await startSyncSetup({
      env: {
        ALLOT_APPLE_EVENT_POLL_SECONDS: "1",
        ALLOT_MDM_WEBHOOK_URL: `http://127.0.0.1:${(mdm.address() as AddressInfo).port}/commands`,
        ALLOT_MDM_WEBHOOK_SECRET: MDM_SECRET,
        ALLOT_NOTIFY_RETRY_BASE_MS: "100",
        ...(process.env.B2_LOG ? { LOG_LEVEL: process.env.B2_LOG } : {}),
      },
    });
    const asset = (adamId: string, name: string, totalCount: number) => ({
      adamId,
      name,
      bundleId: `com.example.${name.toLowerCase()}`,
      version: "1.0",
      totalCount,
      deviceAssignable: true,
      revocable: true,
      supportedPlatforms: ["iOS"],
    });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Updates",
      countryISO2ACode: "US",
      assets: [
        asset(adam.required, "Keynote", 20),
        asset(adam.available, "Numbers", 20),
        asset(adam.pinned, "Pages", 20),
        asset(adam.scarce, "Procreate", 2),
      ],
    });
    uId = loc.uId;
    const uploaded = await req("POST", "/beta/deviceAppManagement/vppTokens", {
      token: loc.sToken,
      appleId: "vpp@contoso.example",
      vppTokenAccountType: "business",
      automaticallyUpdateApps: true,
    });
    expect(uploaded.status).toBe(201);
    tokenId = uploaded.body.id;
    // Generous bounds throughout: on a busy 2-core machine PGlite takes tens of seconds for what is instant when idle.
    await waitForSync(s, tokenId, undefined, 160_000);
    for (const k of Object.keys(adam) as (keyof typeof adam)[])
      appIds[k] = (
        await db().selectFrom("apps").select("id").where("adam_id", "=", adam[k]).executeTakeFirstOrThrow()
      ).id;
    userId = (
      await req("POST", "/v1.0/users", {
        displayName: "Megan Bowen",
        userPrincipalName: "megan@contoso.example",
        mailNickname: "megan",
        accountEnabled: true,
        passwordProfile: { password: "x-Passw0rd-long-enough" },
      })
    ).body.id;
    kiosk.id = await device("Kiosk", kiosk.serial, { osVersion: "17.4" });
    phone.id = await device("Megan's iPhone", phone.serial, { operatingSystem: "iOS", userId });
    expect(userId && kiosk.id && phone.id).toBeTruthy();
  }, 900_000);

  afterAll(async () => {
    await s?.close();
    mdm?.closeAllConnections();
    await new Promise<void>((resolve) => mdm?.close(() => resolve()));
  });

  it("a newer version found by a sync updates Required installs once, except where preventAutoAppUpdate is set", async () => {
    const kiosks = await group("Update kiosks");
    await addMember(kiosks, kiosk.id);
    await assign(appIds.required, "required", kiosks);
    await assign(appIds.pinned, "required", kiosks, { preventAutoAppUpdate: true });
    for (const k of ["required", "pinned"] as const) {
      await waitFor(
        `the install command of ${k}`,
        async () => commandsFor(appIds[k], kiosk.id).length > 0,
        60_000,
      );
      expect(await report(kiosk.id, adam[k], "1.0")).toBe("installed");
    }
    expect(commands.every((c) => c.signed && c.body.update === undefined)).toBe(true);

    await s.emu.control.setVersion(adam.required, "2.0");
    await s.emu.control.setVersion(adam.pinned, "2.0");
    expect(
      (await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`)).status,
    ).toBeLessThan(300);
    const update = await waitFor(
      "the update command",
      async () => commandsFor(appIds.required, kiosk.id).find((c) => c.body.update === true),
      60_000,
    );
    expect(update.signed).toBe(true);
    expect(update.body).toMatchObject({
      type: "installApplication",
      update: true,
      deviceId: kiosk.id,
      serialNumber: kiosk.serial,
      command: {
        RequestType: "InstallApplication",
        iTunesStoreID: Number(adam.required),
        Options: { PurchaseMethod: 1 },
      },
    });
    const version = await db()
      .selectFrom("apps")
      .select("version")
      .where("id", "=", appIds.required)
      .executeTakeFirstOrThrow();
    expect(version.version).toBe("2.0");
    // The app stays installed while the MDM updates it; the report of the new version acknowledges the command.
    expect(await installStateOf(appIds.required, kiosk.id)).toBe("installed");
    // Once: another sync of the same version sends nothing more; the pinned app never gets one.
    await sync(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(commandsFor(appIds.required, kiosk.id).filter((c) => c.body.update === true)).toHaveLength(1);
    expect(commandsFor(appIds.pinned, kiosk.id).filter((c) => c.body.update === true)).toHaveLength(0);
    expect(await report(kiosk.id, adam.required, "2.0")).toBe("installed");
    const states = await db()
      .selectFrom("device_commands")
      .select(["kind", "state"])
      .where("app_id", "=", appIds.required)
      .where("device_id", "=", kiosk.id)
      .orderBy("seq")
      .execute();
    expect(states).toEqual([
      { kind: "install", state: "acknowledged" },
      { kind: "update", state: "acknowledged" },
    ]);
    // Required updates are pushed, not announced.
    expect(await alerts("appNewVersion", appIds.required)).toHaveLength(0);
  }, 300_000);

  it("a newer version of an Available app (incremental sync) reads updateAvailable and tells administrators", async () => {
    const users = await group("Numbers users");
    await addMember(users, userId);
    await assign(appIds.available, "available", users);
    expect(
      (
        await req("POST", `/beta/deviceManagement/managedDevices/${phone.id}/requestAppInstall`, {
          mobileAppId: appIds.available,
        })
      ).status,
    ).toBe(202);
    await waitFor(
      "the install command",
      async () => commandsFor(appIds.available, phone.id).length > 0,
      60_000,
    );
    expect(await report(phone.id, adam.available, "1.0")).toBe("installed");
    expect(await installStateOf(appIds.available, phone.id)).toBe("installed");

    await s.emu.control.setVersion(adam.available, "3.0");
    // A scheduled (incremental) sync re-reads metadata read more than a few hours ago.
    await db()
      .updateTable("apps")
      .set({ metadata_synced_at: new Date(Date.now() - 7 * 3_600_000) })
      .where("id", "=", appIds.available)
      .execute();
    await sync(false);
    expect(await installStateOf(appIds.available, phone.id)).toBe("updateAvailable");
    const raised = await alerts("appNewVersion", appIds.available);
    expect(raised).toHaveLength(1);
    expect(raised[0].title).toBe("Numbers 3.0 is available");
    expect((await adminMessages("appNewVersion")).map((m) => m.subject)).toEqual([
      "Numbers 3.0 is available",
    ]);
    // No command: users install Available apps themselves.
    await new Promise((r) => setTimeout(r, 1000));
    expect(commandsFor(appIds.available, phone.id).filter((c) => c.body.update === true)).toHaveLength(0);
    // The engine still counts the device as having the app (no new install command), and a second sync changes nothing.
    await sync(false);
    expect(await alerts("appNewVersion", appIds.available)).toHaveLength(1);
    expect(commandsFor(appIds.available, phone.id)).toHaveLength(1);
    // An inventory still showing the old version keeps updateAvailable; the new one clears it.
    expect(await report(phone.id, adam.available, "1.0")).toBe("updateAvailable");
    expect(await report(phone.id, adam.available, "3.0")).toBe("installed");
    expect(await installStateOf(appIds.available, phone.id)).toBe("installed");
  }, 300_000);

  describe("licensing alerts and purchases", () => {
    let crowd: string;
    const devices: string[] = [];
    const waiting = async () =>
      (
        await db()
          .selectFrom("license_holdings")
          .select("holder_id")
          .where("app_id", "=", appIds.scarce)
          .where("state", "=", "waiting")
          .execute()
      ).length;
    const addDevice = async () => {
      const i = devices.length;
      const id = await device(`Crowd ${i}`, `CROWD${String(i).padStart(4, "0")}`);
      devices.push(id);
      await addMember(crowd, id);
    };

    it("raises 'licenses running out' and 'waitlist growing' once per condition, debounced", async () => {
      crowd = await group("Procreate crowd");
      for (let i = 0; i < 4; i++) await addDevice();
      await assign(appIds.scarce, "required", crowd);
      await waitFor("two waiting", async () => (await waiting()) === 2, 60_000);
      const low = await waitFor(
        "the running-out alert",
        async () => {
          const a = await alerts("licensesRunningOut", appIds.scarce);
          return a.length > 0 ? a : undefined;
        },
        60_000,
      );
      expect(low).toHaveLength(1);
      expect(low[0]).toMatchObject({ title: "Procreate: 0 of 2 licenses left", severity: "critical" });
      const queue = await waitFor(
        "the waitlist alert",
        async () => {
          const a = await alerts("waitlistGrowing", appIds.scarce);
          return a.length > 0 ? a : undefined;
        },
        60_000,
      );
      expect(queue[0].title).toBe("Procreate: 2 waiting for a license");
      // Administrators get them as messages too.
      await waitFor(
        "the admin messages",
        async () =>
          (await adminMessages("licensesRunningOut")).length === 1 &&
          (await adminMessages("waitlistGrowing")).length === 1
            ? true
            : undefined,
        60_000,
      );
      // Reconciling again raises nothing new; a third waiting member within the debounce interval neither.
      await s.t.allot.services.licensesService.reconcileAll(s.tenantId);
      await addDevice();
      await waitFor("three waiting", async () => (await waiting()) === 3, 60_000);
      await s.t.allot.services.licensesService.reconcileAll(s.tenantId);
      expect(await alerts("waitlistGrowing", appIds.scarce)).toHaveLength(1);
      expect(await alerts("licensesRunningOut", appIds.scarce)).toHaveLength(1);
      // With no debounce interval, the next growth is reported at once.
      const patched = await req("PATCH", "/beta/admin/alertSettings", { waitlistAlertMinutes: 0 });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ waitlistAlertMinutes: 0, licensesRunningOutPercent: 10 });
      expect(
        (await req("PATCH", "/beta/admin/alertSettings", { licensesRunningOutPercent: 101 })).status,
      ).toBe(400);
      const reader = await s.t.tokenFor(["reader"]);
      expect(
        (
          await s.t.request("PATCH", "/beta/admin/alertSettings", {
            token: reader,
            body: { waitlistAlertMinutes: 5 },
          })
        ).status,
      ).toBe(403);
      await addDevice();
      const grown = await waitFor(
        "the second waitlist alert",
        async () => {
          const a = await alerts("waitlistGrowing", appIds.scarce);
          return a.length === 2 ? a : undefined;
        },
        60_000,
      );
      expect(grown.map((a) => a.title).sort()).toEqual([
        "Procreate: 2 waiting for a license",
        "Procreate: 4 waiting for a license",
      ]);
      expect(await alerts("licensesRunningOut", appIds.scarce)).toHaveLength(1);
    }, 300_000);

    it("a purchase at the emulator serves waiting members within seconds, without a sync", async () => {
      expect(await waiting()).toBe(4);
      const syncedBefore = (await req("GET", `/beta/deviceAppManagement/vppTokens/${tokenId}`)).body
        .lastSyncDateTime;
      const started = Date.now();
      await s.emu.control.purchase(uId, { adamId: adam.scarce, count: 3 });
      await waitFor(
        "the emulator to license three more devices",
        async () =>
          (await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId === adam.scarce)
            .length === 5
            ? true
            : undefined,
        60_000,
      );
      expect(Date.now() - started).toBeLessThan(60_000);
      await waitFor("one left waiting", async () => (await waiting()) === 1, 60_000);
      // Served in order: the earliest members hold the licenses, the last one added waits.
      const last = await db()
        .selectFrom("license_holdings")
        .select("holder_id")
        .where("app_id", "=", appIds.scarce)
        .where("state", "=", "waiting")
        .executeTakeFirstOrThrow();
      expect(last.holder_id).toBe(devices[devices.length - 1]);
      expect((await req("GET", `/beta/deviceAppManagement/vppTokens/${tokenId}`)).body.lastSyncDateTime).toBe(
        syncedBefore,
      );
      // The waitlist shrank: no new waitlist alert.
      expect(await alerts("waitlistGrowing", appIds.scarce)).toHaveLength(2);
    }, 300_000);
  });
});
