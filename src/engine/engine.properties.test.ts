// Property-based tests (fast-check) of the engine's invariants: never over total (ENG-1), deterministic
// (DESIGN invariant 5), idempotent (invariant 2), exclusion wins (ASG-1), waiting holders served before
// later entitlements (ENG-2), a preview equals applying the change (ENG-7), an incremental plan equals
// the full plan, and entitlement times equal a brute-force enumeration of nesting paths.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyAppleUserOps, applyPlan } from "./apply.ts";
import { buildDirectoryIndex, expandGroup } from "./directory.ts";
import { applyOnly, assignment, device, HOUR, runToSteady, T0, user, type World } from "./engine.fixtures.ts";
import { planApp, planAppIncremental, queueCompare } from "./plan.ts";
import { applyChange, type PlanChange, previewChange } from "./preview.ts";
import { sliceForIncremental } from "./slice.ts";
import {
  type AppleUserState,
  CONSUMING_STATES,
  type DeviceInstall,
  type DeviceOs,
  type DirectoryInput,
  type EngineAssignment,
  type HoldingDecision,
  type HoldingState,
  type InstallState,
  type Intent,
  type LedgerHolding,
  LICENSED_STATES,
  type MembershipEdge,
  type PlanOptions,
  type TargetKind,
} from "./types.ts";

const NOW = T0 + 100 * HOUR;
const RUNS = Number(process.env.ENGINE_PROPERTY_RUNS ?? 300);
const t = (k: number) => T0 + k * HOUR;

// ---------------------------------------------------------------------------------------------
// Arbitraries: small worlds with many collisions (few groups, few distinct times, odd ledgers).

const arbUser = fc.record({
  enabled: fc.constantFrom(true, true, true, false),
  deleted: fc.constantFrom(false, false, false, false, true),
  created: fc.integer({ min: 0, max: 4 }),
});
const arbDevice = fc.record({
  os: fc.constantFrom<DeviceOs>("iOS", "iOS", "iPadOS", "macOS", "Windows"),
  user: fc.integer({ min: -1, max: 4 }),
  blocked: fc.constantFrom(false, false, false, true),
  managed: fc.constantFrom(true, true, true, true, false),
  noSerial: fc.constantFrom(false, false, false, false, false, true),
  created: fc.integer({ min: 0, max: 4 }),
});
const arbEdge = fc.record({
  g: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom<"user" | "device" | "group">("user", "device", "device", "group"),
  m: fc.integer({ min: 0, max: 40 }),
  t: fc.integer({ min: 0, max: 5 }),
});
const arbAssignment = fc.record({
  kind: fc.constantFrom<TargetKind>(
    "group",
    "group",
    "group",
    "exclusionGroup",
    "allLicensedUsers",
    "allDevices",
  ),
  g: fc.constantFrom(0, 0, 1, 1, 2, 3, 4),
  intent: fc.constantFrom<Intent>("required", "required", "required", "available", "uninstall"),
  dev: fc.boolean(),
  uodr: fc.boolean(),
  prevent: fc.boolean(),
});
const arbHolding = fc.record({
  type: fc.constantFrom<"user" | "device">("user", "device"),
  i: fc.integer({ min: 0, max: 9 }),
  state: fc.constantFrom<HoldingState>(
    "pendingAssign",
    "assigned",
    "assigned",
    "pendingRelease",
    "released",
    "failed",
    "waiting",
  ),
  oldKey: fc.constantFrom(false, false, false, false, true),
  since: fc.integer({ min: 0, max: 99 }),
});

const SMALL = { users: 5, devices: 7, edges: 24, total: 5, min: 1, focus: false };
const CROWDED = { users: 8, devices: 24, edges: 60, total: 10, min: 4, focus: false };
/** crowded and licensable: a usable token, an assignable iOS/macOS app — queues and serving */
const FOCUSED = { ...CROWDED, focus: true };
const arbSizes = fc.constantFrom(SMALL, CROWDED, FOCUSED);
const specOf = (z: typeof SMALL) =>
  fc.record({
    users: fc.array(arbUser, { minLength: z.min, maxLength: z.users }),
    devices: fc.array(arbDevice, { minLength: z.min * 3, maxLength: z.devices }),
    edges: fc.array(arbEdge, { minLength: z.min * 6, maxLength: z.edges }),
    apple: fc.array(
      fc.record({
        state: fc.constantFrom<AppleUserState>(
          "none",
          "registered",
          "invited",
          "associated",
          "associated",
          "associated",
          "associated",
          "retired",
        ),
        ext: fc.constantFrom(0, 0, 0, 2, 4),
      }),
      { minLength: z.users, maxLength: z.users },
    ),
    total: fc.integer({ min: 0, max: z.total }),
    ext: fc.integer({ min: 0, max: 1 }),
    deviceAssignable: fc.constantFrom(true, true, true, false),
    book: fc.constantFrom(false, false, false, false, false, true),
    platforms: fc.constantFrom(["iOS", "macOS"], ["iOS", "macOS"], ["iOS"], ["macOS"], []),
    token: fc.constantFrom(
      "usable",
      "usable",
      "usable",
      "usable",
      "usable",
      "usable",
      "expired",
      "assignedToExternalMDM",
    ) as fc.Arbitrary<"usable" | "expired" | "assignedToExternalMDM">,
    assignments: fc.array(arbAssignment, { minLength: 1, maxLength: 4 }),
    requests: fc.array(
      fc.record({
        d: fc.integer({ min: 0, max: 6 }),
        t: fc.integer({ min: 0, max: 5 }),
        other: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
    installs: fc.array(
      fc.record({
        d: fc.integer({ min: 0, max: 6 }),
        state: fc.constantFrom<InstallState>(
          "installPending",
          "installed",
          "removePending",
          "removed",
          "failed",
        ),
        since: fc.integer({ min: 0, max: 99 }),
      }),
      { maxLength: 4 },
    ),
    holdings: fc.array(arbHolding, { maxLength: 6 }),
    focus: fc.constant(z.focus),
    timeoutHours: fc.constantFrom(1, 200),
    retryFailed: fc.boolean(),
  });
type WorldSpec = ReturnType<typeof specOf> extends fc.Arbitrary<infer T> ? T : never;

function buildWorld(s: WorldSpec): { world: World; options: PlanOptions } {
  const users = s.users.map((u, i) =>
    user(i + 1, { id: `u${i}`, enabled: u.enabled, deleted: u.deleted, createdAt: t(u.created) }),
  );
  const devices = s.devices.map((d, i) =>
    device(i + 1, {
      id: `d${i}`,
      operatingSystem: d.os,
      userId: d.user >= 0 && d.user < users.length ? `u${d.user}` : null,
      itunesStoreBlocked: d.blocked,
      managed: d.managed,
      serialNumber: d.noSerial ? null : `SN${i}`,
      createdAt: t(d.created),
    }),
  );
  const seen = new Set<string>();
  const memberships: MembershipEdge[] = [];
  for (const e of s.edges) {
    const memberId =
      e.kind === "user"
        ? `u${e.m % users.length}`
        : e.kind === "device"
          ? `d${e.m % devices.length}`
          : `g${e.m % 4}`;
    const k = `g${e.g}|${memberId}`;
    if (seen.has(k) || memberId === `g${e.g}`) continue;
    seen.add(k);
    memberships.push({ groupId: `g${e.g}`, memberId, memberType: e.kind, joinedAt: t(e.t) });
  }
  const appleUsers = s.apple
    .map((a, i) => ({
      tokenId: "tok1",
      userId: `u${i}`,
      state: a.state,
      clientUserId: `c-u${i}`,
      externalDeviceCount: a.ext,
    }))
    .filter((a, i) => i < users.length && a.state !== "none");
  const assignments: EngineAssignment[] = s.assignments.map((a, i) =>
    assignment(
      `a${i}`,
      i + 1,
      a.kind,
      a.kind === "group" || a.kind === "exclusionGroup" ? `g${a.g}` : null,
      a.intent,
      {
        useDeviceLicensing: a.dev,
        uninstallOnDeviceRemoval: a.uodr,
        preventAutoAppUpdate: a.prevent,
      },
    ),
  );
  const installSeen = new Set<number>();
  const installs: DeviceInstall[] = s.installs
    .filter((x) => x.d < devices.length && !installSeen.has(x.d) && installSeen.add(x.d))
    .map((x) => ({ deviceId: `d${x.d}`, state: x.state, since: t(x.since) }));
  const requests = s.requests
    .filter((r) => r.d < devices.length)
    .map((r) => ({ deviceId: `d${r.d}`, userId: r.other ? "u0" : null, requestedAt: t(r.t) }));
  const holdSeen = new Set<string>();
  const holdings: LedgerHolding[] = [];
  for (const h of s.holdings) {
    const id = `${h.type === "user" ? "u" : "d"}${h.i}`;
    if (holdSeen.has(id)) continue;
    holdSeen.add(id);
    const storeKey = h.type === "user" ? `c-${id}` : h.oldKey ? "OLD" : `SN${h.i}`;
    holdings.push({
      holderType: h.type,
      holderId: id,
      state: h.state,
      reason: h.state === "failed" ? "storeError9609" : h.state === "waiting" ? "insufficientLicenses" : null,
      licenseType: h.type,
      since: t(h.since),
      storeKey,
      holderSeq: h.i + 1,
    });
  }
  return {
    world: {
      directory: { users, devices, memberships, appleUsers },
      input: {
        app: {
          id: "app1",
          tokenId: "tok1",
          totalCount: s.total,
          externallyConsumed: s.ext,
          deviceAssignable: s.focus || (s.deviceAssignable && !s.book),
          revocable: s.focus || !s.book,
          productType: s.book && !s.focus ? "Book" : "App",
          supportedPlatforms: s.focus ? ["iOS", "macOS"] : s.platforms,
          token: s.focus ? "usable" : s.token,
          unitPrice: 3,
        },
        assignments,
        holdings,
        installRequests: requests,
        installs,
      },
    },
    options: {
      now: NOW,
      uninstallTimeoutMs: s.timeoutHours * HOUR,
      failedRetryMs: s.retryFailed ? 10 * HOUR : null,
    },
  };
}
const arbWorldSpec = arbSizes.chain(specOf);
const arbWorld = arbWorldSpec.map(buildWorld);
const arbFocusedWorld = specOf(FOCUSED).map(buildWorld);

const plan = (w: World, o: PlanOptions) => planApp(buildDirectoryIndex(w.directory), w.input, o);
const hkey = (d: { holderType: string; holderId: string }) => `${d.holderType}:${d.holderId}`;
const ledgerFields = (d: HoldingDecision) => ({
  state: d.state,
  reason: d.reason,
  storeKey: d.storeKey,
  entitledAt: d.entitledAt,
  changed: d.changed,
});

function shuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let x = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Transitive members of a group by plain BFS (no times), for the exclusion property. */
function membersOf(dir: DirectoryInput, groupId: string): Set<string> {
  const out = new Set<string>();
  const seen = new Set([groupId]);
  let frontier = [groupId];
  while (frontier.length) {
    const next: string[] = [];
    for (const g of frontier)
      for (const e of dir.memberships)
        if (e.groupId === g) {
          if (e.memberType === "group") {
            if (!seen.has(e.memberId)) {
              seen.add(e.memberId);
              next.push(e.memberId);
            }
          } else out.add(`${e.memberType}:${e.memberId}`);
        }
    frontier = next;
  }
  return out;
}

/** Brute force: min over simple paths of max joinedAt. */
function bruteTimes(dir: DirectoryInput, groupId: string): Map<string, number> {
  const best = new Map<string, number>();
  const walk = (g: string, tmax: number, onPath: Set<string>) => {
    for (const e of dir.memberships) {
      if (e.groupId !== g) continue;
      const tt = Math.max(tmax, e.joinedAt);
      if (e.memberType === "group") {
        if (!onPath.has(e.memberId)) {
          onPath.add(e.memberId);
          walk(e.memberId, tt, onPath);
          onPath.delete(e.memberId);
        }
      } else {
        const k = `${e.memberType}:${e.memberId}`;
        if (!best.has(k) || tt < best.get(k)!) best.set(k, tt);
      }
    }
  };
  walk(groupId, Number.NEGATIVE_INFINITY, new Set([groupId]));
  return best;
}

/** A steady world: planned, applied and settled until there is nothing left to do. */
function steady(w: World, o: PlanOptions): World {
  return runToSteady(w, o, 12).world;
}

// ---------------------------------------------------------------------------------------------

describe("engine properties", () => {
  it("entitlement times equal the brute-force minimax over nesting paths", () => {
    fc.assert(
      fc.property(arbWorld, ({ world }) => {
        const ix = buildDirectoryIndex(world.directory);
        for (const g of ["g0", "g1", "g2", "g3"]) {
          const e = expandGroup(ix, g);
          const got = new Map<string, number>();
          for (let k = 0; k < e.principals.length; k++) {
            const p = e.principals[k];
            const id = p < ix.nUsers ? `user:${ix.userIds[p]}` : `device:${ix.deviceIds[p - ix.nUsers]}`;
            got.set(id, e.times[k]);
          }
          expect(got).toEqual(bruteTimes(world.directory, g));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never plans more consuming holdings than the app's total (ENG-1)", () => {
    fc.assert(
      fc.property(arbWorld, ({ world, options }) => {
        const p = plan(world, options);
        const capacity = Math.max(0, world.input.app.totalCount - (world.input.app.externallyConsumed ?? 0));
        const before = world.input.holdings.filter((h) => CONSUMING_STATES.has(h.state)).length;
        const after = applyPlan(world.input, p, NOW).holdings;
        const consuming = after.filter((h) => CONSUMING_STATES.has(h.state)).length;
        const licensed = after.filter((h) => LICENSED_STATES.has(h.state)).length;
        expect(consuming).toBe(p.counts.consuming);
        expect(licensed).toBe(p.counts.licensed);
        expect(consuming).toBeLessThanOrEqual(Math.max(capacity, before));
        // (an irrevocable asset cannot give back licenses the store took away from the count)
        if (world.input.app.token === "usable" && world.input.app.revocable)
          expect(licensed).toBeLessThanOrEqual(capacity);
        if (p.operations.some((o) => o.kind === "associate")) expect(consuming).toBeLessThanOrEqual(capacity);
      }),
      { numRuns: RUNS },
    );
  });

  it("is deterministic: the same inputs in any order give the same plan and operation order", () => {
    fc.assert(
      fc.property(arbWorld, fc.integer(), ({ world, options }, seed) => {
        const d = world.directory;
        const i = world.input;
        const shuffled: World = {
          directory: {
            users: shuffle(d.users, seed),
            devices: shuffle(d.devices, seed + 1),
            memberships: shuffle(d.memberships, seed + 2),
            appleUsers: shuffle(d.appleUsers ?? [], seed + 3),
          },
          input: {
            ...i,
            assignments: shuffle(i.assignments, seed + 4),
            holdings: shuffle(i.holdings, seed + 5),
            installRequests: shuffle(i.installRequests ?? [], seed + 6),
            installs: shuffle(i.installs ?? [], seed + 7),
          },
        };
        expect(plan(shuffled, options)).toEqual(plan(world, options));
      }),
      { numRuns: RUNS },
    );
  });

  it("is idempotent: applying a plan and planning again yields no operation and no change", () => {
    fc.assert(
      fc.property(arbWorld, ({ world, options }) => {
        const p1 = plan(world, options);
        const p2 = plan(applyOnly(world, p1, NOW), options);
        expect(p2.operations).toEqual([]);
        expect(p2.holdings.filter((h) => h.changed)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it("exclusion wins: an excluded user or device is never licensed", () => {
    fc.assert(
      fc.property(arbWorld, ({ world, options }) => {
        fc.pre(world.input.app.token === "usable");
        const excluded = new Set<string>();
        for (const a of world.input.assignments)
          if (a.target.kind === "exclusionGroup")
            for (const m of membersOf(world.directory, a.target.groupId!)) excluded.add(m);
        const p = plan(world, options);
        for (const d of p.holdings) {
          if (!excluded.has(hkey(d))) continue;
          // an irrevocable license (books) stays where it is, flagged notRevocable; nothing else stays
          if (!world.input.app.revocable && d.reason === "notRevocable")
            expect(d.state).toBe(d.previousState);
          else expect(d.state === "pendingAssign" || d.state === "assigned").toBe(false);
          if (d.intent !== null) expect(d.intent).toBe("excluded");
        }
        for (const o of p.operations) if (o.kind === "associate") expect(excluded.has(hkey(o))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("a waiting holder is served before any later entitlement, and bought licenses go to the queue's head", () => {
    fc.assert(
      fc.property(arbWorld, fc.integer({ min: 1, max: 3 }), ({ world, options }, extra) => {
        fc.pre(world.input.app.token === "usable");
        const key = (d: HoldingDecision) => ({
          time: d.entitledAt ?? Number.MAX_VALUE,
          seq: d.holderSeq,
          type: d.holderType,
          id: d.holderId,
        });
        const p = plan(world, options);
        const served = new Set(p.operations.flatMap((o) => (o.kind === "associate" ? [hkey(o)] : [])));
        const servedD = p.holdings.filter((d) => served.has(hkey(d)));
        const waiting = p.holdings.filter(
          (d) => d.state === "waiting" && d.reason === "insufficientLicenses",
        );
        for (const s of servedD)
          for (const w of waiting) expect(queueCompare(key(s), key(w))).toBeLessThan(0);

        // from a steady state, buying `extra` licenses serves exactly the first `extra` waiting, in order
        const st = steady(world, options);
        const queue = st.input.holdings
          .filter((h) => h.state === "waiting" && h.reason === "insufficientLicenses")
          .map((h) => ({
            time: h.entitledAt ?? Number.MAX_VALUE,
            seq: h.holderSeq ?? 0,
            type: h.holderType,
            id: h.holderId,
          }))
          .sort(queueCompare);
        const more = plan(
          {
            ...st,
            input: { ...st.input, app: { ...st.input.app, totalCount: st.input.app.totalCount + extra } },
          },
          options,
        );
        const got = more.operations.flatMap((o) => (o.kind === "associate" ? [hkey(o)] : []));
        const consuming = st.input.holdings.filter((h) => CONSUMING_STATES.has(h.state)).length;
        const capacity = Math.max(
          0,
          st.input.app.totalCount + extra - (st.input.app.externallyConsumed ?? 0),
        );
        const n = Math.max(0, Math.min(queue.length, capacity - consuming));
        expect(got).toEqual(queue.slice(0, n).map((q) => `${q.type}:${q.id}`));
      }),
      { numRuns: RUNS },
    );
  });

  it("a preview equals what applying the same change does (ENG-7)", () => {
    const arbChange = fc.oneof(
      arbAssignment.chain((a0) =>
        fc.array(arbAssignment, { maxLength: 3 }).map(
          (rest): PlanChange => ({
            kind: "assignments",
            assignments: [a0, ...rest].map((a, i) =>
              assignment(
                `n${i}`,
                10 + i,
                a.kind,
                a.kind === "group" || a.kind === "exclusionGroup" ? `g${a.g}` : null,
                a.intent,
                {
                  useDeviceLicensing: a.dev,
                },
              ),
            ),
          }),
        ),
      ),
      fc
        .record({ add: fc.array(arbEdge, { maxLength: 3 }), remove: fc.array(arbEdge, { maxLength: 3 }) })
        .map(
          (m): PlanChange => ({
            kind: "membership",
            add: m.add.map((e) => ({
              groupId: `g${e.g}`,
              memberId:
                e.kind === "user"
                  ? `u${e.m % 5}`
                  : e.kind === "device"
                    ? `d${e.m}`
                    : `g${(e.g + 1 + (e.m % 3)) % 4}`,
              memberType: e.kind,
              joinedAt: t(e.t + 10),
            })),
            remove: m.remove.map((e) => ({
              groupId: `g${e.g}`,
              memberId: e.kind === "user" ? `u${e.m % 5}` : `d${e.m}`,
            })),
          }),
        ),
      fc.integer({ min: 0, max: 8 }).map((n): PlanChange => ({ kind: "purchaseCount", totalCount: n })),
    );
    fc.assert(
      fc.property(arbWorld, arbChange, ({ world, options }, change) => {
        const st = steady(world, options);
        const pv = previewChange({ directory: st.directory, app: st.input }, change, options);
        const next = applyChange(st.directory, st.input, change);
        const p = planApp(buildDirectoryIndex(next.directory), next.app, options);
        const l1 = applyPlan(next.app, p, NOW).holdings;
        const licensed0 = new Set(st.input.holdings.filter((h) => LICENSED_STATES.has(h.state)).map(hkey));
        const licensed1 = new Set(l1.filter((h) => LICENSED_STATES.has(h.state)).map(hkey));
        expect(new Set(pv.licensed.map((h) => `${h.type}:${h.id}`))).toEqual(
          new Set([...licensed1].filter((k) => !licensed0.has(k))),
        );
        expect(new Set(pv.released.map((h) => `${h.type}:${h.id}`))).toEqual(
          new Set([...licensed0].filter((k) => !licensed1.has(k))),
        );
        expect(new Set(pv.waiting.map((h) => `${h.type}:${h.id}:${h.reason}`))).toEqual(
          new Set(l1.filter((h) => h.state === "waiting").map((h) => `${hkey(h)}:${h.reason}`)),
        );
        expect(pv.counts.licensed).toBe(licensed1.size);
      }),
      { numRuns: RUNS },
    );
  });

  it("an incremental plan of the changed holders equals the full plan", () => {
    const arbMutation = fc.record({
      kind: fc.constantFrom(
        "addEdge",
        "removeEdge",
        "nest",
        "toggleUser",
        "deleteUser",
        "primaryUser",
        "toggleDevice",
        "associate",
        "request",
        "lostLicense",
        "releaseConfirmed",
        "releaseConfirmed",
      ),
      a: fc.integer({ min: 0, max: 6 }),
      b: fc.integer({ min: 0, max: 6 }),
      c: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.oneof(arbWorld, arbFocusedWorld), arbMutation, ({ world, options }, m) => {
        const st = steady(world, options);
        const { dir, input, changed } = mutate(st, m, options);
        const full = plan({ directory: dir, input }, options);
        const sl = sliceForIncremental(dir, input, changed);
        const inc = planAppIncremental(buildDirectoryIndex(sl.directory), sl.input, options);
        expect(inc.operations).toEqual(full.operations);
        const fullBy = new Map(full.holdings.map((d) => [hkey(d), d]));
        const incBy = new Map(inc.holdings.map((d) => [hkey(d), d]));
        for (const d of full.holdings) if (d.changed) expect(incBy.has(hkey(d))).toBe(true);
        for (const d of inc.holdings) {
          const f = fullBy.get(hkey(d));
          if (!f) {
            expect(d.state).toBeNull();
            continue;
          }
          expect(ledgerFields(d)).toEqual(ledgerFields(f));
        }
        expect(inc.counts.consuming).toBe(full.counts.consuming);
        expect(inc.counts.licensed).toBe(full.counts.licensed);
      }),
      { numRuns: RUNS },
    );
  });
});

type Mutation = { kind: string; a: number; b: number; c: number };

/** One entitlement-relevant change and the principals it touches (what the directory's change log records). */
function mutate(
  w: World,
  m: Mutation,
  options: PlanOptions,
): { dir: DirectoryInput; input: World["input"]; changed: { users: string[]; devices: string[] } } {
  const dir = w.directory;
  let input = w.input;
  const users: string[] = [];
  const devices: string[] = [];
  let next: DirectoryInput = dir;
  const userAt = (i: number) => dir.users[i % Math.max(1, dir.users.length)];
  const deviceAt = (i: number) => dir.devices[i % Math.max(1, dir.devices.length)];
  switch (m.kind) {
    case "addEdge": {
      const asUser = m.b % 2 === 0;
      const member = asUser ? userAt(m.a) : deviceAt(m.a);
      if (!member) break;
      const edge: MembershipEdge = {
        groupId: `g${m.b % 4}`,
        memberId: member.id,
        memberType: asUser ? "user" : "device",
        joinedAt: t(m.c + 20),
      };
      if (dir.memberships.some((e) => e.groupId === edge.groupId && e.memberId === edge.memberId)) break;
      next = { ...dir, memberships: [...dir.memberships, edge] };
      (asUser ? users : devices).push(member.id);
      break;
    }
    case "removeEdge": {
      const leaf = dir.memberships.filter((e) => e.memberType !== "group");
      if (leaf.length === 0) break;
      const e = leaf[m.a % leaf.length];
      next = { ...dir, memberships: dir.memberships.filter((x) => x !== e) };
      (e.memberType === "user" ? users : devices).push(e.memberId);
      break;
    }
    case "nest": {
      // add or remove a group-in-group edge: every member of the child group is changed
      const parent = `g${m.a % 4}`;
      const child = `g${m.b % 4}`;
      if (parent === child) break;
      const existing = dir.memberships.find((e) => e.groupId === parent && e.memberId === child);
      next = existing
        ? { ...dir, memberships: dir.memberships.filter((e) => e !== existing) }
        : {
            ...dir,
            memberships: [
              ...dir.memberships,
              { groupId: parent, memberId: child, memberType: "group", joinedAt: t(m.c + 20) },
            ],
          };
      for (const k of membersOf(dir, child)) {
        const [type, id] = k.split(":");
        (type === "user" ? users : devices).push(id);
      }
      break;
    }
    case "toggleUser": {
      const u = userAt(m.a);
      if (!u) break;
      next = { ...dir, users: dir.users.map((x) => (x === u ? { ...x, enabled: !x.enabled } : x)) };
      users.push(u.id);
      break;
    }
    case "deleteUser": {
      const u = userAt(m.a);
      if (!u) break;
      // the directory deletes the user, its memberships, and clears its devices' primary user
      const own = dir.devices.filter((d) => d.userId === u.id);
      next = {
        ...dir,
        users: dir.users.filter((x) => x !== u),
        devices: dir.devices.map((d) => (d.userId === u.id ? { ...d, userId: null } : d)),
        memberships: dir.memberships.filter((e) => e.memberId !== u.id),
        appleUsers: (dir.appleUsers ?? []).filter((a) => a.userId !== u.id),
      };
      users.push(u.id);
      devices.push(...own.map((d) => d.id));
      break;
    }
    case "primaryUser": {
      const d = deviceAt(m.a);
      if (!d) break;
      const nu = m.b < dir.users.length ? dir.users[m.b].id : null;
      next = { ...dir, devices: dir.devices.map((x) => (x === d ? { ...x, userId: nu } : x)) };
      devices.push(d.id);
      if (d.userId) users.push(d.userId);
      if (nu) users.push(nu);
      break;
    }
    case "toggleDevice": {
      const d = deviceAt(m.a);
      if (!d) break;
      const change =
        m.b % 3 === 0
          ? { managed: !d.managed }
          : m.b % 3 === 1
            ? { itunesStoreBlocked: !d.itunesStoreBlocked }
            : { serialNumber: `NEW${m.c}` };
      next = { ...dir, devices: dir.devices.map((x) => (x === d ? { ...x, ...change } : x)) };
      devices.push(d.id);
      break;
    }
    case "associate": {
      const u = userAt(m.a);
      if (!u) break;
      const rest = (dir.appleUsers ?? []).filter((a) => a.userId !== u.id);
      next = {
        ...dir,
        appleUsers: [
          ...rest,
          { tokenId: "tok1", userId: u.id, state: "associated", clientUserId: `c-${u.id}` },
        ],
      };
      users.push(u.id);
      break;
    }
    case "request": {
      const d = deviceAt(m.a);
      if (!d) break;
      input = {
        ...input,
        installRequests: [...(input.installRequests ?? []), { deviceId: d.id, requestedAt: t(m.c + 30) }],
      };
      devices.push(d.id);
      break;
    }
    case "releaseConfirmed": {
      // a licensed holder leaves; the full plan releases it; the store confirms the release
      // (pendingRelease → released): the next plan serves the queue. Changed: the holders that settled.
      const licensed = input.holdings.filter((h) => LICENSED_STATES.has(h.state));
      if (licensed.length === 0) break;
      const h = licensed[m.a % licensed.length];
      // a user is disabled, a device deleted (the employee leaves; the device is wiped and deleted)
      const left: DirectoryInput =
        h.holderType === "user"
          ? { ...dir, users: dir.users.map((u) => (u.id === h.holderId ? { ...u, enabled: false } : u)) }
          : {
              ...dir,
              devices: dir.devices.filter((d) => d.id !== h.holderId),
              memberships: dir.memberships.filter((e) => e.memberId !== h.holderId),
            };
      const p = planApp(buildDirectoryIndex(left), input, options);
      const applied = applyPlan(input, p, options.now);
      const settled = applied.holdings.filter((x) => x.state === "pendingRelease");
      next = applyAppleUserOps(left, p.operations);
      input = {
        ...applied,
        holdings: applied.holdings.map((x) =>
          x.state === "pendingRelease" ? { ...x, state: "released" as const } : x,
        ),
      };
      for (const x of settled) (x.holderType === "user" ? users : devices).push(x.holderId);
      break;
    }
    case "lostLicense": {
      // the store reports a license gone (e.g. revoked elsewhere): the ledger row settles to released
      const licensed = input.holdings.filter((h) => LICENSED_STATES.has(h.state));
      if (licensed.length === 0) break;
      const h = licensed[m.a % licensed.length];
      input = {
        ...input,
        holdings: input.holdings.map((x) => (x === h ? { ...x, state: "released" as const } : x)),
      };
      (h.holderType === "user" ? users : devices).push(h.holderId);
      break;
    }
  }
  return { dir: next, input, changed: { users, devices } };
}
