// GET /beta/deviceAppManagement/mobileApps/{id}/licenseHoldings (the console's app detail): every
// holder with its state and reason, licensed and waiting alike; 404 for unknown apps; roles checked.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const ADAM = "700000021";

describe("licenseHoldings", () => {
  let s: SyncSetup;
  let appId: string;
  const req = (method: string, path: string, body?: unknown, token?: string) =>
    s.t.request(method, path, { token: token ?? s.t.adminToken, body });

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Holdings",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: ADAM,
          name: "Keynote",
          totalCount: 1,
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
        .where("adam_id", "=", ADAM)
        .executeTakeFirstOrThrow()
    ).id;
    const groupId = (
      await req("POST", "/v1.0/groups", {
        displayName: "Tablets",
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: "tablets",
      })
    ).body.id;
    for (let i = 0; i < 2; i++) {
      const d = (
        await req("POST", "/v1.0/deviceManagement/managedDevices", {
          deviceName: `Tablet ${i}`,
          operatingSystem: "iPadOS",
          serialNumber: `HOLD${i}`,
        })
      ).body;
      await req("POST", `/v1.0/groups/${groupId}/members/$ref`, {
        "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}`,
      });
    }
    const assign = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
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
    expect(assign.status).toBe(204);
  }, 120_000);
  afterAll(async () => s?.close());

  it("lists the licensed and the waiting device with state, reason and name", async () => {
    const value = await waitFor(
      "holdings to settle",
      async () => {
        const r = await req("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings`);
        expect(r.status).toBe(200);
        const states = r.body.value.map((h: any) => h.state).sort();
        return JSON.stringify(states) === JSON.stringify(["assigned", "waiting"]) ? r.body.value : undefined;
      },
      30_000,
    );
    expect(value.find((h: any) => h.state === "assigned")).toMatchObject({
      holderType: "device",
      displayName: "Tablet 0",
      serialNumber: "HOLD0",
      reason: null,
    });
    expect(value.find((h: any) => h.state === "waiting")).toMatchObject({
      holderType: "device",
      displayName: "Tablet 1",
      reason: "insufficientLicenses",
    });
  }, 40_000);

  it("answers 404 for an unknown app, 400 for unknown options, 401 without a token, and is readable by a reader", async () => {
    expect(
      (await req("GET", `/beta/deviceAppManagement/mobileApps/${randomUUID()}/licenseHoldings`)).status,
    ).toBe(404);
    expect((await req("GET", `/beta/deviceAppManagement/mobileApps/not-a-guid/licenseHoldings`)).status).toBe(
      404,
    );
    expect(
      (await req("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings?$top=1`)).status,
    ).toBe(400);
    expect(
      (await s.t.request("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings`)).status,
    ).toBe(401);
    const reader = await s.t.tokenFor(["reader"]);
    expect(
      (await req("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings`, undefined, reader))
        .status,
    ).toBe(200);
  });
});
