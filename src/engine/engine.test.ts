// Example tests of the licensing engine: seed 000's FAQ (oversubscription), every reason, releases
// (ENG-6), conflicts (ASG-4), Apple users (ENG-4), entitlement times, previews (ENG-7), updates (UPD-1).
import { describe, expect, it } from "vitest";
import { applyAppleUserOps, applyPlan } from "./apply.ts";
import { buildDirectoryIndex, expandGroup } from "./directory.ts";
import {
  app,
  applyOnly,
  assignment,
  decisionOf,
  device,
  HOUR,
  runToSteady,
  settle,
  T0,
  user,
  type World,
} from "./engine.fixtures.ts";
import { dedupeAppleUserOps, planApp, planApps } from "./plan.ts";
import { previewChange } from "./preview.ts";
import type { AppInput, DirectoryInput, MembershipEdge, Operation, PlanOptions } from "./types.ts";
import { planAppUpdate } from "./update.ts";

const now = T0 + 1000 * HOUR;
const opts = { now };
const kinds = (ops: Operation[]) => ops.map((o) => o.kind);
const holders = (ops: Operation[], kind: Operation["kind"]) =>
  ops
    .filter((o) => o.kind === kind)
    .map((o) => ("holderId" in o ? o.holderId : (o as { userId: string }).userId));

/** 500 devices in group g, joined at shuffled times: device dN joined at join[N]. */
function faqWorld(total: number) {
  const devices = Array.from({ length: 500 }, (_, i) => device(i + 1));
  // a fixed permutation so that join order differs from creation order
  const join = devices.map((_, i) => T0 + HOUR * (((i * 337) % 500) + 1));
  const memberships: MembershipEdge[] = devices.map((d, i) => ({
    groupId: "g",
    memberId: d.id,
    memberType: "device",
    joinedAt: join[i],
  }));
  const world: World = {
    directory: { users: [], devices, memberships },
    input: {
      app: app({ totalCount: total }),
      assignments: [assignment("a1", 1, "group", "g", "required", { useDeviceLicensing: true })],
      holdings: [],
    },
  };
  const byJoin = devices
    .map((d, i) => ({ id: d.id, t: join[i] }))
    .sort((a, b) => a.t - b.t)
    .map((x) => x.id);
  return { world, byJoin };
}

describe("seed 000 FAQ: 100 licenses, a group of 500 devices (ENG-1, ENG-2)", () => {
  it("licenses the 100 earliest members, the other 400 wait; +50 serves the next 50; a leaver is released and the next served", () => {
    const { world, byJoin } = faqWorld(100);
    const plan = planApp(buildDirectoryIndex(world.directory), world.input, opts);
    expect(holders(plan.operations, "associate")).toEqual(byJoin.slice(0, 100));
    expect(plan.counts).toMatchObject({
      licensed: 100,
      pendingAssign: 100,
      waiting: 400,
      shortfall: 400,
      available: 0,
    });
    const waiting = plan.holdings.filter((h) => h.state === "waiting");
    expect(waiting).toHaveLength(400);
    expect(new Set(waiting.map((h) => h.reason))).toEqual(new Set(["insufficientLicenses"]));
    expect(new Set(waiting.map((h) => h.holderId))).toEqual(new Set(byJoin.slice(100)));
    // associations carry the serial numbers (ENG-5)
    const first = plan.operations[0];
    expect(first).toMatchObject({
      kind: "associate",
      licenseType: "device",
      storeKey: `SN${byJoin[0].slice(1)}`,
    });

    let w = applyOnly(world, plan, now);
    w = { ...w, input: settle(w.input, now) };
    // installs follow the confirmed association
    const p2 = planApp(buildDirectoryIndex(w.directory), w.input, opts);
    expect(kinds(p2.operations)).toEqual(Array(100).fill("installCommand"));
    w = { ...w, input: settle(applyPlan(w.input, p2, now), now) };

    // buy 50 more: the next 50 in entitlement order
    w = { ...w, input: { ...w.input, app: { ...w.input.app, totalCount: 150 } } };
    const p3 = planApp(buildDirectoryIndex(w.directory), w.input, opts);
    expect(holders(p3.operations, "associate")).toEqual(byJoin.slice(100, 150));
    expect(p3.counts).toMatchObject({ licensed: 150, waiting: 350 });
    w = { ...w, input: settle(applyPlan(w.input, p3, now), now) };
    w = runToSteady(w, opts).world;

    // one licensed device leaves the group: released (no uninstall), then the next waiting one is served
    const leaver = byJoin[7];
    w = {
      ...w,
      directory: {
        ...w.directory,
        memberships: w.directory.memberships.filter((e) => e.memberId !== leaver),
      },
    };
    const p4 = planApp(buildDirectoryIndex(w.directory), w.input, opts);
    expect(p4.operations).toEqual([
      {
        kind: "disassociate",
        appId: "app1",
        holderType: "device",
        holderId: leaver,
        licenseType: "device",
        storeKey: `SN${leaver.slice(1)}`,
        reason: "notTargeted",
      },
    ]);
    expect(p4.counts.consuming).toBe(150); // pendingRelease still holds the license until the store confirms
    w = { ...w, input: settle(applyPlan(w.input, p4, now), now) };
    const p5 = planApp(buildDirectoryIndex(w.directory), w.input, opts);
    expect(holders(p5.operations, "associate")).toEqual([byJoin[150]]);
    expect(decisionOf(p5, "device", leaver)).toMatchObject({ state: "released", reason: "notTargeted" });
  });

  it("current holders keep their licenses even when a member with an earlier entitlement arrives", () => {
    const { world, byJoin } = faqWorld(100);
    const w = runToSteady(world, opts).world;
    // a new device that joined the group before everyone else (an earlier path)
    const early = device(1000);
    const directory: DirectoryInput = {
      ...w.directory,
      devices: [...w.directory.devices, early],
      memberships: [
        ...w.directory.memberships,
        { groupId: "g", memberId: early.id, memberType: "device", joinedAt: T0 },
      ],
    };
    const p = planApp(buildDirectoryIndex(directory), w.input, opts);
    expect(p.operations).toEqual([]);
    const d = decisionOf(p, "device", early.id)!;
    expect(d).toMatchObject({ state: "waiting", reason: "insufficientLicenses", entitledAt: T0 });
    // …and it is first in line when a license frees up
    const more = planApp(
      buildDirectoryIndex(directory),
      { ...w.input, app: { ...w.input.app, totalCount: 101 } },
      opts,
    );
    expect(holders(more.operations, "associate")).toEqual([early.id]);
    expect(byJoin).toHaveLength(500);
  });

  it("ties on entitlement time are broken by creation order (seq), never by id", () => {
    const devices = [device(3, { id: "aaa" }), device(1, { id: "zzz" }), device(2, { id: "mmm" })];
    const memberships: MembershipEdge[] = devices.map((d) => ({
      groupId: "g",
      memberId: d.id,
      memberType: "device",
      joinedAt: T0,
    }));
    const p = planApp(
      buildDirectoryIndex({ users: [], devices, memberships }),
      {
        app: app({ totalCount: 2 }),
        assignments: [assignment("a", 1, "group", "g", "required", { useDeviceLicensing: true })],
        holdings: [],
      },
      opts,
    );
    expect(holders(p.operations, "associate")).toEqual(["zzz", "mmm"]);
  });
});

describe("entitlement time (ENG-2)", () => {
  it("is the earliest over paths of the latest joinedAt along the path, through nested groups and cycles", () => {
    const u = user(1);
    const memberships: MembershipEdge[] = [
      // path 1: top ⊃ a (joined at 50) ⊃ u (joined at 10) → complete at 50
      { groupId: "top", memberId: "a", memberType: "group", joinedAt: T0 + 50 },
      { groupId: "a", memberId: u.id, memberType: "user", joinedAt: T0 + 10 },
      // path 2: top ⊃ b (joined at 5) ⊃ c (joined at 30) ⊃ u (joined at 20) → complete at 30
      { groupId: "top", memberId: "b", memberType: "group", joinedAt: T0 + 5 },
      { groupId: "b", memberId: "c", memberType: "group", joinedAt: T0 + 30 },
      { groupId: "c", memberId: u.id, memberType: "user", joinedAt: T0 + 20 },
      // a cycle does not matter
      { groupId: "c", memberId: "top", memberType: "group", joinedAt: T0 },
    ];
    const ix = buildDirectoryIndex({ users: [u], devices: [], memberships });
    const e = expandGroup(ix, "top");
    expect([...e.principals]).toEqual([0]);
    expect(e.times[0]).toBe(T0 + 30);
    expect(expandGroup(ix, "c").times[0]).toBe(T0 + 20);
    expect(expandGroup(ix, "unknown").principals.length).toBe(0);
  });

  it("for all users and all devices is the member's creation time, and the earliest target wins", () => {
    const users = [user(1, { createdAt: T0 + 7 }), user(2, { createdAt: T0 + 3 })];
    const memberships: MembershipEdge[] = [
      { groupId: "g", memberId: "u1", memberType: "user", joinedAt: T0 + 1 },
    ];
    const dir: DirectoryInput = {
      users,
      devices: [],
      memberships,
      appleUsers: users.map((u) => ({
        tokenId: "tok1",
        userId: u.id,
        state: "associated",
        clientUserId: `c-${u.id}`,
      })),
    };
    const p = planApp(
      buildDirectoryIndex(dir),
      {
        app: app({ totalCount: 1 }),
        assignments: [
          assignment("all", 1, "allLicensedUsers", null, "required"),
          assignment("grp", 2, "group", "g", "required"),
        ],
        holdings: [],
      },
      opts,
    );
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      entitledAt: T0 + 1,
      state: "pendingAssign",
      assignmentId: "all",
    });
    expect(decisionOf(p, "user", "u2")).toMatchObject({
      entitledAt: T0 + 3,
      state: "waiting",
      reason: "insufficientLicenses",
    });
  });
});

/** One user u1 with devices, an app, assignments; a helper to plan. */
function userWorld(opts2: {
  devices?: ReturnType<typeof device>[];
  appleState?: "none" | "registered" | "invited" | "associated";
  assignments: AppInput["assignments"];
  appExtra?: Parameters<typeof app>[0];
  memberships?: MembershipEdge[];
  holdings?: AppInput["holdings"];
  installRequests?: AppInput["installRequests"];
  installs?: AppInput["installs"];
  users?: ReturnType<typeof user>[];
}): World {
  const users = opts2.users ?? [user(1)];
  const devices = opts2.devices ?? [device(1, { userId: "u1" })];
  const memberships = opts2.memberships ?? [
    { groupId: "users", memberId: "u1", memberType: "user", joinedAt: T0 },
    ...devices.map((d) => ({
      groupId: "devices",
      memberId: d.id,
      memberType: "device" as const,
      joinedAt: T0,
    })),
  ];
  const st = opts2.appleState ?? "associated";
  return {
    directory: {
      users,
      devices,
      memberships,
      appleUsers:
        st === "none" ? [] : [{ tokenId: "tok1", userId: "u1", state: st, clientUserId: "client-u1" }],
    },
    input: {
      app: app(opts2.appExtra),
      assignments: opts2.assignments,
      holdings: opts2.holdings ?? [],
      installRequests: opts2.installRequests,
      installs: opts2.installs,
    },
  };
}
const planOf = (w: World, o: PlanOptions = opts) => planApp(buildDirectoryIndex(w.directory), w.input, o);

describe("reasons", () => {
  it("notDeviceAssignable: device licensing of an asset the store does not allow, and of books", () => {
    const asg = [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })];
    for (const appExtra of [
      { deviceAssignable: false },
      { productType: "Book" as const, deviceAssignable: false },
    ]) {
      const p = planOf(userWorld({ assignments: asg, appExtra }));
      expect(decisionOf(p, "device", "d1")).toMatchObject({
        state: "waiting",
        reason: "notDeviceAssignable",
      });
      expect(decisionOf(p, "device", "d1")!.advice).toMatch(/user licensing/);
      expect(p.operations).toEqual([]);
    }
  });

  it("platformNotSupported: a Mac for an iOS-only app, a Windows device; iPadOS matches Apple's iOS", () => {
    const devices = [
      device(1, { userId: "u1", operatingSystem: "macOS" }),
      device(2, { userId: "u1", operatingSystem: "Windows" }),
      device(3, { userId: "u1", operatingSystem: "iPadOS" }),
    ];
    const p = planOf(
      userWorld({
        devices,
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
        appExtra: { supportedPlatforms: ["iOS"] },
      }),
    );
    expect(decisionOf(p, "device", "d1")).toMatchObject({ state: "waiting", reason: "platformNotSupported" });
    expect(decisionOf(p, "device", "d2")).toMatchObject({ state: "waiting", reason: "platformNotSupported" });
    expect(decisionOf(p, "device", "d3")).toMatchObject({ state: "pendingAssign" });
  });

  it("tokenNotUsable: no store operation while the token is expired, invalid or with another MDM", () => {
    for (const token of ["expired", "invalid", "assignedToExternalMDM"] as const) {
      const w = userWorld({
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
        appExtra: { token },
      });
      const p = planOf(w);
      expect(p.operations).toEqual([]);
      expect(decisionOf(p, "device", "d1")).toMatchObject({ state: "waiting", reason: "tokenNotUsable" });
      // current holders are frozen, not released
      const held = planOf({
        ...w,
        input: {
          ...w.input,
          assignments: [],
          holdings: [
            {
              holderType: "device",
              holderId: "d1",
              state: "assigned",
              licenseType: "device",
              since: T0,
              storeKey: "SN1",
            },
          ],
        },
      });
      expect(held.operations).toEqual([]);
      expect(decisionOf(held, "device", "d1")).toMatchObject({ state: "assigned", changed: false });
    }
  });

  it("awaitingInvitation (ENG-4): register, then invite, then wait for the user; licensed once associated", () => {
    const asg = [assignment("a", 1, "group", "users", "required")];
    let w = userWorld({ assignments: asg, appleState: "none" });
    let p = planOf(w);
    expect(p.operations).toEqual([
      { kind: "registerAppleUser", tokenId: "tok1", userId: "u1", clientUserId: null },
    ]);
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      state: "waiting",
      reason: "awaitingInvitation",
      licenseType: "user",
    });

    p = planOf(userWorld({ assignments: asg, appleState: "registered" }));
    expect(kinds(p.operations)).toEqual(["inviteAppleUser"]);

    w = userWorld({ assignments: asg, appleState: "invited" });
    p = planOf(w);
    expect(p.operations).toEqual([]);
    expect(decisionOf(p, "user", "u1")).toMatchObject({ state: "waiting", reason: "awaitingInvitation" });

    p = planOf(userWorld({ assignments: asg, appleState: "associated" }));
    expect(p.operations).toEqual([
      {
        kind: "associate",
        appId: "app1",
        holderType: "user",
        holderId: "u1",
        licenseType: "user",
        storeKey: "client-u1",
      },
    ]);
  });

  it("itunesStoreDisabled: user licensing on a device whose policy blocks the iTunes Store, with advice", () => {
    const p = planOf(
      userWorld({
        devices: [device(1, { userId: "u1", itunesStoreBlocked: true })],
        assignments: [assignment("a", 1, "group", "devices", "required")],
      }),
    );
    const d = decisionOf(p, "user", "u1")!;
    expect(d).toMatchObject({
      state: "waiting",
      reason: "itunesStoreDisabled",
      via: { type: "device", id: "d1" },
    });
    expect(d.advice).toMatch(/device licensing/);
    expect(d.devices).toEqual([{ deviceId: "d1", action: "none", reason: "itunesStoreDisabled" }]);
    // device licensing works on the same device
    const p2 = planOf(
      userWorld({
        devices: [device(1, { userId: "u1", itunesStoreBlocked: true })],
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
      }),
    );
    expect(decisionOf(p2, "device", "d1")).toMatchObject({ state: "pendingAssign" });
  });

  it("deviceLimitReached: a user + Apple Account installs on at most 5 devices, counting unmanaged ones", () => {
    const devices = Array.from({ length: 6 }, (_, i) => device(i + 1, { userId: "u1" }));
    const base = userWorld({ devices, assignments: [assignment("a", 1, "group", "users", "required")] });
    let w = runToSteady(base, opts).world;
    const p = planOf(w);
    const d = decisionOf(p, "user", "u1")!;
    expect(d.state).toBe("assigned");
    expect(d.devices!.map((t) => t.action)).toEqual([
      "install",
      "install",
      "install",
      "install",
      "install",
      "none",
    ]);
    expect(d.devices![5]).toEqual({ deviceId: "d6", action: "none", reason: "deviceLimitReached" });
    expect(new Set(w.input.installs!.map((i) => i.deviceId))).toEqual(
      new Set(["d1", "d2", "d3", "d4", "d5"]),
    );
    // a device-targeted user license for the 6th device alone is not taken
    w = userWorld({
      devices,
      assignments: [assignment("a", 1, "group", "d6only", "required")],
      memberships: [{ groupId: "d6only", memberId: "d6", memberType: "device", joinedAt: T0 }],
    });
    expect(decisionOf(planOf(w), "user", "u1")).toMatchObject({
      state: "waiting",
      reason: "deviceLimitReached",
    });
    // two devices used elsewhere leave three slots
    const ext = userWorld({ devices, assignments: [assignment("a", 1, "group", "users", "required")] });
    ext.directory = {
      ...ext.directory,
      appleUsers: [
        { tokenId: "tok1", userId: "u1", state: "associated", clientUserId: "c", externalDeviceCount: 2 },
      ],
    };
    expect(
      decisionOf(planOf(ext), "user", "u1")!.devices!.filter((t) => t.action === "install"),
    ).toHaveLength(3);
  });

  it("notRequested (ENG-9): Available makes users eligible; a license is taken only on an install request", () => {
    const asg = [assignment("a", 1, "group", "users", "available")];
    const p = planOf(userWorld({ assignments: asg }));
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      state: null,
      intent: "available",
      reason: "notRequested",
    });
    expect(p.operations).toEqual([]);
    expect(p.counts.waiting).toBe(0);
    const requested = userWorld({
      assignments: asg,
      installRequests: [{ deviceId: "d1", requestedAt: T0 + 5 * HOUR }],
    });
    const p2 = planOf(requested);
    expect(decisionOf(p2, "user", "u1")).toMatchObject({ state: "pendingAssign", entitledAt: T0 + 5 * HOUR });
    // the install goes to the requesting device once the association is confirmed
    const w = runToSteady(requested, opts).world;
    expect(w.input.installs).toEqual([{ deviceId: "d1", state: "installed", since: now }]);
    // Available to a device group reaches nobody (ASG-2: user groups only)
    const devAvail = planOf(
      userWorld({ assignments: [assignment("a", 1, "group", "devices", "available")] }),
    );
    expect(devAvail.holdings).toEqual([]);
  });

  it("noSerialNumber and noPrimaryUser", () => {
    const p = planOf(
      userWorld({
        devices: [device(1, { userId: "u1", serialNumber: null }), device(2, { userId: null })],
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
      }),
    );
    expect(decisionOf(p, "device", "d1")).toMatchObject({ state: "waiting", reason: "noSerialNumber" });
    const p2 = planOf(
      userWorld({
        devices: [device(2, { userId: null })],
        assignments: [assignment("a", 1, "group", "devices", "required")],
      }),
    );
    expect(p2.issues).toEqual([
      { principalType: "device", principalId: "d2", assignmentId: "a", reason: "noPrimaryUser" },
    ]);
    expect(p2.holdings).toEqual([]);
  });
});

describe("conflicts (ASG-4): exclusion > uninstall > required > available", () => {
  const holding = (id = "u1") =>
    ({
      holderType: "user",
      holderId: id,
      state: "assigned",
      licenseType: "user",
      since: T0,
      storeKey: "client-u1",
    }) as const;

  it("exclusion wins and releases without an uninstall", () => {
    const w = userWorld({
      assignments: [
        assignment("inc", 1, "group", "users", "required"),
        assignment("exc", 2, "exclusionGroup", "users", "required"),
      ],
      holdings: [holding()],
    });
    const p = planOf(w);
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      intent: "excluded",
      rule: "exclusion",
      state: "pendingRelease",
      reason: "excluded",
    });
    expect(kinds(p.operations)).toEqual(["disassociate"]);
  });

  it("uninstall beats required: remove command first, release when the MDM reports removal, or after the timeout", () => {
    const w = userWorld({
      assignments: [
        assignment("req", 1, "group", "users", "required"),
        assignment("un", 2, "group", "users", "uninstall"),
      ],
      holdings: [holding()],
      installs: [{ deviceId: "d1", state: "installed", since: T0 }],
    });
    const p = planOf(w);
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      intent: "uninstall",
      rule: "uninstall",
      assignmentId: "un",
      state: "assigned",
      reason: "uninstallIntent",
    });
    expect(p.operations).toMatchObject([{ kind: "removeCommand", deviceId: "d1" }]);
    const after = applyPlan(w.input, p, now);
    // not confirmed yet: nothing to do
    expect(planOf({ ...w, input: after }).operations).toEqual([]);
    // confirmed by the MDM: release
    const confirmed = settle(after, now);
    expect(kinds(planOf({ ...w, input: confirmed }).operations)).toEqual(["disassociate"]);
    // never confirmed: release after the timeout
    const late = planOf({ ...w, input: after }, { now: now + 8 * 24 * HOUR });
    expect(kinds(late.operations)).toEqual(["disassociate"]);
    expect(
      planOf({ ...w, input: after }, { now: now + HOUR, uninstallTimeoutMs: HOUR }).operations,
    ).toHaveLength(1);
  });

  it("required beats available and the lower seq decides among equals", () => {
    const w = userWorld({
      assignments: [
        assignment("av", 1, "group", "users", "available"),
        assignment("req2", 3, "group", "users", "required", { useDeviceLicensing: true }),
        assignment("req1", 2, "group", "users", "required"),
      ],
    });
    const p = planOf(w);
    expect(decisionOf(p, "user", "u1")).toMatchObject({
      intent: "required",
      rule: "required",
      assignmentId: "req1",
      licenseType: "user",
    });
  });
});

describe("releases (ENG-6)", () => {
  const held = (type: "user" | "device", id: string, key: string) =>
    ({
      holderType: type,
      holderId: id,
      state: "assigned",
      licenseType: type,
      since: T0,
      storeKey: key,
      entitledAt: T0,
    }) as const;

  it("removing the assignment releases without an uninstall command", () => {
    const w = userWorld({
      assignments: [],
      holdings: [held("user", "u1", "client-u1")],
      installs: [{ deviceId: "d1", state: "installed", since: T0 }],
    });
    const p = planOf(w);
    expect(p.operations).toEqual([
      {
        kind: "disassociate",
        appId: "app1",
        holderType: "user",
        holderId: "u1",
        licenseType: "user",
        storeKey: "client-u1",
        reason: "notTargeted",
      },
    ]);
  });

  it("disabled and deleted users lose their licenses, user and device licenses alike", () => {
    const asg = [
      assignment("u", 1, "group", "users", "required"),
      assignment("d", 2, "group", "users", "required", { useDeviceLicensing: true }),
    ];
    // both a user license and a device license (through the user) are held
    const holdings = [held("user", "u1", "client-u1"), held("device", "d1", "SN1")];
    const disabled = planOf(userWorld({ assignments: asg, holdings, users: [user(1, { enabled: false })] }));
    expect(decisionOf(disabled, "user", "u1")).toMatchObject({
      state: "pendingRelease",
      reason: "userNotActive",
    });
    expect(decisionOf(disabled, "device", "d1")).toMatchObject({
      state: "pendingRelease",
      reason: "notTargeted",
    });
    const deleted = planOf(userWorld({ assignments: asg, holdings, users: [], devices: [device(1)] }));
    expect(decisionOf(deleted, "user", "u1")).toMatchObject({
      state: "pendingRelease",
      reason: "userNotActive",
    });
    expect(kinds(deleted.operations)).toEqual(["disassociate", "disassociate"]);
  });

  it("a device removed from management keeps its license unless uninstallOnDeviceRemoval is set", () => {
    const devices = [device(1, { userId: "u1", managed: false })];
    const keep = planOf(
      userWorld({
        devices,
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
        holdings: [held("device", "d1", "SN1")],
      }),
    );
    expect(decisionOf(keep, "device", "d1")).toMatchObject({ state: "assigned", changed: false });
    expect(keep.operations).toEqual([]);
    const release = planOf(
      userWorld({
        devices,
        assignments: [
          assignment("a", 1, "group", "devices", "required", {
            useDeviceLicensing: true,
            uninstallOnDeviceRemoval: true,
          }),
        ],
        holdings: [held("device", "d1", "SN1")],
      }),
    );
    expect(decisionOf(release, "device", "d1")).toMatchObject({
      state: "pendingRelease",
      reason: "deviceRemoved",
    });
    // a removed device never takes a new license
    const fresh = planOf(
      userWorld({
        devices,
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
      }),
    );
    expect(fresh.operations).toEqual([]);
  });

  it("a device license follows the serial number: a new serial releases the old binding first", () => {
    const p = planOf(
      userWorld({
        devices: [device(1, { userId: "u1", serialNumber: "NEW" })],
        assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
        holdings: [held("device", "d1", "OLD")],
      }),
    );
    expect(p.operations).toMatchObject([
      { kind: "disassociate", storeKey: "OLD", reason: "storeKeyChanged" },
    ]);
  });

  it("when the store's count falls below the ledger, the latest entitled holders are released (ENG-1)", () => {
    const { world, byJoin } = faqWorld(100);
    const w = runToSteady(world, opts).world;
    const p = planOf({ ...w, input: { ...w.input, app: { ...w.input.app, totalCount: 98 } } });
    expect(p.operations.map((o) => (o as { holderId: string }).holderId).sort()).toEqual(
      [byJoin[98], byJoin[99]].sort(),
    );
    expect(p.counts.licensed).toBe(98);
  });
});

describe("device licensing through users and user licensing through devices", () => {
  it("a device-licensed assignment to a user group licenses each of the user's devices", () => {
    const devices = [device(1, { userId: "u1" }), device(2, { userId: "u1" })];
    const p = planOf(
      userWorld({
        devices,
        assignments: [assignment("a", 1, "group", "users", "required", { useDeviceLicensing: true })],
      }),
    );
    expect(holders(p.operations, "associate")).toEqual(["d1", "d2"]);
    expect(decisionOf(p, "device", "d1")!.via).toEqual({ type: "user", id: "u1" });
  });

  it("a user-licensed assignment to a device group licenses the primary user and installs on that device", () => {
    const devices = [device(1, { userId: "u1" }), device(2, { userId: "u1" })];
    const w = userWorld({
      devices,
      assignments: [assignment("a", 1, "group", "one", "required")],
      memberships: [{ groupId: "one", memberId: "d2", memberType: "device", joinedAt: T0 }],
    });
    const s = runToSteady(w, opts).world;
    expect(s.input.holdings).toMatchObject([
      { holderType: "user", holderId: "u1", state: "assigned", storeKey: "client-u1" },
    ]);
    expect(s.input.installs).toEqual([{ deviceId: "d2", state: "installed", since: now }]);
  });
});

describe("determinism and batches", () => {
  it("gives the same plan for shuffled inputs", () => {
    const { world } = faqWorld(120);
    const a = planOf(world);
    const rev = {
      directory: {
        ...world.directory,
        devices: [...world.directory.devices].reverse(),
        memberships: [...world.directory.memberships].reverse(),
      },
      input: world.input,
    };
    expect(planOf(rev)).toEqual(a);
  });

  it("plans many apps one by one and de-duplicates Apple user operations per token", () => {
    const w = userWorld({
      assignments: [assignment("a", 1, "group", "users", "required")],
      appleState: "none",
    });
    const inputs: AppInput[] = [w.input, { ...w.input, app: { ...w.input.app, id: "app2" } }];
    const plans = [...planApps(buildDirectoryIndex(w.directory), inputs, opts)];
    expect(plans.map((p) => p.appId)).toEqual(["app1", "app2"]);
    expect(dedupeAppleUserOps(plans)).toEqual([
      { kind: "registerAppleUser", tokenId: "tok1", userId: "u1", clientUserId: null },
    ]);
    expect(applyAppleUserOps(w.directory, plans[0].operations).appleUsers).toEqual([
      { tokenId: "tok1", userId: "u1", state: "invited", clientUserId: "u1", externalDeviceCount: undefined },
    ]);
  });
});

describe("previews (ENG-7)", () => {
  it("a purchase of 50 licenses previews the next 50 and what they cost, without changing anything", () => {
    const { world, byJoin } = faqWorld(100);
    const w = runToSteady(
      { ...world, input: { ...world.input, app: { ...world.input.app, unitPrice: 2.5 } } },
      opts,
    ).world;
    const pv = previewChange(
      { directory: w.directory, app: w.input },
      { kind: "purchaseCount", totalCount: 150 },
      opts,
    );
    expect(pv.licensed.map((h) => h.id)).toEqual(byJoin.slice(100, 150));
    expect(pv.released).toEqual([]);
    expect(pv.waiting).toHaveLength(350);
    expect(pv.waiting[0].reason).toBe("insufficientLicenses");
    expect(pv.counts.licensed).toBe(150);
    expect(pv.cost).toMatchObject({
      unitPrice: 2.5,
      newlyLicensedValue: 125,
      purchaseValue: 125,
      licensedValue: 375,
      shortfallValue: 875,
    });
  });

  it("a new assignment set and a membership change preview who is licensed, who waits and what is released", () => {
    const { world, byJoin } = faqWorld(100);
    const w = runToSteady(world, opts).world;
    const none = previewChange(
      { directory: w.directory, app: w.input },
      { kind: "assignments", assignments: [] },
      opts,
    );
    expect(none.released).toHaveLength(100);
    expect(none.licensed).toEqual([]);
    const leave = previewChange(
      { directory: w.directory, app: w.input },
      { kind: "membership", remove: [{ groupId: "g", memberId: byJoin[0] }] },
      opts,
    );
    expect(leave.released).toEqual([{ id: byJoin[0], type: "device" }]);
  });
});

describe("automatic updates (UPD-1)", () => {
  it("queues updates for Required installs (unless preventAutoAppUpdate) and reports Available ones", () => {
    const devices = [
      device(1, { userId: "u1" }),
      device(2, { userId: "u1", osVersion: "10.3" }),
      device(3, { userId: "u1" }),
    ];
    const w = userWorld({
      devices,
      assignments: [
        assignment("req", 1, "group", "devices", "required", { useDeviceLicensing: true }),
        assignment("req-no-update", 2, "group", "three", "required", {
          useDeviceLicensing: true,
          preventAutoAppUpdate: true,
        }),
      ],
      memberships: [
        { groupId: "devices", memberId: "d1", memberType: "device", joinedAt: T0 },
        { groupId: "devices", memberId: "d2", memberType: "device", joinedAt: T0 },
        { groupId: "three", memberId: "d3", memberType: "device", joinedAt: T0 },
      ],
    });
    const s = runToSteady(w, opts).world;
    const ix = buildDirectoryIndex(s.directory);
    const up = planAppUpdate(ix, s.input, planApp(ix, s.input, opts));
    expect(up.updateCommands.map((c) => c.deviceId)).toEqual(["d1"]);
    expect(up.notifyAdministrators).toBe(false);
    const av = runToSteady(
      userWorld({
        assignments: [assignment("av", 1, "group", "users", "available")],
        installRequests: [{ deviceId: "d1", requestedAt: T0 }],
      }),
      opts,
    ).world;
    const ix2 = buildDirectoryIndex(av.directory);
    const up2 = planAppUpdate(ix2, av.input, planApp(ix2, av.input, opts));
    expect(up2).toEqual({
      updateCommands: [],
      updateAvailable: [{ deviceId: "d1", holderType: "user", holderId: "u1" }],
      notifyAdministrators: true,
    });
  });
});

describe("irrevocable licenses and store failures", () => {
  it("a book's license is never released (the store does not allow it): it stays, flagged notRevocable", () => {
    const w = userWorld({
      assignments: [],
      appExtra: { productType: "Book", deviceAssignable: false, revocable: false },
      holdings: [
        {
          holderType: "user",
          holderId: "u1",
          state: "assigned",
          licenseType: "user",
          since: T0,
          storeKey: "client-u1",
        },
      ],
    });
    const p = planOf(w);
    expect(p.operations).toEqual([]);
    expect(decisionOf(p, "user", "u1")).toMatchObject({ state: "assigned", reason: "notRevocable" });
    expect(decisionOf(p, "user", "u1")!.advice).toMatch(/cannot|does not allow/);
  });

  it("a failed holding stays failed until the ledger resets it, or until failedRetryMs has passed", () => {
    const w = userWorld({
      devices: [device(1, { userId: "u1" })],
      assignments: [assignment("a", 1, "group", "devices", "required", { useDeviceLicensing: true })],
      holdings: [
        {
          holderType: "device",
          holderId: "d1",
          state: "failed",
          reason: "storeError9603",
          licenseType: "device",
          since: now - 2 * HOUR,
          entitledAt: T0,
        },
      ],
    });
    expect(planOf(w).operations).toEqual([]);
    expect(decisionOf(planOf(w), "device", "d1")).toMatchObject({
      state: "failed",
      reason: "storeError9603",
      changed: false,
    });
    expect(kinds(planOf(w, { now, failedRetryMs: 3 * HOUR }).operations)).toEqual([]);
    expect(kinds(planOf(w, { now, failedRetryMs: HOUR }).operations)).toEqual(["associate"]);
  });
});

describe("incremental plans", () => {
  it("FAQ flow: a leaver's release is confirmed, and the next waiting device is served from the stored queue", async () => {
    const { sliceForIncremental } = await import("./slice.ts");
    const { planAppIncremental } = await import("./plan.ts");
    const { world, byJoin } = faqWorld(100);
    let w = runToSteady(world, opts).world;
    const leaver = byJoin[3];
    const directory = {
      ...w.directory,
      memberships: w.directory.memberships.filter((e) => e.memberId !== leaver),
    };
    // the leaver: an incremental plan over the slice releases it, like the full plan
    const s1 = sliceForIncremental(directory, w.input, { devices: [leaver] });
    const inc1 = planAppIncremental(buildDirectoryIndex(s1.directory), s1.input, opts);
    expect(inc1.operations).toEqual(planApp(buildDirectoryIndex(directory), w.input, opts).operations);
    expect(kinds(inc1.operations)).toEqual(["disassociate"]);
    w = { directory, input: settle(applyPlan(w.input, inc1, now), now) };
    // the store confirmed the release: the holder changed; the next in the queue is served
    const s2 = sliceForIncremental(directory, w.input, { devices: [leaver] });
    expect(s2.input.queue.length).toBeLessThan(400);
    const inc2 = planAppIncremental(buildDirectoryIndex(s2.directory), s2.input, opts);
    expect(inc2.operations).toEqual(planApp(buildDirectoryIndex(directory), w.input, opts).operations);
    expect(holders(inc2.operations, "associate")).toEqual([byJoin[100]]);
    expect(inc2.holdings.find((h) => h.holderId === byJoin[100])).toMatchObject({
      rule: "queued",
      state: "pendingAssign",
      changed: true,
    });
    expect(inc2.counts).toMatchObject({ capacity: 100, consuming: 100, licensed: 100, newlyAssigned: 1 });
    // a queue head that is too short for the plan is refused rather than served out of order
    const short = { ...s2.input, queue: [], queueComplete: false };
    expect(() => planAppIncremental(buildDirectoryIndex(s2.directory), short, opts)).toThrow(/queue head/);
  });
});
