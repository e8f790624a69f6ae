// SYNC-1..4 and TOK-6 through real HTTP: Allot → (proxy) → the Apple emulator, and the emulator's
// notifications → ALLOT_PUBLIC_URL → Allot's /notifications/apple/{tokenId}. Every check compares
// Allot's mirror (apps, store_assignments, apple_users) with the emulator's truth.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextSlot } from "../../src/modules/sync/sync.service.ts";
import { engine } from "../helpers/allot.ts";
import {
  countRows,
  mirrorAssignments,
  mirrorCounts,
  type SyncSetup,
  seedLocation,
  startSyncSetup,
  truthAssignments,
  truthCounts,
  uploadToken,
  waitFor,
  waitForSync,
} from "./sync-helpers.ts";

const serials = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);

describe(`sync with Apple (${engine})`, () => {
  let s: SyncSetup;
  let loc: Awaited<ReturnType<typeof seedLocation>>;
  let tokenId: string;
  const tokenUrl = (v = "beta") => `/${v}/deviceAppManagement/vppTokens/${tokenId}`;
  const get = (path: string, headers?: Record<string, string>) =>
    s.t.request("GET", path, { token: s.t.adminToken, headers });
  const apple = () => s.t.allot.services.tokensService.appleFor(s.tenantId, tokenId);
  const runSync = (full: boolean) =>
    s.t.allot.services.syncService.runSync({ tenantId: s.tenantId, tokenId, full, reason: "manual" });
  const appByAdamId = async (adamId: string, v = "beta", headers?: Record<string, string>) => {
    const r = await get(`/${v}/deviceAppManagement/mobileApps?$filter=adamId eq '${adamId}'`, headers);
    return r.body.value[0] as Record<string, any> | undefined;
  };

  beforeAll(async () => {
    s = await startSyncSetup({ emulator: { pageSize: 50 } });
    loc = await seedLocation(s);
    // 120 device licenses assigned outside Allot (another tool, Apple Business Manager): untracked.
    await s.emu.control.seedAssignments(loc.uId, {
      assets: [{ adamId: loc.ids.ios }],
      serialNumbers: serials("EXT", 40),
    });
    await s.emu.control.purchase(loc.uId, { adamId: loc.ids.ios, count: 100 });
    await s.emu.control.seedAssignments(loc.uId, {
      assets: [{ adamId: loc.ids.ios }],
      serialNumbers: serials("ABM", 80),
    });
    const token = await uploadToken(s, loc.sToken, { countryOrRegion: "us" });
    tokenId = token.id;
  });
  afterAll(async () => s?.close());

  it("a full sync brings apps and books with Apple's counts, the assignments as untracked, and metadata in each storefront language (SYNC-2, SYNC-4, APP-1, APP-4)", async () => {
    expect(await mirrorCounts(s, tokenId)).toEqual(await truthCounts(s, loc.uId));
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));
    expect(await countRows(s, "store_assignments", tokenId)).toBe(120);

    const ios = await appByAdamId(loc.ids.ios);
    expect(ios).toMatchObject({
      "@odata.type": "#microsoft.graph.iosVppApp",
      displayName: "Keynote",
      bundleId: "com.apple.Keynote",
      totalLicenseCount: 150,
      usedLicenseCount: 120,
      availableLicenseCount: 30,
      untrackedLicenseCount: 120,
      pendingLicenseCount: 0,
      metadataStatus: "ok",
      vppTokenId: tokenId,
      vppTokenOrganizationName: "Contoso Ltd",
      vppTokenAppleId: "vpp@contoso.example",
    });
    expect(ios?.appStoreUrl).toContain("/us/");
    // The US storefront offers English and Spanish: both were read; the caller's language wins.
    expect(
      (await appByAdamId(loc.ids.ios, "beta", { "accept-language": "es-MX,es;q=0.9" }))?.displayName,
    ).toBe("Keynote (es)");
    expect((await appByAdamId(loc.ids.ios, "beta", { "accept-language": "fr-FR" }))?.displayName).toBe(
      "Keynote",
    );
    const stored = await s.t.allot.database.db
      .selectFrom("apps")
      .select(["metadata_localizations", "metadata_language"])
      .where("adam_id", "=", loc.ids.ios)
      .executeTakeFirstOrThrow();
    expect(Object.keys(stored.metadata_localizations as object).sort()).toEqual(["en", "es"]);
    expect(stored.metadata_language).toBe("en");

    const books = await get("/v1.0/deviceAppManagement/managedEBooks");
    expect(books.body.value.map((b: any) => [b["@odata.type"], b.displayName, b.totalLicenseCount])).toEqual([
      ["#microsoft.graph.iosVppEBook", "The Swift Programming Language", 20],
    ]);
    const token = (await get(tokenUrl())).body;
    expect(token).toMatchObject({ lastSyncStatus: "completed" });
    expect(Date.parse(token.lastSyncDateTime)).toBeGreaterThan(Date.now() - 60_000);
    // Apple's TEST_NOTIFICATION reached the endpoint during the upload: notifications are on.
    const row = await s.t.allot.database.db
      .selectFrom("vpp_tokens")
      .select(["notifications_enabled", "assignments_version_id", "next_sync_at"])
      .where("id", "=", tokenId)
      .executeTakeFirstOrThrow();
    expect(row.notifications_enabled).toBe(true);
    expect(row.assignments_version_id).toBeTruthy();
    expect(row.next_sync_at).toBeTruthy();
  });

  it("syncLicenses answers with the token (200) inProgress, then completed with a new lastSyncDateTime; audited; 404 for an unknown token; reader may not", async () => {
    const before = (await get(tokenUrl("v1.0"))).body.lastSyncDateTime as string;
    const res = await s.t.request("POST", `${tokenUrl("v1.0")}/syncLicenses`, { token: s.t.adminToken });
    expect(res.status).toBe(200);
    expect(res.body["@odata.context"]).toContain("$metadata#deviceAppManagement/vppTokens/$entity");
    expect(res.body).toMatchObject({ id: tokenId, lastSyncStatus: "inProgress" });
    expect(res.body.displayName).toBeUndefined(); // beta-only member not on v1.0
    const after = await waitForSync(s, tokenId, before);
    expect(after.lastSyncStatus).toBe("completed");
    const qualified = await s.t.request("POST", `${tokenUrl()}/microsoft.graph.syncLicenses`, {
      token: s.t.adminToken,
    });
    expect(qualified.status).toBe(200);
    await waitForSync(s, tokenId, after.lastSyncDateTime);

    const audit = await get(
      `/beta/deviceManagement/auditEvents?$filter=activity eq 'Sync VPP token licenses'`,
    );
    expect(audit.status).toBe(200);
    expect(audit.body.value.length).toBeGreaterThanOrEqual(2);
    expect(
      (
        await s.t.request(
          "POST",
          "/beta/deviceAppManagement/vppTokens/00000000-0000-4000-8000-000000000000/syncLicenses",
          { token: s.t.adminToken },
        )
      ).status,
    ).toBe(404);
    const reader = await s.t.tokenFor(["reader"]);
    expect((await s.t.request("POST", `${tokenUrl()}/syncLicenses`, { token: reader })).status).toBe(403);
  });

  it("a purchase at Apple reaches Allot as ASSET_COUNT within seconds; a refund too; a new asset is read with its metadata (SYNC-3)", async () => {
    const key = `${loc.ids.mac}|STDQ`;
    const started = Date.now();
    await s.emu.control.purchase(loc.uId, { adamId: loc.ids.mac, count: 7 });
    await waitFor(
      "purchase applied",
      async () => (await mirrorCounts(s, tokenId))[key] === "12/0/12/0",
      5000,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    await s.emu.control.purchase(loc.uId, { adamId: loc.ids.mac, count: -2 });
    await waitFor("refund applied", async () => (await mirrorCounts(s, tokenId))[key] === "10/0/10/0", 5000);
    expect(await mirrorCounts(s, tokenId)).toEqual(await truthCounts(s, loc.uId));

    // An app bought for the first time: the notification makes Allot read it from Apple.
    await s.emu.control.purchase(loc.uId, {
      adamId: "599999001",
      count: 3,
      name: "Numbers",
      bundleId: "com.apple.Numbers",
      supportedPlatforms: ["iOS"],
    });
    const numbers = await waitFor(
      "new app listed with its metadata",
      async () => {
        const app = await appByAdamId("599999001");
        return app?.metadataStatus === "ok" ? app : undefined;
      },
      10_000,
    );
    expect(numbers).toMatchObject({ displayName: "Numbers", totalLicenseCount: 3, metadataStatus: "ok" });
  });

  it("assignments made at Apple arrive as ASSET_MANAGEMENT; duplicated and reordered notifications are applied once", async () => {
    await s.emu.control.setFaults({ notifications: { duplicate: true, reorder: true } });
    try {
      const client = await apple();
      await client.associateAssets({
        assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
        serialNumbers: serials("NEW", 6),
      });
      await s.emu.control.purchase(loc.uId, { adamId: loc.ids.ios, count: 4 });
      await client.disassociateAssets({
        assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
        serialNumbers: serials("EXT", 2),
      });
      s.emu.flush();
      await s.emu.idle();
      await waitFor(
        "mirror equals Apple",
        async () =>
          JSON.stringify(await mirrorAssignments(s, tokenId)) ===
          JSON.stringify(await truthAssignments(s, loc.uId)),
        5000,
      );
      expect(await mirrorCounts(s, tokenId)).toEqual(await truthCounts(s, loc.uId));
      const deliveries = (await s.emu.control.notifications(loc.uId)).deliveries;
      expect(deliveries.some((d) => d.duplicate && d.outcome === "delivered")).toBe(true);
      // Each notification id was processed once.
      const ids = new Set(
        deliveries
          .filter((d) => d.outcome === "delivered" && d.notificationType !== "TEST_NOTIFICATION")
          .map((d) => d.notificationId),
      );
      expect(await countRows(s, "store_notifications", tokenId)).toBe(ids.size);
      expect((await appByAdamId(loc.ids.ios))?.untrackedLicenseCount).toBe(
        (await truthAssignments(s, loc.uId)).filter((k) => k.startsWith(`${loc.ids.ios}|`)).length,
      );
    } finally {
      await s.emu.control.clearFaults();
    }
  });

  it("dropped notifications leave Allot behind until the next full sync, which brings it back to Apple's truth", async () => {
    await s.emu.control.setFaults({ notifications: { drop: true } });
    try {
      const client = await apple();
      await client.associateAssets({
        assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
        serialNumbers: serials("LOST", 3),
      });
      await client.disassociateAssets({
        assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
        serialNumbers: serials("ABM", 4),
      });
      await s.emu.control.purchase(loc.uId, { adamId: loc.ids.book, count: 5 });
      s.emu.flush();
      await s.emu.idle();
      expect(await mirrorAssignments(s, tokenId)).not.toEqual(await truthAssignments(s, loc.uId));
      expect(await mirrorCounts(s, tokenId)).not.toEqual(await truthCounts(s, loc.uId));
    } finally {
      await s.emu.control.clearFaults();
    }
    const result = await runSync(true);
    expect(result).toMatchObject({ full: true, assignmentsAdded: 3, assignmentsRemoved: 4 });
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));
    expect(await mirrorCounts(s, tokenId)).toEqual(await truthCounts(s, loc.uId));
  });

  it("an incremental sync reads only what changed since the last versionId; removals wait for a full sync; a full one runs at least daily", async () => {
    await s.emu.control.seedAssignments(loc.uId, {
      assets: [{ adamId: loc.ids.ios }],
      serialNumbers: serials("INC", 5),
    });
    const inc = await runSync(false);
    expect(inc).toMatchObject({ full: false, assignmentsAdded: 5, assignmentsRemoved: 0 });
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));

    // Removed at Apple with the notification lost: Apple's sinceVersionId answer does not show removals.
    await s.emu.control.setFaults({ notifications: { drop: true } });
    try {
      await (await apple()).disassociateAssets({
        assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
        serialNumbers: serials("INC", 2),
      });
      s.emu.flush();
      await s.emu.idle();
    } finally {
      await s.emu.control.clearFaults();
    }
    const inc2 = await runSync(false);
    expect(inc2).toMatchObject({ full: false, assignmentsRemoved: 0 });
    expect((await mirrorAssignments(s, tokenId)).length).toBe(
      (await truthAssignments(s, loc.uId)).length + 2,
    );

    // The last full sync is more than a day old: the scheduled sync is a full one.
    await s.t.allot.database.db
      .updateTable("vpp_tokens")
      .set({ last_full_sync_at: new Date(Date.now() - 25 * 3_600_000) })
      .where("id", "=", tokenId)
      .execute();
    const daily = await runSync(false);
    expect(daily).toMatchObject({ full: true, assignmentsRemoved: 2 });
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));
  });

  it("a versionId change in the middle of a walk starts the walk again; the result equals Apple's truth (SYNC-2)", async () => {
    let fired = false;
    s.appleProxy.state.hook = async (req, send) => {
      const answer = await send();
      if (
        !fired &&
        req.method === "GET" &&
        req.url.startsWith("/mdm/v2/assignments") &&
        /[?&]pageIndex=0\b/.test(req.url) &&
        !req.url.includes("sinceVersionId")
      ) {
        fired = true;
        // Page 0 is on its way back with the old versionId; the data changes before page 1 is read.
        await s.emu.control.seedAssignments(loc.uId, {
          assets: [{ adamId: loc.ids.ios }],
          serialNumbers: serials("MID", 7),
        });
      }
      return answer;
    };
    try {
      const result = await runSync(true);
      expect(fired).toBe(true);
      expect(result?.restarts).toBeGreaterThanOrEqual(1);
      expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));
      expect((await mirrorAssignments(s, tokenId)).filter((k) => k.includes("|MID"))).toHaveLength(7);
    } finally {
      s.appleProxy.state.hook = undefined;
    }
  });

  it("a 429 storm and 503s with Retry-After are ridden out through the real path", async () => {
    const statuses: number[] = [];
    s.appleProxy.state.hook = async (_req, send) => {
      const answer = await send();
      statuses.push(answer.status);
      return answer;
    };
    await s.emu.control.setFaults({
      rateLimitRps: 4,
      failNext: [{ status: 503, errorNumber: 9729, retryAfter: 1, count: 2 }],
    });
    try {
      const before = (await get(tokenUrl())).body.lastSyncDateTime;
      expect(
        (await s.t.request("POST", `${tokenUrl()}/syncLicenses`, { token: s.t.adminToken })).status,
      ).toBe(200);
      await waitForSync(s, tokenId, before, 30_000);
    } finally {
      await s.emu.control.clearFaults();
      s.appleProxy.state.hook = undefined;
    }
    expect(statuses.filter((x) => x === 503)).toHaveLength(2);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThan(0);
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, loc.uId));
    expect(await mirrorCounts(s, tokenId)).toEqual(await truthCounts(s, loc.uId));
  });

  it("only Apple users Allot created are kept, and their status follows USER_MANAGEMENT, USER_ASSOCIATED and syncs (TOK-5)", async () => {
    const db = s.t.allot.database.db;
    // What the licensing engine records when it registers a user with Apple.
    await db
      .insertInto("apple_users")
      .values({
        tenant_id: s.tenantId,
        token_id: tokenId,
        client_user_id: "allot-u1",
        email: "ada@contoso.example",
        status: "Pending",
      })
      .execute();
    await s.emu.control.seedUsers(loc.uId, {
      users: [{ clientUserId: "someone-else", email: "x@contoso.example" }],
    });
    await (await apple()).createUsers([{ clientUserId: "allot-u1", email: "ada@contoso.example" }]);
    s.emu.flush();
    await s.emu.idle();
    const registered = await waitFor("user registered", async () => {
      const u = await db
        .selectFrom("apple_users")
        .selectAll()
        .where("client_user_id", "=", "allot-u1")
        .executeTakeFirst();
      return u?.status === "Registered" ? u : undefined;
    });
    expect(registered.invite_code).toBeTruthy();
    await s.emu.control.acceptInvitation(loc.uId, "allot-u1");
    await s.emu.idle();
    const associated = await waitFor("user associated", async () => {
      const u = await db
        .selectFrom("apple_users")
        .selectAll()
        .where("client_user_id", "=", "allot-u1")
        .executeTakeFirst();
      return u?.status === "Associated" ? u : undefined;
    });
    expect(associated.apple_user_id).toBeTruthy();
    await runSync(true);
    const users = await db
      .selectFrom("apple_users")
      .select(["client_user_id", "status"])
      .where("token_id", "=", tokenId)
      .execute();
    expect(users).toEqual([{ client_user_id: "allot-u1", status: "Associated" }]);
  });

  it("the notification endpoint refuses a wrong or missing bearer (401) and unknown tokens", async () => {
    const body = {
      notificationId: "n-1",
      notificationType: "TEST_NOTIFICATION",
      uId: loc.uId,
      notification: {},
    };
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${s.t.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    expect((await post(`/notifications/apple/${tokenId}`, {})).status).toBe(401);
    expect(
      (await post(`/notifications/apple/${tokenId}`, { authorization: "Bearer not-the-secret" })).status,
    ).toBe(401);
    expect((await post("/notifications/apple/not-a-token", { authorization: "Bearer x" })).status).toBe(401);
    const wrong = await post(`/notifications/apple/${tokenId}`, { authorization: "Bearer not-the-secret" });
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe(
      "InvalidAuthenticationToken",
    );
  });

  it("a country change reads metadata from the new storefront; apps not sold there keep what they had, flagged (TOK-6)", async () => {
    // Keynote is also sold in Sweden (with a Swedish name); Final Cut Pro and the book are not.
    const patched = await s.t.request("PATCH", tokenUrl(), {
      token: s.t.adminToken,
      body: { countryOrRegion: "SE" },
    });
    expect([200, 204]).toContain(patched.status);
    const before = (await get(tokenUrl())).body.lastSyncDateTime;
    expect((await s.t.request("POST", `${tokenUrl()}/syncLicenses`, { token: s.t.adminToken })).status).toBe(
      200,
    );
    await waitForSync(s, tokenId, before);

    const ios = await appByAdamId(loc.ids.ios);
    expect(ios).toMatchObject({ displayName: "Keynote (sv)", metadataStatus: "ok" });
    expect(ios?.appStoreUrl).toContain("/se/");
    const mac = await appByAdamId(loc.ids.mac);
    expect(mac).toMatchObject({
      displayName: "Final Cut Pro",
      bundleId: "com.apple.FinalCut",
      metadataStatus: "notSoldInStorefront",
    });
    expect(mac?.appStoreUrl).toContain("/us/");
    const book = (await get(`/beta/deviceAppManagement/managedEBooks?$filter=adamId eq '${loc.ids.book}'`))
      .body.value[0];
    expect(book).toMatchObject({
      displayName: "The Swift Programming Language",
      metadataStatus: "notSoldInStorefront",
    });
    // Numbers (bought earlier, US only) is not sold in Sweden either.
    const flagged = await get(
      "/beta/deviceAppManagement/mobileApps?$filter=metadataStatus eq 'notSoldInStorefront'&$orderby=adamId",
    );
    expect(flagged.body.value.map((a: any) => a.adamId)).toEqual([loc.ids.mac, "599999001"]);

    // Back to the US storefront: everything is found again.
    await s.t.request("PATCH", tokenUrl(), { token: s.t.adminToken, body: { countryOrRegion: "US" } });
    const before2 = (await get(tokenUrl())).body.lastSyncDateTime;
    await s.t.request("POST", `${tokenUrl()}/syncLicenses`, { token: s.t.adminToken });
    await waitForSync(s, tokenId, before2);
    expect(await appByAdamId(loc.ids.mac)).toMatchObject({ metadataStatus: "ok" });
    expect((await appByAdamId(loc.ids.ios))?.displayName).toBe("Keynote");
  });

  it("an app with no metadata in the token's storefront keeps its ids and is flagged notFound (APP-4)", async () => {
    const other = await seedLocation(s, { countryISO2ACode: "US" });
    // The administrator says the token's storefront is Germany, where none of these apps is sold.
    const token = await uploadToken(s, other.sToken, { countryOrRegion: "DE" });
    const apps = (
      await get(`/beta/deviceAppManagement/mobileApps?$filter=vppTokenId eq ${token.id}&$orderby=adamId`)
    ).body.value;
    expect(
      apps.map((a: any) => [a.adamId, a.displayName, a.bundleId, a.metadataStatus, a.totalLicenseCount]),
    ).toEqual([
      [other.ids.ios, null, null, "notFound", 50],
      [other.ids.mac, null, null, "notFound", 5],
    ]);
  });

  it("the scheduler queues each token at its own deterministic time in the period, and jobs are scheduled with pg-boss", async () => {
    const db = s.t.allot.database.db;
    await db
      .updateTable("vpp_tokens")
      .set({ next_sync_at: new Date(Date.now() - 60_000) })
      .where("id", "=", tokenId)
      .execute();
    const before = (await get(tokenUrl())).body.lastSyncDateTime;
    const now = new Date();
    const queued = await s.t.allot.services.syncService.scheduleDue(now);
    expect(queued).toBeGreaterThanOrEqual(1);
    await waitForSync(s, tokenId, before);
    const row = await db
      .selectFrom("vpp_tokens")
      .select("next_sync_at")
      .where("id", "=", tokenId)
      .executeTakeFirstOrThrow();
    const next = new Date(row.next_sync_at as Date);
    expect(next.getTime()).toBe(nextSlot(tokenId, 12, now).getTime());
    expect(next.getTime() - now.getTime()).toBeGreaterThan(0);
    expect(next.getTime() - now.getTime()).toBeLessThanOrEqual(12 * 3_600_000);
    // The same token always lands on the same offset; another token on its own.
    expect(nextSlot(tokenId, 12, new Date(now.getTime() + 12 * 3_600_000)).getTime() - next.getTime()).toBe(
      12 * 3_600_000,
    );
    const schedules = await sql<{
      name: string;
      cron: string;
    }>`select name, cron from pgboss.schedule order by name`.execute(db);
    expect(schedules.rows).toEqual([
      { name: "apple-sync-due", cron: "* * * * *" },
      { name: "sync-housekeeping", cron: "43 3 * * *" },
      { name: "token-expiry-check", cron: "17 6 * * *" },
    ]);
  });
});

describe(`sync without notifications: event-status polling (${engine})`, () => {
  let s: SyncSetup;
  beforeAll(async () => {
    s = await startSyncSetup({ notifications: false, env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
  });
  afterAll(async () => s?.close());

  it("follows an Apple event by its status and reads the changed assignments when it completes (SYNC-3 fallback)", async () => {
    const loc = await seedLocation(s);
    const token = await uploadToken(s, loc.sToken);
    const row = await s.t.allot.database.db
      .selectFrom("vpp_tokens")
      .select("notifications_enabled")
      .where("id", "=", token.id)
      .executeTakeFirstOrThrow();
    expect(row.notifications_enabled).toBe(false);
    const before = (
      await s.t.request("GET", `/beta/deviceAppManagement/vppTokens/${token.id}`, { token: s.t.adminToken })
    ).body.lastSyncDateTime;
    const client = await s.t.allot.services.tokensService.appleFor(s.tenantId, token.id);
    const write = await client.associateAssets({
      assets: [{ adamId: loc.ids.ios, pricingParam: "STDQ" }],
      serialNumbers: serials("POLL", 4),
    });
    for (const e of write.events)
      await s.t.allot.services.syncService.trackEvent(s.tenantId, token.id, e.eventId);
    await waitForSync(s, token.id, before, 15_000);
    await waitFor(
      "mirror has the new assignments",
      async () => (await mirrorAssignments(s, token.id)).length === 4,
      10_000,
    );
    expect(await mirrorAssignments(s, token.id)).toEqual(await truthAssignments(s, loc.uId));
    expect(await mirrorCounts(s, token.id)).toEqual(await truthCounts(s, loc.uId));
    const deliveries = (await s.emu.control.notifications(loc.uId)).deliveries.filter(
      (d) => d.outcome === "delivered",
    );
    expect(deliveries).toEqual([]);
  });
});
