// The console's license reads against the Apple emulator (issue 5):
// - GET /beta/users/{id|upn}/licenseHoldings and /beta/deviceManagement/managedDevices/{id}/licenseHoldings:
//   exactly the holder's holdings across apps with state and reason (released ones only on request),
//   404 for unknown and other-tenant holders;
// - GET /beta/deviceAppManagement/mobileApps/{id}/licenseHistory: the app's license events newest
//   first, keyset-paged ($top, @odata.nextLink) without duplicates or gaps, filtered by holder,
//   unsupported filters refused with a 400 Graph error.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const KEYNOTE = "700000031"; // 1 license, device licensing: one tablet waits
const NUMBERS = "700000032"; // enough licenses for both tablets
const PAGES = "700000033"; // user licensing for Megan
const WAIT = 90_000;

describe("console license reads (per holder, history)", () => {
  let s: SyncSetup;
  const apps: Record<string, string> = {};
  let tabletsGroup: string;
  let megan: { id: string; upn: string };
  const tablets: string[] = [];
  const req = (method: string, path: string, body?: unknown, token?: string) =>
    s.t.request(method, path, { token: token ?? s.t.adminToken, body });
  const appHoldings = async (appId: string) =>
    (await req("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings`)).body.value as any[];
  const deviceHoldings = (id: string, query = "") =>
    req("GET", `/beta/deviceManagement/managedDevices/${id}/licenseHoldings${query}`);
  const historyPath = (appId: string, query = "") =>
    `/beta/deviceAppManagement/mobileApps/${appId}/licenseHistory${query}`;
  /** Every event of an app in the route's order, straight from the table. */
  const eventsInDb = async (appId: string, holderId?: string) => {
    let q = s.t.allot.database.db
      .selectFrom("license_events")
      .select(["seq", "holder_id", "to_state"])
      .where("tenant_id", "=", s.tenantId)
      .where("app_id", "=", appId)
      .orderBy("occurred_at", "desc")
      .orderBy("seq", "desc");
    if (holderId) q = q.where("holder_id", "=", holderId);
    return (await q.execute()).map((e) => String(e.seq));
  };
  const assign = async (appId: string, groupId: string, useDeviceLicensing: boolean) => {
    const r = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
          settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing },
        },
      ],
    });
    expect(r.status).toBe(204);
  };
  const settled = (appId: string, want: Record<string, string>) =>
    waitFor(
      `holdings of ${appId} to settle`,
      async () => {
        const value = await appHoldings(appId);
        const got = Object.fromEntries(value.map((h) => [h.holderId, h.state]));
        return JSON.stringify(got, Object.keys(got).sort()) === JSON.stringify(want, Object.keys(want).sort())
          ? value
          : undefined;
      },
      WAIT,
      100,
    );

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const asset = (adamId: string, name: string, totalCount: number) => ({
      adamId,
      name,
      totalCount,
      deviceAssignable: true,
      revocable: true,
      supportedPlatforms: ["iOS"],
    });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Console licenses",
      countryISO2ACode: "US",
      assets: [asset(KEYNOTE, "Keynote", 1), asset(NUMBERS, "Numbers", 5), asset(PAGES, "Pages", 2)],
    });
    await uploadToken(s, loc.sToken);
    for (const [key, adam] of Object.entries({ keynote: KEYNOTE, numbers: NUMBERS, pages: PAGES }))
      apps[key] = (
        await s.t.allot.database.db
          .selectFrom("apps")
          .select("id")
          .where("adam_id", "=", adam)
          .executeTakeFirstOrThrow()
      ).id;
    const group = async (name: string) =>
      (
        await req("POST", "/v1.0/groups", {
          displayName: name,
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: name.toLowerCase(),
        })
      ).body.id as string;
    const member = async (groupId: string, id: string) =>
      expect(
        (
          await req("POST", `/v1.0/groups/${groupId}/members/$ref`, {
            "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
          })
        ).status,
      ).toBe(204);
    const u = await req("POST", "/v1.0/users", {
      displayName: "Megan Bowen",
      userPrincipalName: "megan.bowen@contoso.example",
      mail: "megan.bowen@contoso.example",
      accountEnabled: true,
    });
    expect(u.status).toBe(201);
    megan = { id: u.body.id, upn: "megan.bowen@contoso.example" };
    tabletsGroup = await group("Tablets");
    for (let i = 0; i < 2; i++) {
      const d = await req("POST", "/v1.0/deviceManagement/managedDevices", {
        deviceName: `Tablet ${i}`,
        operatingSystem: "iPadOS",
        serialNumber: `CLIC${i}`,
        // Megan's own tablet: its device licenses are the device's, not hers.
        ...(i === 0 ? { userId: megan.id } : {}),
      });
      expect(d.status).toBe(201);
      tablets.push(d.body.id);
      await member(tabletsGroup, d.body.id);
    }
    const writers = await group("Writers");
    await member(writers, megan.id);
    await assign(apps.keynote, tabletsGroup, true);
    await assign(apps.numbers, tabletsGroup, true);
    await assign(apps.pages, writers, false);
    await settled(apps.keynote, { [tablets[0]]: "assigned", [tablets[1]]: "waiting" });
    await settled(apps.numbers, { [tablets[0]]: "assigned", [tablets[1]]: "assigned" });
  }, 300_000);
  afterAll(async () => s?.close());

  it("a device's licenseHoldings: exactly its holdings across apps with state and reason", async () => {
    const r = await deviceHoldings(tablets[1]);
    expect(r.status).toBe(200);
    expect(r.body["@odata.context"]).toContain(`managedDevices('${tablets[1]}')/licenseHoldings`);
    expect(r.body.value).toEqual([
      {
        appId: apps.keynote,
        appDisplayName: "Keynote",
        appType: "iosVppApp",
        holderType: "device",
        holderId: tablets[1],
        licenseType: "device",
        state: "waiting",
        reason: "insufficientLicenses",
        sinceDateTime: expect.any(String),
        waitingSinceDateTime: expect.any(String),
      },
      expect.objectContaining({
        appId: apps.numbers,
        appDisplayName: "Numbers",
        state: "assigned",
        reason: null,
        licenseType: "device",
        waitingSinceDateTime: null,
      }),
    ]);
    const first = (await deviceHoldings(tablets[0])).body.value;
    expect(first.map((h: any) => [h.appDisplayName, h.state])).toEqual([
      ["Keynote", "assigned"],
      ["Numbers", "assigned"],
    ]);
  });

  it("a user's licenseHoldings by id and by userPrincipalName: her user license only, not her device's", async () => {
    const byId = await waitFor(
      "Megan's Pages holding",
      async () => {
        const r = await req("GET", `/beta/users/${megan.id}/licenseHoldings`);
        expect(r.status).toBe(200);
        return r.body.value.length === 1 && r.body.value[0].state === "waiting" ? r.body : undefined;
      },
      WAIT,
      100,
    );
    expect(byId.value).toEqual([
      expect.objectContaining({
        appId: apps.pages,
        appDisplayName: "Pages",
        holderType: "user",
        holderId: megan.id,
        licenseType: "user",
        state: "waiting",
        reason: "awaitingInvitation",
      }),
    ]);
    const byUpn = await req(
      "GET",
      `/beta/users/${encodeURIComponent(megan.upn.toUpperCase())}/licenseHoldings`,
    );
    expect(byUpn.status).toBe(200);
    expect(byUpn.body.value).toEqual(byId.value);
    expect(byUpn.body["@odata.context"]).toContain(`users('${megan.id}')/licenseHoldings`);
  });

  it("filters holdings by state, refuses other filters and options", async () => {
    const waiting = await deviceHoldings(tablets[1], "?$filter=state eq 'waiting'");
    expect(waiting.body.value.map((h: any) => h.appDisplayName)).toEqual(["Keynote"]);
    const some = await deviceHoldings(tablets[1], "?$filter=state in ('assigned', 'released')");
    expect(some.body.value.map((h: any) => h.appDisplayName)).toEqual(["Numbers"]);
    for (const q of [
      "?$filter=reason eq 'x'",
      "?$filter=state eq 'nope'",
      "?$top=1",
      "?$filter=state ne 'x'",
    ]) {
      const r = await deviceHoldings(tablets[1], q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe("Request_BadRequest");
    }
  });

  it(
    "a holder that left: released holdings only with $filter=state eq 'released'",
    async () => {
      const left = await req("DELETE", `/v1.0/groups/${tabletsGroup}/members/${tablets[0]}/$ref`);
      expect(left.status).toBe(204);
      await settled(apps.keynote, { [tablets[0]]: "released", [tablets[1]]: "assigned" });
      await settled(apps.numbers, { [tablets[0]]: "released", [tablets[1]]: "assigned" });
      expect((await deviceHoldings(tablets[0])).body.value).toEqual([]);
      const released = (await deviceHoldings(tablets[0], "?$filter=state eq 'released'")).body.value;
      expect(released.map((h: any) => [h.appDisplayName, h.state, h.reason])).toEqual([
        ["Keynote", "released", "notTargeted"],
        ["Numbers", "released", "notTargeted"],
      ]);
      expect((await deviceHoldings(tablets[1])).body.value.map((h: any) => h.state)).toEqual([
        "assigned",
        "assigned",
      ]);
    },
    WAIT * 2,
  );

  it("licenseHistory: the app's events newest first, who held the license when", async () => {
    const r = await req("GET", historyPath(apps.keynote, "?$top=1000"));
    expect(r.status).toBe(200);
    expect(r.body["@odata.nextLink"]).toBeUndefined();
    const value = r.body.value as any[];
    expect(value.map((e) => e.id)).toEqual(await eventsInDb(apps.keynote));
    const times = value.map((e) => Date.parse(e.occurredDateTime));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const of = (i: number) => value.filter((e) => e.holderId === tablets[i]).reverse();
    // Tablet 0 held the license, then released it; Tablet 1 waited, then got it.
    expect(of(0).map((e) => e.toState)).toContain("assigned");
    expect(of(0).at(-1)).toMatchObject({ toState: "released", reason: "notTargeted" });
    expect(of(1).find((e) => e.toState === "waiting")).toMatchObject({ reason: "insufficientLicenses" });
    expect(of(1).at(-1)).toMatchObject({ toState: "assigned" });
    expect(
      of(1).findIndex((e) => e.toState === "waiting") < of(1).findLastIndex((e) => e.toState === "assigned"),
    ).toBe(true);
    expect(value[0]).toEqual({
      id: expect.any(String),
      holderType: "device",
      holderId: expect.any(String),
      holderDisplayName: expect.stringMatching(/^Tablet [01]$/),
      holderUserPrincipalName: null,
      fromState: expect.anything(),
      toState: expect.any(String),
      reason: value[0].reason,
      occurredDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    // the default page is 100 events
    const dflt = await req("GET", historyPath(apps.keynote));
    expect(dflt.body.value.map((e: any) => e.id)).toEqual(value.slice(0, 100).map((e) => e.id));
  });

  it("licenseHistory pages with $top=1 and @odata.nextLink: no duplicates, no gaps", async () => {
    const all = await eventsInDb(apps.keynote);
    expect(all.length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let path: string | undefined = historyPath(apps.keynote, "?$top=1");
    while (path) {
      const r = await req("GET", path);
      expect(r.status, path).toBe(200);
      expect(r.body.value.length).toBeLessThanOrEqual(1);
      seen.push(...r.body.value.map((e: any) => e.id));
      const next: string | undefined = r.body["@odata.nextLink"];
      if (next) expect(next).toContain("$top=1");
      path = next ? new URL(next).pathname + new URL(next).search : undefined;
      expect(seen.length).toBeLessThanOrEqual(all.length);
    }
    expect(seen).toEqual(all);
    // pages of 3 too (ties in occurred_at within one transaction are kept apart by seq)
    const threes: string[] = [];
    path = historyPath(apps.keynote, "?$top=3");
    while (path) {
      const r = await req("GET", path);
      threes.push(...r.body.value.map((e: any) => e.id));
      const next: string | undefined = r.body["@odata.nextLink"];
      path = next ? new URL(next).pathname + new URL(next).search : undefined;
    }
    expect(threes).toEqual(all);
  });

  it("licenseHistory filters by holderId and holderType", async () => {
    const mine = await req("GET", historyPath(apps.keynote, `?$filter=holderId eq '${tablets[1]}'`));
    expect(mine.status).toBe(200);
    expect(mine.body.value.map((e: any) => e.id)).toEqual(await eventsInDb(apps.keynote, tablets[1]));
    expect(
      mine.body.value.every((e: any) => e.holderId === tablets[1] && e.holderDisplayName === "Tablet 1"),
    ).toBe(true);
    // unquoted GUID, combined with holderType, paged
    const paged = await req(
      "GET",
      historyPath(apps.keynote, `?$filter=holderId eq ${tablets[1]} and holderType eq 'device'&$top=1`),
    );
    expect(paged.body.value).toHaveLength(1);
    expect(paged.body["@odata.nextLink"]).toContain("holderType");
    const both = await req(
      "GET",
      historyPath(apps.keynote, `?$filter=holderId in ('${tablets[0]}', '${tablets[1]}')`),
    );
    expect(both.body.value.map((e: any) => e.id)).toEqual(await eventsInDb(apps.keynote));
    expect((await req("GET", historyPath(apps.keynote, "?$filter=holderType eq 'user'"))).body.value).toEqual(
      [],
    );
    const pages = await req("GET", historyPath(apps.pages, `?$filter=holderId eq '${megan.id}'`));
    expect(pages.body.value[0]).toMatchObject({
      holderType: "user",
      holderDisplayName: "Megan Bowen",
      holderUserPrincipalName: megan.upn,
    });
  });

  it("licenseHistory refuses unsupported filters and options with a 400 Graph error", async () => {
    for (const q of [
      "?$filter=toState eq 'assigned'",
      "?$filter=holderId eq 'not-a-guid'",
      `?$filter=holderId eq '${tablets[0]}' or holderType eq 'device'`,
      "?$filter=holderType eq 'group'",
      "?$filter=startswith(holderId, 'a')",
      "?$top=0",
      "?$top=1001",
      "?$top=abc",
      "?$skiptoken=garbage",
      "?$orderby=occurredDateTime",
      "?$count=true",
    ]) {
      const r = await req("GET", historyPath(apps.keynote, q));
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe("Request_BadRequest");
    }
    const r = await req("GET", historyPath(apps.keynote, "?$filter=toState eq 'assigned'"));
    expect(r.body.error.message).toContain("supports only holderId");
    expect((await req("GET", historyPath(apps.keynote, "?$top=1000"))).status).toBe(200);
  });

  it("404 for unknown and other-tenant holders and apps; readable by a reader; 401 without a token", async () => {
    const paths = [
      `/beta/users/${megan.id}/licenseHoldings`,
      `/beta/users/${megan.upn}/licenseHoldings`,
      `/beta/deviceManagement/managedDevices/${tablets[1]}/licenseHoldings`,
      historyPath(apps.keynote),
    ];
    for (const p of [
      `/beta/users/${randomUUID()}/licenseHoldings`,
      "/beta/users/nobody@contoso.example/licenseHoldings",
      `/beta/deviceManagement/managedDevices/${randomUUID()}/licenseHoldings`,
      "/beta/deviceManagement/managedDevices/not-a-guid/licenseHoldings",
      historyPath(randomUUID()),
      historyPath("not-a-guid"),
    ]) {
      const r = await req("GET", p);
      expect(r.status, p).toBe(404);
      expect(r.body.error.code, p).toBe("Request_ResourceNotFound");
    }
    const other = (await req("POST", "/beta/admin/tenants", { displayName: "Fabrikam" })).body.id as string;
    const otherAdmin = await s.t.tokenFor(["globalAdministrator"], other);
    for (const p of paths) {
      const r = await req("GET", p, undefined, otherAdmin);
      expect(r.status, p).toBe(404);
      expect(r.text).not.toContain("Tablet");
    }
    const reader = await s.t.tokenFor(["reader"]);
    for (const p of paths) expect((await req("GET", p, undefined, reader)).status, p).toBe(200);
    for (const p of paths) expect((await s.t.request("GET", p)).status, p).toBe(401);
  });
});
