// The client against the Apple emulator (src/emulators/apple), through real HTTP: the client only
// gets the emulator's base URL, exactly as it would get Apple's. The control API is the truth the
// results are compared with.
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AppleEmulator,
  type AppleEmulatorOptions,
  startAppleEmulator,
} from "../../emulators/apple/index.ts";
import { type AppleClientOptions, createAppleClient } from "./client.ts";
import { AppleMdmConflictError, AppleTokenError } from "./errors.ts";
import { makeSToken } from "./fixture-server.ts";
import type { AppleLogger } from "./transport.ts";

const emulators: AppleEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: AppleEmulatorOptions = {}): Promise<AppleEmulator> {
  const emu = await startAppleEmulator({ settleMs: 30, ...options });
  emulators.push(emu);
  return emu;
}

const apps = [
  {
    adamId: "361309726",
    name: "Pages",
    bundleId: "com.apple.Pages",
    version: "14.2",
    totalCount: 40,
    supportedPlatforms: ["iOS"],
  },
  {
    adamId: "409183694",
    name: "Keynote",
    bundleId: "com.apple.Keynote",
    version: "14.1",
    totalCount: 40,
    supportedPlatforms: ["iOS", "macOS"],
  },
  {
    adamId: "409201541",
    name: "Numbers",
    bundleId: "com.apple.Numbers",
    version: "14.0",
    totalCount: 40,
    supportedPlatforms: ["iOS"],
  },
];
const book = {
  adamId: "1000001",
  name: "Field Guide",
  productType: "Book" as const,
  totalCount: 10,
  deviceAssignable: false,
  revocable: false,
  supportedPlatforms: ["iOS"],
};

function clientOf(emu: AppleEmulator, options: Partial<AppleClientOptions> = {}) {
  return createAppleClient({
    baseUrl: emu.baseUrl,
    pollIntervalsMs: [25],
    retry: { baseDelayMs: 20, factor: 2, maxDelayMs: 300, maxAttempts: 8 },
    ...options,
  });
}

const pairKey = (a: { adamId: string; serialNumber?: string; clientUserId?: string }) =>
  `${a.adamId}|${a.serialNumber ?? ""}|${a.clientUserId ?? ""}`;

describe("Apple client against the emulator", () => {
  it("reads, writes in chunks by the emulator's limits, settles events and ends equal to the emulator's truth", async () => {
    const emu = await emulator({
      pageSize: 4,
      limits: {
        maxAssets: 2,
        maxSerialNumbers: 3,
        maxClientUserIds: 2,
        maxUsers: 2,
        maxRequestPerSecond: 50,
      },
    });
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Stockholm",
      countryISO2ACode: "SE",
      assets: [...apps, book],
    });
    const token = clientOf(emu).forToken(sToken, { mdmId: "allot-test" });

    const config = await token.getClientConfig();
    expect(config).toMatchObject({ countryISO2ACode: "SE", locationName: "Stockholm", uId });
    expect(config.tokenExpirationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    await token.setClientConfig({ mdmInfo: { id: "allot-test", name: "Allot", metadata: "test" } });
    expect(token.mdmInfo?.id).toBe("allot-test");

    const serials = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"];
    const written = await token.associateAssets({
      assets: apps.map((a) => ({ adamId: a.adamId, pricingParam: "STDQ" })),
      serialNumbers: serials,
    });
    expect(written.events).toHaveLength(2 * 3);
    for (const e of written.events)
      expect((await token.waitForEvent(e.eventId)).eventStatus).toBe("COMPLETE");

    const created = await token.createUsers([
      { clientUserId: "u1", email: "u1@contoso.test" },
      { clientUserId: "u2" },
      { clientUserId: "u3" },
    ]);
    expect(created.events).toHaveLength(2);
    for (const e of created.events) await token.waitForEvent(e.eventId);
    const users = await token.listUsers({ activeOnly: true });
    // Users land in the order their (asynchronous) creation events settle; compare as a set.
    const listed = users.users.map((u) => [u.clientUserId, u.status, Boolean(u.inviteCode)] as const);
    expect([...listed].sort((a, b) => a[0].localeCompare(b[0]))).toEqual([
      ["u1", "Registered", true],
      ["u2", "Registered", true],
      ["u3", "Registered", true],
    ]);

    const books = await token.associatePairs(
      ["u1", "u2", "u3"].map((clientUserId) => ({ adamId: book.adamId, pricingParam: "STDQ", clientUserId })),
    );
    expect(books.events).toHaveLength(2);
    for (const e of books.events) await token.waitForEvent(e.eventId);
    const released = await token.disassociatePairs([
      { adamId: apps[0].adamId, pricingParam: "STDQ", serialNumber: "S1" },
      { adamId: apps[1].adamId, pricingParam: "STDQ", serialNumber: "S1" },
    ]);
    for (const e of released.events) await token.waitForEvent(e.eventId);
    const revoked = await token.revokeAssets({ serialNumbers: ["S7"] });
    for (const e of revoked.events) await token.waitForEvent(e.eventId);

    const mine = await token.listAssignments();
    const truth = await emu.control.assignments(uId);
    expect(mine.assignments.map(pairKey).sort()).toEqual(truth.assignments.map(pairKey).sort());
    expect(mine.assignments).toHaveLength(3 * 7 - 2 - 3 + 3);
    const assets = await token.listAssets();
    const counts = Object.fromEntries(assets.assets.map((a) => [a.adamId, a.assignedCount]));
    expect(counts).toEqual({
      [apps[0].adamId]: 5,
      [apps[1].adamId]: 5,
      [apps[2].adamId]: 6,
      [book.adamId]: 3,
    });
    for (const a of assets.assets)
      expect(a.totalCount).toBe(a.assignedCount + a.availableCount + a.retiredCount);

    const events = await emu.control.events(uId);
    expect(events.events.filter((e) => e.eventType === "ASSOCIATE")).toHaveLength(6 + 2);
  });

  it("metadata comes from the storefront of the token's country; an app not sold there is an empty result", async () => {
    const emu = await emulator({ limits: { maxRequestPerSecond: 100 } });
    const { sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Stockholm",
      countryISO2ACode: "SE",
      assets: [...apps, book],
    });
    const token = clientOf(emu).forToken(sToken);
    const se = await token.lookupMetadata([...apps.map((a) => a.adamId), book.adamId]);
    expect(se.country).toBe("se");
    expect(se.notFound).toEqual([]);
    expect(se.items.map((m) => [m.adamId, m.name, m.bundleId, m.version])).toEqual([
      ...apps.map((a) => [a.adamId, a.name, a.bundleId, a.version]),
      [book.adamId, book.name, undefined, expect.any(String)],
    ]);
    expect(se.items[1].platforms).toEqual(["iOS", "macOS"]);
    for (const m of se.items) expect(m.iconUrl).toMatch(/^https?:\/\//);
    const fr = await token.lookupMetadata([apps[0].adamId], { country: "FR" });
    expect(fr).toEqual({ country: "fr", items: [], notFound: [apps[0].adamId] });
    await emu.control.setVersion(apps[0].adamId, "15.0");
    expect((await token.lookupMetadata([apps[0].adamId])).items[0].version).toBe("15.0");
  });

  it("token errors: revoked after renewal (9625), expired (9621), unknown with HTTP 200 (9622)", async () => {
    const emu = await emulator();
    const client = clientOf(emu);
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "A",
      countryISO2ACode: "US",
      assets: apps,
    });
    const { sToken: renewed } = await emu.control.renew(uId);
    const revoked = await client
      .forToken(sToken)
      .getAssets()
      .catch((e: unknown) => e);
    expect(revoked).toBeInstanceOf(AppleTokenError);
    expect(revoked).toMatchObject({ reason: "revoked", errorNumber: 9625 });
    expect((await client.forToken(renewed).getAssets()).assets).toHaveLength(3);

    const expired = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "B",
      countryISO2ACode: "US",
      expDate: "2020-01-01T00:00:00+0000",
    });
    await expect(client.forToken(expired.sToken).getClientConfig()).rejects.toMatchObject({
      name: "AppleTokenError",
      reason: "expired",
      errorNumber: 9621,
    });

    const unknown = await client
      .forToken(makeSToken("nobody"))
      .getClientConfig()
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(AppleTokenError);
    expect(unknown).toMatchObject({ reason: "invalid", errorNumber: 9622, status: 200 });
  });

  it("429 storm: the client stays under the emulator's rate limit (no refusal but the injected ones) and does all the work once", async () => {
    const emu = await emulator({ pageSize: 8, limits: { maxRequestPerSecond: 30, maxAssets: 1 } });
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Storm",
      countryISO2ACode: "US",
      assets: apps,
    });
    await emu.control.seedAssignments(uId, { generate: { count: 80, devices: 40 } });
    await emu.control.setFaults({ failNext: [{ status: 429, errorNumber: 9646, count: 6 }] });
    const refusals: number[] = [];
    const logger: AppleLogger = {
      debug() {},
      info() {},
      error() {},
      warn: (obj) => void ((obj as { errorNumber?: number }).errorNumber === 9646 && refusals.push(1)),
    };
    const token = clientOf(emu, { logger }).forToken(sToken);
    const started = performance.now();
    const [listed, written] = await Promise.all([
      token.listAssignments(),
      token.associateAssets({ assets: apps.map((a) => ({ adamId: a.adamId })), serialNumbers: ["X1", "X2"] }),
    ]);
    const elapsed = performance.now() - started;
    // the writes may land during the walk (it then restarts): 80 seeded, up to 6 new, never a duplicate
    expect(listed.assignments.length).toBeGreaterThanOrEqual(80);
    expect(new Set(listed.assignments.map(pairKey)).size).toBe(listed.assignments.length);
    expect(written.events).toHaveLength(3);
    for (const e of written.events) await token.waitForEvent(e.eventId);
    expect((await token.listAssignments()).assignments).toHaveLength(86);
    expect(refusals).toHaveLength(6);
    // 10 pages + 3 writes + 6 refused attempts, 30 per second: the last leaves ≥ 18/30 s after the first
    expect(elapsed).toBeGreaterThanOrEqual(600);
    const events = await emu.control.events(uId);
    expect(events.events.filter((e) => e.eventType === "ASSOCIATE")).toHaveLength(3);
  });

  it("503 with Retry-After: the client waits as told (measured)", async () => {
    const emu = await emulator();
    const { sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "A",
      countryISO2ACode: "US",
      assets: apps,
    });
    const token = clientOf(emu).forToken(sToken);
    await token.getClientConfig();
    await emu.control.setFaults({
      failNext: [{ status: 503, errorNumber: 9729, retryAfter: 1, count: 1, path: "/assets" }],
    });
    const started = performance.now();
    expect((await token.getAssets()).assets).toHaveLength(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("another MDM claiming the token is noticed on the next response and writes stop", async () => {
    const emu = await emulator();
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "A",
      countryISO2ACode: "US",
      assets: apps,
    });
    const conflicts: string[] = [];
    const token = clientOf(emu).forToken(sToken, { onMdmConflict: (info) => conflicts.push(info.name) });
    await token.setClientConfig({ mdmInfo: { id: "allot-1", name: "Allot", metadata: "t" } });
    await emu.control.claim(uId, { mdmInfo: { id: "other-1", name: "Other MDM", metadata: "x" } });
    await token.getAssets();
    expect(token.mdmConflict).toBe(true);
    expect(conflicts).toEqual(["Other MDM"]);
    const before = (await emu.control.events(uId)).events.length;
    await expect(
      token.associateAssets({ assets: [{ adamId: apps[0].adamId }], serialNumbers: ["S1"] }),
    ).rejects.toBeInstanceOf(AppleMdmConflictError);
    expect((await emu.control.events(uId)).events).toHaveLength(before);
  });

  it("incremental listing from a pinned versionId: changes only; removals flagged when the emulator is told to", async () => {
    const emu = await emulator({ sinceVersionRemovals: "flag", limits: { maxRequestPerSecond: 100 } });
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "A",
      countryISO2ACode: "US",
      assets: apps,
    });
    await emu.control.seedAssignments(uId, {
      assets: [{ adamId: apps[0].adamId }],
      serialNumbers: ["A", "B"],
    });
    const token = clientOf(emu).forToken(sToken);
    const full = await token.listAssignments();
    expect(full.assignments).toHaveLength(2);
    const gone = await token.disassociatePairs([
      { adamId: apps[0].adamId, pricingParam: "STDQ", serialNumber: "A" },
    ]);
    const added = await token.associatePairs([
      { adamId: apps[1].adamId, pricingParam: "STDQ", serialNumber: "C" },
    ]);
    for (const e of [...gone.events, ...added.events]) await token.waitForEvent(e.eventId);
    const since = await token.listAssignments({ sinceVersionId: full.versionId });
    expect(since.assignments.map((a) => `${pairKey(a)}${a.removed ? " removed" : ""}`).sort()).toEqual([
      `${apps[0].adamId}|A| removed`,
      `${apps[1].adamId}|C|`,
    ]);
    expect(since.versionId).not.toBe(full.versionId);
  });

  it("a walk restarts when assignments change under it and ends equal to the truth", async () => {
    const emu = await emulator({ pageSize: 3, latencyMs: 5, limits: { maxRequestPerSecond: 100 } });
    const { uId, sToken } = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "A",
      countryISO2ACode: "US",
      assets: apps,
    });
    await emu.control.seedAssignments(uId, { generate: { count: 30, devices: 30 } });
    const token = clientOf(emu).forToken(sToken);
    let changed = false;
    let seen: string[] = [];
    const restarts: number[] = [];
    const result = await token.walkAssignments(
      {},
      {
        onPage: async (items, page) => {
          seen.push(...items.map(pairKey));
          if (page.currentPageIndex === 1 && !changed) {
            changed = true;
            await emu.control.seedAssignments(uId, {
              generate: { count: 5, devices: 5, serialPrefix: "NEW" },
            });
          }
        },
        onRestart: (n) => {
          restarts.push(n);
          seen = [];
        },
      },
    );
    expect(restarts).toEqual([1]);
    const truth = await emu.control.assignments(uId);
    expect(seen.sort()).toEqual(truth.assignments.map(pairKey).sort());
    expect(result.items).toBe(35);
    // the pinned version works as sinceVersionId: nothing changed since
    expect((await token.listAssignments({ sinceVersionId: result.versionId })).assignments).toEqual([]);
  });
});
