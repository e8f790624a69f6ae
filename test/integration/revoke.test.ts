// Revocation (REV-1, REV-2) end to end against the Apple emulator: per-app revokes disassociate that
// app only (other apps untouched AT THE EMULATOR), the device-wide revoke uses /assets/revoke, the token
// revoke takes untracked licenses too, books answer 400 without any Apple call, a revoked holder is not
// licensed again by the next reconcile, and the permission is licenses.revoke.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor, waitForSync } from "./sync-helpers.ts";

const PAGES = "700000011";
const NUMBERS = "700000012";
const BOOK = "700000013";
const KEYNOTE = "700000014";

describe("revocation against the Apple emulator", () => {
  let s: SyncSetup;
  let uId: string;
  let tokenId: string;
  let groupId: string;
  const appIds: Record<string, string> = {};
  const devices: { id: string; serial: string }[] = [];

  const req = (method: string, path: string, body?: unknown, token?: string) => s.t.request(method, path, { token: token ?? s.t.adminToken, body });
  const db = () => s.t.allot.database.db;
  const truth = async (adamId: string) =>
    (await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId === adamId).map((a) => a.serialNumber as string).sort();
  const idle = async () => {
    const open = await db().selectFrom("store_operations").select("id").where("state", "in", ["pending", "sending", "sent"]).execute();
    const busy = await db().selectFrom("license_holdings").select("holder_id").where("state", "in", ["pendingAssign", "pendingRelease"]).execute();
    return open.length === 0 && busy.length === 0;
  };
  const settled = (want: Record<string, string[]>) =>
    waitFor(
      "the emulator to hold the expected licenses",
      async () => {
        if (!(await idle())) return undefined;
        for (const [adamId, serials] of Object.entries(want)) if (JSON.stringify(await truth(adamId)) !== JSON.stringify([...serials].sort())) return undefined;
        return true;
      },
      20_000,
    );
  const holding = (app: string, holderId: string) =>
    db().selectFrom("license_holdings").selectAll().where("app_id", "=", appIds[app]).where("holder_id", "=", holderId).executeTakeFirst();
  const serials = (idx: number[]) => idx.map((i) => devices[i].serial);

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Revoke",
      countryISO2ACode: "US",
      assets: [
        { adamId: PAGES, name: "Pages", totalCount: 10, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] },
        { adamId: NUMBERS, name: "Numbers", totalCount: 10, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] },
        { adamId: BOOK, name: "Handbook", productType: "Book", totalCount: 5, deviceAssignable: false, revocable: false },
        { adamId: KEYNOTE, name: "Keynote", totalCount: 5, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] },
      ],
    });
    uId = loc.uId;
    tokenId = (await uploadToken(s, loc.sToken)).id;
    for (const a of await db().selectFrom("apps").select(["id", "adam_id"]).execute()) appIds[a.adam_id as string] = a.id;
    groupId = (await req("POST", "/v1.0/groups", { displayName: "iPads", mailEnabled: false, securityEnabled: true, mailNickname: "ipads" })).body.id;
    for (let i = 0; i < 5; i++) {
      const serial = `REV${i}`;
      const d = (await req("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: `iPad ${i}`, operatingSystem: "iPadOS", serialNumber: serial })).body;
      devices.push({ id: d.id, serial });
      expect((await req("POST", `/v1.0/groups/${groupId}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}` })).status).toBe(204);
    }
    for (const adamId of [PAGES, NUMBERS]) {
      const r = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appIds[adamId]}/assign`, {
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
    }
    await settled({ [PAGES]: serials([0, 1, 2, 3, 4]), [NUMBERS]: serials([0, 1, 2, 3, 4]) });
  }, 90_000);
  afterAll(async () => s?.close());

  it("lists the app's assigned licenses in Graph's shapes", async () => {
    const r = await req("GET", `/beta/deviceAppManagement/mobileApps/${appIds[PAGES]}/microsoft.graph.iosVppApp/assignedLicenses`);
    expect(r.status).toBe(200);
    expect(r.body.value).toHaveLength(5);
    const d0 = r.body.value.find((x: any) => x.managedDeviceId === devices[0].id);
    expect(d0).toMatchObject({ "@odata.type": "#microsoft.graph.iosVppAppAssignedDeviceLicense", deviceName: "iPad 0" });
    for (const k of ["userEmailAddress", "userId", "userName", "userPrincipalName"]) expect(d0).toHaveProperty(k);
  });

  it("revokes one device's license of one app (disassociate): the other app keeps it at the emulator", async () => {
    const r = await req("POST", `/beta/deviceAppManagement/mobileApps/${appIds[PAGES]}/revokeDeviceLicense`, { managedDeviceId: devices[0].id, notifyManagedDevices: false });
    expect(r.status).toBe(204);
    await settled({ [PAGES]: serials([1, 2, 3, 4]), [NUMBERS]: serials([0, 1, 2, 3, 4]) });
    expect(await holding(PAGES, devices[0].id)).toMatchObject({ state: "released", reason: "revoked" });
    const history = await db().selectFrom("license_events").select(["from_state", "to_state", "reason"]).where("app_id", "=", appIds[PAGES]).where("holder_id", "=", devices[0].id).orderBy("seq").execute();
    expect(history.slice(-2)).toEqual([
      { from_state: "assigned", to_state: "pendingRelease", reason: "revoked" },
      { from_state: "pendingRelease", to_state: "released", reason: "revoked" },
    ]);
    // Apple was asked to disassociate, never to revoke (which would take every app of the device).
    const events = (await s.emu.control.events(uId)).events;
    expect(events.some((e) => e.eventType === "DISASSOCIATE")).toBe(true);
    expect(events.some((e) => e.eventType === "REVOKE")).toBe(false);
    const audit = await db().selectFrom("audit_events").select("activity").where("activity", "=", "Revoke a device's app license").execute();
    expect(audit).toHaveLength(1);
  }, 30_000);

  it("does not license a revoked holder again on the next reconcile while it is still targeted", async () => {
    await s.t.allot.services.licensesService.reconcileApp(s.tenantId, appIds[PAGES]);
    await s.t.allot.services.licensesService.drainOutbox(s.tenantId);
    expect(await holding(PAGES, devices[0].id)).toMatchObject({ state: "released", reason: "revoked" });
    expect(await truth(PAGES)).toEqual(serials([1, 2, 3, 4]));
    const app = await db().selectFrom("apps").select("revoked_count").where("id", "=", appIds[PAGES]).executeTakeFirstOrThrow();
    expect(app.revoked_count).toBe(1);
    const graph = await req("GET", `/beta/deviceAppManagement/mobileApps/${appIds[PAGES]}`);
    expect(graph.body.revokedLicenseCount).toBe(1);
  }, 30_000);

  it("revokes through the iosVppApp cast segment too, and notifies the device's user when asked", async () => {
    const user = (await req("POST", "/v1.0/users", { displayName: "Grace Hopper", userPrincipalName: "grace@contoso.com", mail: "grace@contoso.com", accountEnabled: true })).body;
    await db().updateTable("devices").set({ user_id: user.id }).where("id", "=", devices[1].id).execute();
    const r = await req("POST", `/beta/deviceAppManagement/mobileApps/${appIds[PAGES]}/microsoft.graph.iosVppApp/revokeDeviceLicense`, { managedDeviceId: devices[1].id, notifyManagedDevices: true });
    expect(r.status).toBe(204);
    await settled({ [PAGES]: serials([2, 3, 4]), [NUMBERS]: serials([0, 1, 2, 3, 4]) });
    // The MDM bridge, which tells users of other releases, has read the revoke's events too: the
    // message below is the revoke's own, once.
    await waitFor("the MDM bridge to read the license events", async () => {
      const r = await sql<{ read: boolean }>`
        select coalesce((select event_seq from mdm_bridge_cursors), 0) >= (select max(seq) from license_events) as read`.execute(db());
      return r.rows[0]?.read ? true : undefined;
    });
    const messages = (await sql<{ kind: string; user_id: string; subject: string }>`select kind, user_id, subject from notification_messages where audience = 'user'`.execute(db())).rows;
    expect(messages).toEqual([{ kind: "appUnassigned", user_id: user.id, subject: "Pages is no longer assigned to you" }]);
  }, 30_000);

  it("revokes every license of a device with Apple's /assets/revoke (all its apps)", async () => {
    const r = await req("POST", `/beta/deviceManagement/managedDevices/${devices[2].id}/revokeAppleVppLicenses`);
    expect(r.status).toBe(204);
    await settled({ [PAGES]: serials([3, 4]), [NUMBERS]: serials([0, 1, 3, 4]) });
    expect((await s.emu.control.events(uId)).events.some((e) => e.eventType === "REVOKE")).toBe(true);
    expect(await holding(NUMBERS, devices[2].id)).toMatchObject({ state: "released", reason: "revoked" });
  }, 30_000);

  it("revokes all licenses of one app and leaves the other app untouched at the emulator", async () => {
    const r = await req("POST", `/beta/deviceAppManagement/mobileApps/${appIds[NUMBERS]}/revokeAllLicenses`, { notifyManagedDevices: false });
    expect(r.status).toBe(204);
    await settled({ [PAGES]: serials([3, 4]), [NUMBERS]: [] });
  }, 30_000);

  it("refuses books with 400 and calls Apple not at all", async () => {
    const before = (await s.emu.control.events(uId)).events.length;
    const r = await req("POST", `/beta/deviceAppManagement/mobileApps/${appIds[BOOK]}/revokeAllLicenses`, { notifyManagedDevices: false });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/book/i);
    expect((await s.emu.control.events(uId)).events.length).toBe(before);
    expect(await db().selectFrom("store_operations").select("id").where("state", "=", "pending").execute()).toHaveLength(0);
  });

  it("validates revokeUserLicense and revokeDeviceLicense bodies", async () => {
    const app = appIds[PAGES];
    expect((await req("POST", `/beta/deviceAppManagement/mobileApps/${app}/revokeUserLicense`, { notifyManagedDevices: false })).status).toBe(400);
    expect((await req("POST", `/beta/deviceAppManagement/mobileApps/${app}/revokeUserLicense`, { userId: devices[0].id, notifyManagedDevices: false })).status).toBe(404);
    expect((await req("POST", `/beta/deviceAppManagement/mobileApps/${app}/revokeDeviceLicense`, { managedDeviceId: devices[3].id, notifyManagedDevices: "yes" })).status).toBe(400);
  });

  it("needs licenses.revoke: a user administrator is refused, a license administrator may", async () => {
    const path = `/beta/deviceAppManagement/mobileApps/${appIds[PAGES]}/revokeDeviceLicense`;
    const denied = await req("POST", path, { managedDeviceId: devices[3].id }, await s.t.tokenFor(["userAdministrator"]));
    expect(denied.status).toBe(403);
    const ok = await req("POST", path, { managedDeviceId: devices[3].id }, await s.t.tokenFor(["licenseAdministrator"]));
    expect(ok.status).toBe(204);
    await settled({ [PAGES]: serials([4]) });
  }, 30_000);

  it("revokes one user's license of one app (disassociate by clientUserId); the other user keeps theirs", async () => {
    const users: { id: string; cuid: string }[] = [];
    for (const name of ["linus", "ken"]) {
      const u = (await req("POST", "/v1.0/users", { displayName: name, userPrincipalName: `${name}@contoso.com`, accountEnabled: true })).body;
      const cuid = `cuid-${name}`;
      users.push({ id: u.id, cuid });
      // An Apple user that accepted the invitation already (at the emulator and in Allot's record).
      await s.emu.control.seedUsers(uId, { users: [{ clientUserId: cuid, status: "Associated", managedAppleId: `${name}@appleid.example` }] });
      await db().insertInto("apple_users").values({ tenant_id: s.tenantId, token_id: tokenId, client_user_id: cuid, user_id: u.id, status: "Associated" }).execute();
    }
    const readers = (await req("POST", "/v1.0/groups", { displayName: "Readers", mailEnabled: false, securityEnabled: true, mailNickname: "readers" })).body.id;
    for (const u of users)
      expect((await req("POST", `/v1.0/groups/${readers}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${u.id}` })).status).toBe(204);
    const assign = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appIds[KEYNOTE]}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: readers },
          settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing: false },
        },
      ],
    });
    expect(assign.status).toBe(204);
    const keynoteUsers = async () =>
      (await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId === KEYNOTE).map((a) => a.clientUserId as string).sort();
    await waitFor("user licenses at the emulator", async () => (await idle()) && JSON.stringify(await keynoteUsers()) === JSON.stringify(["cuid-ken", "cuid-linus"]), 20_000);
    const r = await req("POST", `/beta/deviceAppManagement/mobileApps/${appIds[KEYNOTE]}/revokeUserLicense`, { userId: users[0].id, notifyManagedDevices: false });
    expect(r.status).toBe(204);
    await waitFor("the user license to be revoked", async () => (await idle()) && JSON.stringify(await keynoteUsers()) === JSON.stringify(["cuid-ken"]), 20_000);
    expect(await holding(KEYNOTE, users[0].id)).toMatchObject({ state: "released", reason: "revoked" });
    expect(await truth(PAGES)).toEqual(serials([4]));
  }, 40_000);

  it("revokes a whole token, with untracked licenses when asked", async () => {
    await s.emu.control.seedAssignments(uId, { assignments: [{ adamId: NUMBERS, serialNumber: "OUTSIDE1" }] });
    const since = new Date().toISOString();
    expect((await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`)).status).toBeLessThan(300);
    await waitForSync(s, tokenId, since);
    expect(await truth(NUMBERS)).toEqual(["OUTSIDE1"]);
    const r = await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/revokeLicenses`, { notifyManagedDevices: false, revokeUntrackedLicenses: true });
    expect(r.status).toBe(204);
    await settled({ [PAGES]: [], [NUMBERS]: [] });
    expect((await s.emu.control.assignments(uId)).assignments).toEqual([]);
    const audit = await db().selectFrom("audit_events").select("activity").where("activity", "=", "Revoke the licenses of a VPP token").execute();
    expect(audit).toHaveLength(1);
  }, 40_000);
});
