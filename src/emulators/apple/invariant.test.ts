// Count accounting under random operation sequences (reference §16.8): for every asset,
// totalCount = assignedCount + availableCount + retiredCount, availableCount ≥ 0, and the counts
// equal what the assignment rows say — while events run in the background and after they settle.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppleEmulator } from "./index.ts";
import { type AppleClient, allPages, appleClient, startEmu, stopAll } from "./test-helpers.ts";

let emu: AppleEmulator;
beforeAll(async () => {
  emu = await startEmu({ settleMs: 4, eventSteps: 2, pageSize: 7 });
});
afterAll(stopAll);

const ASSETS = [
  { adamId: "11", totalCount: 3 },
  { adamId: "22", totalCount: 2 },
  { adamId: "33", productType: "Book" as const, totalCount: 2 },
  { adamId: "44", unlimited: true },
];
const USERS = ["u0", "u1", "u2"];
const SERIALS = ["s0", "s1", "s2", "s3"];

const subset = <T>(values: T[]) => fc.subarray(values);

const nonEmpty = <T>(values: T[]) => fc.subarray(values, { minLength: 1 });
const targets = fc.oneof(
  fc.record({ users: nonEmpty(USERS), serials: fc.constant<string[]>([]) }),
  fc.record({ users: subset(USERS), serials: nonEmpty(SERIALS) }),
);

// Weighted towards writes that succeed, so removals, refunds and retirements meet real assignments.
const command = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.constantFrom("associate" as const, "associate" as const, "disassociate" as const),
        nonEmpty(["11", "22", "44"]),
        targets,
      )
      .map(([kind, assets, t]) => ({ kind, assets, ...t })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom("associate" as const, "disassociate" as const), nonEmpty(USERS))
      .map(([kind, users]) => ({ kind, assets: ["33"], users, serials: [] as string[] })),
  },
  { weight: 2, arbitrary: targets.map((t) => ({ kind: "revoke" as const, ...t })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("purchase" as const),
      adamId: fc.constantFrom("11", "22", "33"),
      count: fc.integer({ min: -3, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("create" as const, "retire" as const),
      user: fc.constantFrom(...USERS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("flush" as const) }) },
);

type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

async function apply(uId: string, api: AppleClient, c: Command): Promise<void> {
  switch (c.kind) {
    case "associate":
    case "disassociate":
      await api.post(`/assets/${c.kind}`, {
        assets: c.assets.map((adamId) => ({ adamId })),
        clientUserIds: c.users,
        serialNumbers: c.serials,
      });
      return;
    case "revoke":
      await api.post("/assets/revoke", { clientUserIds: c.users, serialNumbers: c.serials });
      return;
    case "purchase":
      await emu.control
        .purchase(uId, { adamId: c.adamId, count: c.count })
        .catch((err: { status?: number }) => {
          if (err.status !== 409) throw err; // refunding more than is available is refused
        });
      return;
    case "create":
      await api.post("/users/create", {
        users: [{ clientUserId: c.user, managedAppleId: `${c.user}@org.example` }],
      });
      return;
    case "retire":
      await api.post("/users/retire", { users: [{ clientUserId: c.user }] });
      return;
    case "flush":
      emu.flush();
  }
}

async function checkCounts(api: AppleClient): Promise<void> {
  const { rows: assets } = await allPages(api, "/assets", "assets");
  for (const a of assets) {
    expect(a.totalCount).toBe(a.assignedCount + a.availableCount + a.retiredCount);
    expect(a.availableCount).toBeGreaterThanOrEqual(0);
    expect(a.assignedCount).toBeGreaterThanOrEqual(0);
  }
}

describe("count invariant", () => {
  it("holds under random sequences of associate / disassociate / revoke / purchase / users", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const { uId, sToken } = await emu.control.createLocation({
          orgName: "ORG",
          locationName: "fc",
          countryISO2ACode: "US",
          assets: ASSETS,
        });
        const api = appleClient(emu, sToken);
        await api.post("/users/create", {
          users: USERS.slice(0, 2).map((u) => ({ clientUserId: u, managedAppleId: `${u}@org.example` })),
        });
        emu.flush();
        for (const c of commands) {
          await apply(uId, api, c);
          await checkCounts(api);
        }
        emu.flush();
        await checkCounts(api);

        const truth = (await emu.control.assignments(uId)).assignments;
        const { rows, versionIds } = await allPages(api, "/assignments?includeUserState=true", "assignments");
        expect(new Set(versionIds).size).toBe(1);
        const key = (r: any) =>
          `${r.adamId}|${r.clientUserId ?? ""}|${r.serialNumber ?? ""}|${r.userStatus === "Retired"}`;
        expect(rows.map(key).sort()).toEqual(truth.map(key).sort());
        const { rows: assets } = await allPages(api, "/assets", "assets");
        for (const a of assets) {
          const mine = truth.filter((t) => t.adamId === a.adamId);
          expect(a.assignedCount).toBe(mine.filter((t) => t.userStatus !== "Retired").length);
          expect(a.retiredCount).toBe(mine.filter((t) => t.userStatus === "Retired").length);
          if (a.adamId === "44") expect(a.totalCount).toBe(2147483647);
        }
        // Device assignments only for device-assignable assets; user assignments only for active users.
        expect(truth.some((t) => t.adamId === "33" && t.serialNumber)).toBe(false);
        const users = (await api.get("/users?activeOnly=true")).body.users.map((u: any) => u.clientUserId);
        for (const t of truth)
          if (t.clientUserId && t.userStatus !== "Retired") expect(users).toContain(t.clientUserId);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
