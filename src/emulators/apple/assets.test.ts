// Synchronous validation (a rejected request changes nothing), asynchronous partial failure, count
// accounting, users and invitations, and every documented filter (reference §4, §6, §11, §16.5–10).
import { afterEach, describe, expect, it } from "vitest";
import type { AppleEmulator } from "./index.ts";
import { type AppleClient, allPages, appleClient, startEmu, stopAll, testOrg } from "./test-helpers.ts";

afterEach(stopAll);

const catalogue = [
  { adamId: "100", totalCount: 5 },
  { adamId: "100", pricingParam: "PLUS" as const, totalCount: 2 },
  { adamId: "200", totalCount: 3, supportedPlatforms: ["iOS", "macOS"] },
  { adamId: "300", productType: "Book" as const, totalCount: 4 },
  { adamId: "400", totalCount: 0, unlimited: true },
  { adamId: "500", totalCount: 10, deviceAssignable: false, revocable: false },
];

async function setup(options: Parameters<typeof startEmu>[0] = {}) {
  const emu = await startEmu({ settleMs: 0, ...options });
  const { uId, sToken } = await emu.control.createLocation({ ...testOrg, assets: catalogue });
  return { emu, uId, api: appleClient(emu, sToken) };
}

async function snapshot(emu: AppleEmulator, uId: string, api: AppleClient) {
  return {
    assets: (await emu.control.assets(uId)).assets,
    assignments: (await emu.control.assignments(uId)).assignments,
    users: (await emu.control.users(uId)).users,
    events: (await emu.control.events(uId)).events,
    config: (await api.get("/client/config")).body,
    versions: [
      (await api.get("/assets")).body.versionId,
      (await api.get("/assignments")).body.versionId,
      (await api.get("/users")).body.versionId,
    ],
  };
}

async function run(emu: AppleEmulator, api: AppleClient, path: string, body: unknown) {
  const r = await api.post(path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  emu.flush();
  return (await api.get(`/status?eventId=${r.body.eventId}`)).body;
}

describe("synchronous validation", () => {
  it("every rejected request answers its error number and changes nothing", async () => {
    const { emu, uId, api } = await setup();
    await emu.control.seedUsers(uId, { users: [{ clientUserId: "u1" }] });
    await emu.control.setLimits({
      maxAssets: 2,
      maxClientUserIds: 2,
      maxSerialNumbers: 2,
      maxRevokeSerialNumbers: 1,
      maxUsers: 2,
    });
    expect((await appleClient(emu, undefined).get("/service/config")).body.limits).toMatchObject({
      maxAssets: 2,
      maxUsers: 2,
    });
    const before = await snapshot(emu, uId, api);
    const cases: [string, unknown, number][] = [
      ["/assets/associate", { serialNumbers: ["S1"] }, 9718],
      ["/assets/associate", { assets: [], serialNumbers: ["S1"] }, 9718],
      ["/assets/associate", { assets: [{ adamId: "100" }] }, 9719],
      [
        "/assets/associate",
        { assets: [{ adamId: "100" }, { adamId: "200" }, { adamId: "300" }], clientUserIds: ["u1"] },
        9700,
      ],
      ["/assets/associate", { assets: [{ adamId: "100" }], clientUserIds: ["a", "b", "c"] }, 9701],
      ["/assets/associate", { assets: [{ adamId: "100" }], serialNumbers: ["a", "b", "c"] }, 9702],
      ["/assets/associate", { assets: [{ adamId: "100" }, { adamId: "100" }], serialNumbers: ["a"] }, 9703],
      ["/assets/associate", { assets: [{ adamId: "100" }], clientUserIds: ["u1", "u1"] }, 9704],
      ["/assets/associate", { assets: [{ adamId: "100" }], serialNumbers: ["a", "a"] }, 9705],
      ["/assets/associate", { assets: [{ adamId: "300" }], serialNumbers: ["a"] }, 9707],
      ["/assets/associate", { assets: [{ adamId: 100 }], serialNumbers: ["a"] }, 9602],
      ["/assets/disassociate", { assets: [{ adamId: "500" }], clientUserIds: ["u1"] }, 9706],
      ["/assets/revoke", {}, 9719],
      ["/assets/revoke", { serialNumbers: ["a", "b"] }, 9702],
      ["/assets/revoke", { clientUserIds: ["u1", "u1"] }, 9704],
      ["/users/create", {}, 9720],
      ["/users/create", { users: [] }, 9720],
      [
        "/users/create",
        { users: [{ clientUserId: "a" }, { clientUserId: "b" }, { clientUserId: "c" }] },
        9714,
      ],
      ["/users/create", { users: [{ clientUserId: "a" }, { clientUserId: "a" }] }, 9715],
      ["/users/create", { users: [{ clientUserId: "a", email: "not-an-email" }] }, 9717],
      ["/users/retire", { users: [{ email: "x@y.z" }] }, 9602],
      ["/client/config", { mdmInfo: { id: "x", name: "y" } }, 9723],
      ["/client/config", { mdmInfo: { id: "x".repeat(101), name: "y", metadata: "z" } }, 9724],
      ["/client/config", { mdmInfo: { id: "x", name: "y".repeat(101), metadata: "z" } }, 9725],
      ["/client/config", { mdmInfo: { id: "x", name: "y", metadata: "z".repeat(256) } }, 9713],
      ["/client/config", { notificationUrl: "https://mdm.example/n" }, 9710],
      [
        "/client/config",
        { notificationUrl: `https://mdm.example/${"n".repeat(600)}`, notificationAuthToken: "s" },
        9711,
      ],
      ["/client/config", { notificationUrl: "http://mdm.example/n", notificationAuthToken: "s" }, 9712],
      ["/client/config", { notificationUrl: "not a url", notificationAuthToken: "s" }, 9712],
      [
        "/client/config",
        { notificationUrl: "https://mdm.example/n?token=1", notificationAuthToken: "s" },
        9712,
      ],
      // Loopback http is accepted, but nobody answers there: the TEST_NOTIFICATION fails.
      [
        "/client/config",
        {
          mdmInfo: { id: "x", name: "y", metadata: "z" },
          notificationUrl: "http://127.0.0.1:9/n",
          notificationAuthToken: "s",
        },
        9728,
      ],
    ];
    for (const [path, body, errorNumber] of cases) {
      const r = await api.post(path, body);
      expect(r.body.errorNumber, `${path} ${JSON.stringify(body)}`).toBe(errorNumber);
      expect(r.status).toBe(400);
    }
    for (const [path, errorNumber] of [
      ["/assets?pageIndex=1", 9650],
      ["/assets?pageIndex=-1", 9650],
      ["/assignments?sinceVersionId=00000000-0000-4000-8000-000000000000", 9721],
      ["/users?sinceVersionId=nope", 9721],
      [`/assignments?sinceVersionId=${before.versions[0]}`, 9721],
      ["/status?eventId=00000000-0000-4000-8000-000000000000", 9708],
      ["/assets?revocable=maybe", 9602],
    ] as const) {
      const r = await api.get(path);
      expect(r.body.errorNumber, path).toBe(errorNumber);
      expect(r.status).toBe(400);
    }
    emu.flush();
    expect(await snapshot(emu, uId, api)).toEqual(before);
  });

  it("unknown clientUserIds can be refused synchronously (9609) when so configured", async () => {
    const { emu, uId, api } = await setup({ unknownUserSync: true });
    const r = await api.post("/assets/associate", { assets: [{ adamId: "100" }], clientUserIds: ["ghost"] });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errorNumber: 9609, errorInfo: { clientUserIds: ["ghost"] } });
    expect((await emu.control.events(uId)).events).toHaveLength(0);
  });
});

describe("asynchronous events", () => {
  it("partial failure: licenses run out (9709) — successes counted, failures grouped, counts exact", async () => {
    const { emu, uId, api } = await setup();
    const status = await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "200", pricingParam: "STDQ" }],
      serialNumbers: ["S1", "S2", "S3", "S4", "S5"],
    });
    expect(status).toMatchObject({
      eventStatus: "FAILED",
      eventType: "ASSOCIATE",
      numRequested: 5,
      numCompleted: 3,
      failures: [
        {
          errorNumber: 9709,
          errorMessage:
            "There are not enough licenses for this app or book available to assign to the selected group.",
          errorInfo: { assets: [{ adamId: "200", pricingParam: "STDQ" }], serialNumbers: ["S4", "S5"] },
        },
      ],
    });
    const asset = (await api.get("/assets?adamId=200")).body.assets[0];
    expect(asset).toMatchObject({ assignedCount: 3, availableCount: 0, totalCount: 3, retiredCount: 0 });
    expect((await emu.control.assignments(uId)).assignments.map((a) => a.serialNumber)).toEqual([
      "S1",
      "S2",
      "S3",
    ]);
  });

  it("re-associating fails with 9616 and disassociating a missing assignment with 9619 by default", async () => {
    const { emu, api } = await setup();
    await run(emu, api, "/assets/associate", { assets: [{ adamId: "100" }], serialNumbers: ["S1"] });
    const again = await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }],
      serialNumbers: ["S1", "S2"],
    });
    expect(again).toMatchObject({
      eventStatus: "FAILED",
      numCompleted: 1,
      failures: [{ errorNumber: 9616, errorInfo: { serialNumbers: ["S1"] } }],
    });
    expect((await api.get("/assets?adamId=100&pricingParam=STDQ")).body.assets[0].assignedCount).toBe(2);
    const missing = await run(emu, api, "/assets/disassociate", {
      assets: [{ adamId: "100" }],
      serialNumbers: ["S9"],
    });
    expect(missing).toMatchObject({ eventStatus: "FAILED", failures: [{ errorNumber: 9619 }] });
  });

  it("lenientReassociation: both are no-op successes that consume nothing", async () => {
    const { emu, api } = await setup({ lenientReassociation: true });
    await run(emu, api, "/assets/associate", { assets: [{ adamId: "100" }], serialNumbers: ["S1"] });
    const again = await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }],
      serialNumbers: ["S1"],
    });
    expect(again).toMatchObject({ eventStatus: "COMPLETE", numCompleted: 1 });
    expect((await api.get("/assets?adamId=100&pricingParam=STDQ")).body.assets[0]).toMatchObject({
      assignedCount: 1,
      availableCount: 4,
    });
    expect(
      await run(emu, api, "/assets/disassociate", { assets: [{ adamId: "100" }], serialNumbers: ["S9"] }),
    ).toMatchObject({
      eventStatus: "COMPLETE",
    });
  });

  it("associate without pricingParam takes STDQ; PLUS is a separate asset", async () => {
    const { emu, api } = await setup();
    await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }, { adamId: "100", pricingParam: "PLUS" }],
      serialNumbers: ["S1"],
    });
    const rows = (await api.get("/assets?adamId=100")).body.assets;
    expect(rows.map((a: any) => [a.pricingParam, a.assignedCount])).toEqual([
      ["STDQ", 1],
      ["PLUS", 1],
    ]);
  });

  it("injected task failures (9603) and an asset the location does not own (9709)", async () => {
    const { emu, api } = await setup();
    await emu.control.setFaults({ taskFailures: [{ errorNumber: 9603, count: 1 }] });
    const s = await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }, { adamId: "999" }],
      serialNumbers: ["S1", "S2"],
    });
    expect(s.numCompleted).toBe(1);
    expect(
      s.failures.map((f: any) => [f.errorNumber, f.errorInfo.assets[0].adamId, f.errorInfo.serialNumbers]),
    ).toEqual([
      [9603, "100", ["S1"]],
      [9709, "999", ["S1", "S2"]],
    ]);
  });

  it("revoke removes every revocable assignment of the targets and leaves books alone", async () => {
    const { emu, uId, api } = await setup();
    await emu.control.seedUsers(uId, { users: [{ clientUserId: "u1" }] });
    await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }, { adamId: "300" }, { adamId: "500" }],
      clientUserIds: ["u1"],
    });
    await run(emu, api, "/assets/associate", { assets: [{ adamId: "200" }], serialNumbers: ["S1"] });
    const s = await run(emu, api, "/assets/revoke", { clientUserIds: ["u1"], serialNumbers: ["S1"] });
    expect(s).toMatchObject({
      eventStatus: "COMPLETE",
      eventType: "REVOKE",
      numRequested: 2,
      numCompleted: 2,
    });
    const left = (await emu.control.assignments(uId)).assignments.map((a) => a.adamId).sort();
    expect(left).toEqual(["300", "500"]);
  });
});

describe("users and invitations", () => {
  it("create → Registered with a 32-hex invite code; accept → Associated with idHash; managedAppleId → Associated at once", async () => {
    const { emu, uId, api } = await setup();
    await run(emu, api, "/users/create", {
      users: [
        { clientUserId: "u1", email: "u1@example.com" },
        { clientUserId: "u2", managedAppleId: "u2@org.example" },
      ],
    });
    const users = (await api.get("/users")).body.users;
    expect(users[0]).toMatchObject({ clientUserId: "u1", status: "Registered" });
    expect(users[0].inviteCode).toMatch(/^[0-9a-f]{32}$/);
    expect(users[1]).toMatchObject({ clientUserId: "u2", status: "Associated" });
    expect(users[1].idHash).toMatch(/^[A-Za-z0-9+/]{27}=$/);
    expect(users[1]).not.toHaveProperty("inviteCode");
    const invitation = (
      await appleClient(emu, undefined).get("/service/config")
    ).body.urls.invitationEmail.replace("%25inviteCode%25", users[0].inviteCode);
    const page = await fetch(invitation);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("ORG12345");
    const accepted = await emu.control.acceptInvitation(uId, "u1");
    expect(accepted.user).toMatchObject({
      clientUserId: "u1",
      status: "Associated",
      inviteCode: users[0].inviteCode,
    });
    const after = (await api.get("/users?clientUserId=u1")).body.users;
    expect(after).toHaveLength(1);
    expect(after[0].status).toBe("Associated");
    expect(after[0].idHash).toBeDefined();
    expect(after[0]).not.toHaveProperty("inviteCode");
  });

  it("create of an active clientUserId fails with 9716, a taken managedAppleId with 9641, update/retire of unknown with 9609", async () => {
    const { emu, api } = await setup();
    await run(emu, api, "/users/create", {
      users: [{ clientUserId: "u1", managedAppleId: "a@org.example" }],
    });
    const s = await run(emu, api, "/users/create", {
      users: [
        { clientUserId: "u1" },
        { clientUserId: "u2", managedAppleId: "A@org.example" },
        { clientUserId: "u3" },
      ],
    });
    expect(s).toMatchObject({ eventStatus: "FAILED", numCompleted: 1, numRequested: 3 });
    expect(s.failures.map((f: any) => [f.errorNumber, f.errorInfo.clientUserIds])).toEqual([
      [9716, ["u1"]],
      [9641, ["u2"]],
    ]);
    expect(
      await run(emu, api, "/users/update", { users: [{ clientUserId: "nobody", email: "n@o.pe" }] }),
    ).toMatchObject({
      eventStatus: "FAILED",
      failures: [{ errorNumber: 9609 }],
    });
    expect(await run(emu, api, "/users/retire", { users: [{ clientUserId: "nobody" }] })).toMatchObject({
      failures: [{ errorNumber: 9609 }],
    });
  });

  it("retire releases revocable licenses, keeps books as retired licenses and keeps history rows", async () => {
    const { emu, uId, api } = await setup();
    await run(emu, api, "/users/create", {
      users: [{ clientUserId: "u1", managedAppleId: "u1@org.example" }],
    });
    await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }, { adamId: "300" }],
      clientUserIds: ["u1"],
    });
    await run(emu, api, "/users/retire", { users: [{ clientUserId: "u1" }] });
    const assets = (await api.get("/assets")).body.assets;
    const byId = (id: string) => assets.find((a: any) => a.adamId === id && a.pricingParam === "STDQ");
    expect(byId("100")).toMatchObject({
      assignedCount: 0,
      availableCount: 5,
      retiredCount: 0,
      totalCount: 5,
    });
    expect(byId("300")).toMatchObject({
      assignedCount: 0,
      availableCount: 3,
      retiredCount: 1,
      totalCount: 4,
    });
    const rows = (await api.get("/assignments?includeUserState=true")).body.assignments;
    expect(rows).toEqual([
      {
        adamId: "300",
        clientUserId: "u1",
        pricingParam: "STDQ",
        userStatus: "Retired",
        idHash: expect.any(String),
      },
    ]);
    expect((await api.get("/assignments?excludeInactiveUsers=true")).body.assignments).toEqual([]);
    await run(emu, api, "/users/create", { users: [{ clientUserId: "u1" }] });
    await run(emu, api, "/users/retire", { users: [{ clientUserId: "u1" }] });
    await run(emu, api, "/users/create", { users: [{ clientUserId: "u1" }] });
    const history = (await api.get("/users?clientUserId=u1")).body.users.map((u: any) => u.status);
    expect(history).toEqual(["Retired", "Retired", "Registered"]);
    expect((await api.get("/users?retiredOnly=true")).body.users).toHaveLength(2);
    expect((await api.get("/users?activeOnly=true")).body.users).toHaveLength(1);
    expect((await emu.control.users(uId)).users).toHaveLength(3);
  });
});

describe("filters", () => {
  it("GET /assets: every documented filter, unlimited assets", async () => {
    const { emu, api } = await setup();
    await run(emu, api, "/assets/associate", { assets: [{ adamId: "100" }], serialNumbers: ["S1", "S2"] });
    const ids = async (q: string) =>
      (await api.get(`/assets${q}`)).body.assets.map((a: any) => `${a.adamId}/${a.pricingParam}`);
    expect(await ids("")).toEqual(["100/STDQ", "100/PLUS", "200/STDQ", "300/STDQ", "400/STDQ", "500/STDQ"]);
    expect(await ids("?productType=Book")).toEqual(["300/STDQ"]);
    expect(await ids("?pricingParam=PLUS")).toEqual(["100/PLUS"]);
    expect(await ids("?revocable=false")).toEqual(["300/STDQ", "500/STDQ"]);
    expect(await ids("?deviceAssignable=false")).toEqual(["300/STDQ", "500/STDQ"]);
    expect(await ids("?adamId=100")).toEqual(["100/STDQ", "100/PLUS"]);
    expect(await ids("?minAssignedCount=2&maxAssignedCount=2")).toEqual(["100/STDQ"]);
    expect(await ids("?minAvailableCount=3&maxAvailableCount=4")).toEqual([
      "100/STDQ",
      "200/STDQ",
      "300/STDQ",
    ]);
    expect(await ids("?maxAvailableCount=2")).toEqual(["100/PLUS"]);
    expect(await ids("?unlimited=false")).toEqual([
      "100/STDQ",
      "100/PLUS",
      "200/STDQ",
      "300/STDQ",
      "500/STDQ",
    ]);
    const free = (await api.get("/assets?adamId=400")).body.assets[0];
    expect(free).toMatchObject({
      totalCount: 2147483647,
      assignedCount: 0,
      retiredCount: 0,
      availableCount: 2147483647,
    });
    const withUnlimited = (await api.get("/assets?unlimited=true")).body;
    expect(withUnlimited.assets.map((a: any) => a.adamId)).not.toContain("400");
    expect(withUnlimited.unlimitedAssets).toEqual([
      {
        adamId: "400",
        assignedCount: 0,
        deviceAssignable: true,
        pricingParam: "STDQ",
        productType: "App",
        revocable: true,
        supportedPlatforms: ["iOS"],
      },
    ]);
  });

  it("GET /assignments and /users filters", async () => {
    const { emu, api } = await setup();
    await run(emu, api, "/users/create", {
      users: [{ clientUserId: "u1" }, { clientUserId: "u2", managedAppleId: "u2@org.example" }],
    });
    await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100" }, { adamId: "300" }],
      clientUserIds: ["u1", "u2"],
    });
    await run(emu, api, "/assets/associate", {
      assets: [{ adamId: "100", pricingParam: "PLUS" }],
      serialNumbers: ["S1"],
    });
    const rows = async (q: string) =>
      (await api.get(`/assignments${q}`)).body.assignments
        .map((a: any) => `${a.adamId}/${a.pricingParam}/${a.clientUserId ?? a.serialNumber}`)
        .sort();
    expect(await rows("?adamId=300")).toEqual(["300/STDQ/u1", "300/STDQ/u2"]);
    expect(await rows("?adamId=100&pricingParam=PLUS")).toEqual(["100/PLUS/S1"]);
    expect(await rows("?clientUserId=u2")).toEqual(["100/STDQ/u2", "300/STDQ/u2"]);
    expect(await rows("?serialNumber=S1")).toEqual(["100/PLUS/S1"]);
    expect(await rows("?clientUserId=u1&adamId=100")).toEqual(["100/STDQ/u1"]);
    const withState = (await api.get("/assignments?clientUserId=u2&includeUserState=true")).body
      .assignments[0];
    expect(withState.userStatus).toBe("Associated");
    expect(withState.idHash).toEqual(expect.any(String));
    const plain = (await api.get("/assignments?clientUserId=u2")).body.assignments[0];
    expect(plain).not.toHaveProperty("userStatus");
    const { rows: all } = await allPages(api, "/assignments", "assignments");
    expect(all).toHaveLength(5);
  });
});
