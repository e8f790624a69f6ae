// MDM bridge (MDM-1, ENG-9) against the Apple emulator: a Required device-licensed app is licensed at
// the emulator and the MDM webhook receives a signed InstallApplication (iTunesStoreID, PurchaseMethod 1);
// reportInstalledApps records the install; an Available app takes a license only once
// requestAppInstall asks for it.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const MDM_SECRET = "mdm-webhook-secret-0123456789";

describe("MDM bridge", () => {
  let s: SyncSetup;
  let mdm: http.Server;
  const commands: { body: any; signature: string | undefined }[] = [];
  let uId: string;
  const requiredAdam = "710000001";
  const availableAdam = "710000002";
  const fleetAdam = "710000003";
  let requiredAppId: string;
  let availableAppId: string;
  const kiosk = { id: "", serial: "MDMSER0001" };
  const personal = { id: "", serial: "MDMSER0002" };
  let userId: string;

  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });
  const serialsAt = async (adamId: string) =>
    (await s.emu.control.assignments(uId)).assignments
      .filter((a) => a.adamId === adamId)
      .map((a) => a.serialNumber as string);
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
  const assign = async (appId: string, intent: string, groupId: string) =>
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
                uninstallOnDeviceRemoval: true,
                isRemovable: false,
              },
            },
          ],
        })
      ).text,
    ).toBe("");

  beforeAll(async () => {
    mdm = http.createServer(async (rq, res) => {
      const chunks: Buffer[] = [];
      for await (const c of rq) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      commands.push({
        body: JSON.parse(raw),
        signature: rq.headers["x-allot-signature"] as string | undefined,
      });
      const ok =
        rq.headers["x-allot-signature"] ===
        `sha256=${createHmac("sha256", MDM_SECRET).update(raw).digest("hex")}`;
      res.writeHead(ok ? 200 : 401).end();
    });
    await new Promise<void>((resolve) => mdm.listen(0, "127.0.0.1", resolve));
    const mdmUrl = `http://127.0.0.1:${(mdm.address() as AddressInfo).port}/commands`;
    s = await startSyncSetup({
      env: {
        ALLOT_APPLE_EVENT_POLL_SECONDS: "1",
        ALLOT_MDM_WEBHOOK_URL: mdmUrl,
        ALLOT_MDM_WEBHOOK_SECRET: MDM_SECRET,
        ALLOT_NOTIFY_RETRY_BASE_MS: "100",
        // below the 250 devices licensed at once further down, so that case plans the app whole
        ALLOT_MDM_SLICE_MAX_HOLDERS: "100",
      },
    });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "MDM",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: requiredAdam,
          name: "Keynote",
          bundleId: "com.apple.Keynote",
          totalCount: 5,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
        {
          adamId: fleetAdam,
          name: "Pages",
          bundleId: "com.apple.Pages",
          totalCount: 300,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
        {
          adamId: availableAdam,
          name: "Numbers",
          bundleId: "com.apple.Numbers",
          totalCount: 5,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    uId = loc.uId;
    await uploadToken(s, loc.sToken);
    const db = s.t.allot.database.db;
    requiredAppId = (
      await db.selectFrom("apps").select("id").where("adam_id", "=", requiredAdam).executeTakeFirstOrThrow()
    ).id;
    availableAppId = (
      await db.selectFrom("apps").select("id").where("adam_id", "=", availableAdam).executeTakeFirstOrThrow()
    ).id;
    userId = (
      await req("POST", "/v1.0/users", {
        displayName: "Adele Vance",
        userPrincipalName: "adele@contoso.example",
        mailNickname: "adele",
        accountEnabled: true,
        passwordProfile: { password: "x-Passw0rd-long-enough" },
      })
    ).body.id;
    expect(userId).toBeTruthy();
    kiosk.id = (
      await req("POST", "/v1.0/deviceManagement/managedDevices", {
        deviceName: "Kiosk",
        operatingSystem: "iPadOS",
        serialNumber: kiosk.serial,
      })
    ).body.id;
    personal.id = (
      await req("POST", "/v1.0/deviceManagement/managedDevices", {
        deviceName: "Adele's iPhone",
        operatingSystem: "iOS",
        serialNumber: personal.serial,
        userId,
      })
    ).body.id;
    expect(kiosk.id && personal.id).toBeTruthy();
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    mdm?.closeAllConnections();
    await new Promise<void>((resolve) => mdm?.close(() => resolve()));
  });

  it("sends a signed InstallApplication to the MDM once the Required device license is associated", async () => {
    const g = await group("Kiosks");
    await addMember(g, kiosk.id);
    await assign(requiredAppId, "required", g);
    await waitFor(
      "the emulator to license the kiosk",
      async () => ((await serialsAt(requiredAdam)).includes(kiosk.serial) ? true : undefined),
      20_000,
    );
    const cmd = await waitFor(
      "the InstallApplication command",
      async () => commands.find((c) => c.body.mobileAppId === requiredAppId),
      20_000,
    );
    expect(cmd.body).toMatchObject({
      type: "installApplication",
      deviceId: kiosk.id,
      serialNumber: kiosk.serial,
      command: {
        RequestType: "InstallApplication",
        iTunesStoreID: Number(requiredAdam),
        Options: { PurchaseMethod: 1 },
        ManagementFlags: 1,
        Attributes: { Removable: false },
      },
    });
    expect(cmd.signature).toBe(
      `sha256=${createHmac("sha256", MDM_SECRET).update(JSON.stringify(cmd.body)).digest("hex")}`,
    );
    const db = s.t.allot.database.db;
    await waitFor("the command to be marked sent", async () => {
      const c = await db
        .selectFrom("device_commands")
        .select("state")
        .where("device_id", "=", kiosk.id)
        .executeTakeFirst();
      return c?.state === "sent" ? true : undefined;
    });
    const st = await db
      .selectFrom("install_states")
      .select("state")
      .where("device_id", "=", kiosk.id)
      .where("app_id", "=", requiredAppId)
      .executeTakeFirstOrThrow();
    expect(st.state).toBe("installPending");
    // One command only, however often the bridge looks again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(commands.filter((c) => c.body.mobileAppId === requiredAppId)).toHaveLength(1);
    const list = await req("GET", `/beta/deviceManagement/managedDevices/${kiosk.id}/appCommands`);
    expect(list.body.value).toHaveLength(1);
    expect(list.body.value[0]).toMatchObject({ kind: "install", status: "sent", mobileAppId: requiredAppId });
  }, 45_000);

  it("reportInstalledApps records the install and acknowledges the command", async () => {
    const r = await req("POST", `/beta/deviceManagement/managedDevices/${kiosk.id}/reportInstalledApps`, {
      apps: [
        { adamId: requiredAdam, version: "14.1", state: "installed" },
        { bundleId: "com.example.unknown", state: "installed" },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.value).toEqual([
      { bundleId: null, adamId: requiredAdam, mobileAppId: requiredAppId, installState: "installed" },
      { bundleId: "com.example.unknown", adamId: null, mobileAppId: null, installState: null },
    ]);
    const db = s.t.allot.database.db;
    const st = await db
      .selectFrom("install_states")
      .select("state")
      .where("device_id", "=", kiosk.id)
      .where("app_id", "=", requiredAppId)
      .executeTakeFirstOrThrow();
    expect(st.state).toBe("installed");
    const c = await db
      .selectFrom("device_commands")
      .select("state")
      .where("device_id", "=", kiosk.id)
      .executeTakeFirstOrThrow();
    expect(c.state).toBe("acknowledged");
    expect(
      (
        await req("POST", `/beta/deviceManagement/managedDevices/${kiosk.id}/reportInstalledApps`, {
          apps: [{ state: "installed" }],
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await req(
          "POST",
          "/beta/deviceManagement/managedDevices/00000000-0000-4000-8000-000000000000/reportInstalledApps",
          { apps: [] },
        )
      ).status,
    ).toBe(404);
  }, 20_000);

  it("an Available app takes a license only when an install is requested", async () => {
    const g = await group("Numbers users");
    await addMember(g, userId);
    await assign(availableAppId, "available", g);
    // Nothing is associated for an Available app without a request.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await serialsAt(availableAdam)).toEqual([]);
    const reader = await s.t.tokenFor(["reader"]);
    expect(
      (
        await s.t.request("POST", `/beta/deviceManagement/managedDevices/${personal.id}/requestAppInstall`, {
          token: reader,
          body: { mobileAppId: availableAppId },
        })
      ).status,
    ).toBe(403);
    const r = await req("POST", `/beta/deviceManagement/managedDevices/${personal.id}/requestAppInstall`, {
      mobileAppId: availableAppId,
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ deviceId: personal.id, mobileAppId: availableAppId });
    await waitFor(
      "the emulator to license the requesting device",
      async () => ((await serialsAt(availableAdam)).includes(personal.serial) ? true : undefined),
      20_000,
    );
    const cmd = await waitFor(
      "the InstallApplication command",
      async () => commands.find((c) => c.body.mobileAppId === availableAppId),
      20_000,
    );
    expect(cmd.body).toMatchObject({
      deviceId: personal.id,
      command: { RequestType: "InstallApplication", iTunesStoreID: Number(availableAdam) },
    });
    expect(
      (
        await req("POST", `/beta/deviceManagement/managedDevices/${personal.id}/requestAppInstall`, {
          mobileAppId: "00000000-0000-4000-8000-000000000000",
        })
      ).status,
    ).toBe(404);
  }, 45_000);

  it("tells the user when the app is no longer assigned (license released)", async () => {
    const db = s.t.allot.database.db;
    const g = (
      await db
        .selectFrom("mobile_app_assignments")
        .select("group_id")
        .where("app_id", "=", availableAppId)
        .executeTakeFirstOrThrow()
    ).group_id as string;
    expect((await req("DELETE", `/v1.0/groups/${g}/members/${userId}/$ref`)).status).toBe(204);
    await waitFor(
      "the emulator to release the license",
      async () => ((await serialsAt(availableAdam)).length === 0 ? true : undefined),
      20_000,
    );
    const msg = await waitFor("the user message", async () =>
      (await s.t.allot.services.notificationsRepository.messagesOf(s.tenantId, 50)).find(
        (m) => m.kind === "appUnassigned" && m.user_id === userId,
      ),
    );
    expect(msg).toMatchObject({ audience: "user", subject: "Numbers is no longer assigned to you" });
  }, 45_000);

  // The bridge plans whole apps when more of an app's holdings settled at once than
  // ALLOT_MDM_SLICE_MAX_HOLDERS (100 here), and only the settled holders otherwise (the late device);
  // either way every licensed device gets one command.
  it("sends one InstallApplication per device when 250 devices are licensed at once, and one more for a device added later", async () => {
    const db = s.t.allot.database.db;
    const fleetAppId = (
      await db.selectFrom("apps").select("id").where("adam_id", "=", fleetAdam).executeTakeFirstOrThrow()
    ).id;
    const g = await group("Fleet");
    const ids: string[] = [];
    for (let i = 0; i < 251; i += 25)
      ids.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(25, 251 - i) }, async (_, k) => {
            const r = await req("POST", "/v1.0/deviceManagement/managedDevices", {
              deviceName: `Fleet ${i + k}`,
              operatingSystem: "iOS",
              serialNumber: `FLEET${String(i + k).padStart(4, "0")}`,
            });
            expect(r.status).toBe(201);
            return r.body.id as string;
          }),
        )),
      );
    const [late, ...first] = ids as [string, ...string[]];
    for (const id of first) await addMember(g, id);
    await assign(fleetAppId, "required", g);
    const commandsFor = () => commands.filter((c) => c.body.mobileAppId === fleetAppId).map((c) => c.body.deviceId as string);
    await waitFor(
      "an InstallApplication for each of the 250 devices",
      async () => (new Set(commandsFor()).size >= 250 ? true : undefined),
      60_000,
    );
    await addMember(g, late);
    await waitFor("the late device's InstallApplication", async () => (commandsFor().includes(late) ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    const sent = commandsFor();
    expect(sent).toHaveLength(251);
    expect(new Set(sent)).toEqual(new Set(ids));
  }, 120_000);
});
