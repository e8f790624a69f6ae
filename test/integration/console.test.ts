// The console's read models: GET /beta/console/summary (waitlist and recent license events) against
// a real ledger over the Apple emulator, and GET /auth/session's permissions from the roles table.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasPermission, permissions } from "../../src/modules/access/roles.ts";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

describe("console summary and session", () => {
  let s: SyncSetup;
  let appId: string;
  const req = (method: string, path: string, body?: unknown, token = s.t.adminToken) =>
    s.t.request(method, path, { token, body });

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Console",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: "700000101",
          name: "Keynote",
          totalCount: 2,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    await uploadToken(s, loc.sToken);
    appId = (
      await s.t.allot.database.db
        .selectFrom("apps")
        .select("id")
        .where("adam_id", "=", "700000101")
        .executeTakeFirstOrThrow()
    ).id;
    const groupId = (
      await req("POST", "/v1.0/groups", {
        displayName: "iPads",
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: "ipads",
      })
    ).body.id;
    for (let i = 0; i < 5; i++) {
      const d = (
        await req("POST", "/v1.0/deviceManagement/managedDevices", {
          deviceName: `iPad ${i}`,
          operatingSystem: "iPadOS",
          serialNumber: `CON${i}`,
        })
      ).body;
      await req("POST", `/v1.0/groups/${groupId}/members/$ref`, {
        "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}`,
      });
    }
    const r = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
          settings: {
            "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings",
            useDeviceLicensing: true,
          },
        },
      ],
    });
    expect(r.status).toBe(204);
  }, 60_000);
  afterAll(async () => s?.close());

  it("reports the waitlist and the latest license events of the ledger", async () => {
    // 5 devices, 2 licenses: 2 assigned, 3 waiting once the engine has settled
    const summary = await waitFor(
      "the ledger to settle",
      async () => {
        const res = await req("GET", "/beta/console/summary");
        expect(res.status).toBe(200);
        const assigned = res.body.recentLicenseEvents.filter(
          (e: { toState: string }) => e.toState === "assigned",
        ).length;
        return res.body.waitingCount === 3 && assigned === 2 ? res.body : undefined;
      },
      20_000,
    );
    expect(summary.waitingByApp).toEqual([{ appId, displayName: "Keynote", waitingCount: 3 }]);
    const events = summary.recentLicenseEvents;
    expect(
      events.every(
        (e: { appId: string; appDisplayName: string; holderType: string }) =>
          e.appId === appId && e.appDisplayName === "Keynote" && e.holderType === "device",
      ),
    ).toBe(true);
    // newest first
    const times = events.map((e: { occurredDateTime: string }) => Date.parse(e.occurredDateTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const one = await req("GET", "/beta/console/summary?events=1");
    expect(one.body.recentLicenseEvents, JSON.stringify(one.body)).toHaveLength(1);
    expect((await req("GET", "/beta/console/summary?events=0")).status).toBe(400);
  });

  it("is readable by every role and scoped to the caller's tenant", async () => {
    const reader = await s.t.tokenFor(["reader"]);
    expect((await req("GET", "/beta/console/summary", undefined, reader)).body.waitingCount).toBe(3);
    const other = (await req("POST", "/beta/admin/tenants", { displayName: "Fabrikam" })).body.id as string;
    const otherReader = await s.t.tokenFor(["reader"], other);
    const res = await req("GET", "/beta/console/summary", undefined, otherReader);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ waitingCount: 0, waitingByApp: [], recentLicenseEvents: [] });
  });

  it("GET /auth/session lists exactly the permissions the signed-in administrator's roles grant", async () => {
    const created = await req("POST", "/beta/admin/administrators", {
      userPrincipalName: "apps.manager@contoso.com",
      password: "a long enough password",
      displayName: "Apps",
      roles: ["applicationManager"],
    });
    expect(created.status).toBe(201);
    const login = await fetch(`${s.t.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        userPrincipalName: "apps.manager@contoso.com",
        password: "a long enough password",
      }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const session = (await (await fetch(`${s.t.url}/auth/session`, { headers: { cookie } })).json()) as any;
    const expected = Object.keys(permissions).filter((p) =>
      hasPermission(["applicationManager"], p as keyof typeof permissions),
    );
    expect(session.permissions.sort()).toEqual(expected.sort());
    expect(session.permissions).toContain("tokens.write");
    expect(session.permissions).not.toContain("access.manage");
    expect(session.tenantName).toBeTruthy();
    expect(session.roles).toEqual(["applicationManager"]);
  });
});
