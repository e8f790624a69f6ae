// Pagination, versionIds and sinceVersionId (reference §7, §16.11–12), and the scale the benchmark
// needs (O(page) pages over a large location).
import { afterEach, describe, expect, it } from "vitest";
import type { AppleEmulator } from "./index.ts";
import { type AppleClient, allPages, appleClient, startEmu, stopAll, testOrg } from "./test-helpers.ts";

afterEach(stopAll);

const key = (a: any) => `${a.adamId}/${a.pricingParam}/${a.clientUserId ?? a.serialNumber}`;

async function flushRun(emu: AppleEmulator, api: AppleClient, path: string, body: unknown) {
  const r = await api.post(path, body);
  expect(r.status).toBe(200);
  emu.flush();
}

async function setup(pageSize = 4) {
  const emu = await startEmu({ settleMs: 0, pageSize });
  const { uId, sToken } = await emu.control.createLocation({
    ...testOrg,
    assets: [
      { adamId: "1", totalCount: 100 },
      { adamId: "2", totalCount: 100 },
      { adamId: "3", totalCount: 100 },
    ],
  });
  await emu.control.seedAssignments(uId, { generate: { count: 10, serialPrefix: "SER" } });
  return { emu, uId, api: appleClient(emu, sToken) };
}

describe("pagination", () => {
  it("zero-based pages, nextPageIndex only while more pages exist, 9650 beyond the last", async () => {
    const { emu, uId, api } = await setup(4);
    const p0 = (await api.get("/assignments")).body;
    expect(p0).toMatchObject({ currentPageIndex: 0, nextPageIndex: 1, size: 4, totalPages: 3 });
    const p2 = (await api.get("/assignments?pageIndex=2")).body;
    expect(p2).toMatchObject({ currentPageIndex: 2, size: 2, totalPages: 3 });
    expect(p2).not.toHaveProperty("nextPageIndex");
    expect((await api.get("/assignments?pageIndex=3")).body.errorNumber).toBe(9650);
    const { rows } = await allPages(api, "/assignments", "assignments");
    const truth = (await emu.control.assignments(uId)).assignments;
    expect(rows.map(key).sort()).toEqual(truth.map(key).sort());
    expect(new Set(rows.map(key)).size).toBe(10);
  });

  it("pages fetched in parallel within one version are consistent", async () => {
    const { emu, uId, api } = await setup(3);
    const first = (await api.get("/assignments")).body;
    const rest = await Promise.all(
      Array.from({ length: first.totalPages - 1 }, (_, i) => api.get(`/assignments?pageIndex=${i + 1}`)),
    );
    const rows = [first, ...rest.map((r) => r.body)];
    expect(new Set(rows.map((r) => r.versionId)).size).toBe(1);
    const all = rows.flatMap((r) => r.assignments).map(key);
    expect(all.sort()).toEqual((await emu.control.assignments(uId)).assignments.map(key).sort());
  });

  it("a change mid-walk is visible as a new versionId (and totalPages follows the data)", async () => {
    const { emu, api } = await setup(4);
    const p0 = (await api.get("/assignments")).body;
    await flushRun(emu, api, "/assets/associate", {
      assets: [{ adamId: "1" }],
      serialNumbers: ["N1", "N2", "N3"],
    });
    const p1 = (await api.get("/assignments?pageIndex=1")).body;
    expect(p1.versionId).not.toBe(p0.versionId);
    expect(p1.totalPages).toBe(4);
    // Users and assets have their own versionIds: a user change leaves the assignment version alone.
    const assetsBefore = (await api.get("/assets")).body.versionId;
    await flushRun(emu, api, "/users/create", { users: [{ clientUserId: "u1" }] });
    expect((await api.get("/assignments?pageIndex=1")).body.versionId).toBe(p1.versionId);
    expect((await api.get("/assets")).body.versionId).toBe(assetsBefore);
  });

  it("the page size is a runtime knob", async () => {
    const { emu, api } = await setup(4);
    await emu.control.patchConfig({ pageSize: 7 });
    expect((await api.get("/assignments")).body).toMatchObject({ size: 7, totalPages: 2 });
  });
});

describe("sinceVersionId", () => {
  it("returns records changed after that version; removals are omitted by default; zero records is not an error", async () => {
    const { emu, api } = await setup(100);
    const { rows, versionIds } = await allPages(api, "/assignments", "assignments");
    const v0 = versionIds[0];
    const none = (await api.get(`/assignments?sinceVersionId=${v0}`)).body;
    expect(none).toMatchObject({
      assignments: [],
      size: 0,
      totalPages: 0,
      currentPageIndex: 0,
      versionId: v0,
    });
    await flushRun(emu, api, "/assets/associate", {
      assets: [{ adamId: "2" }],
      serialNumbers: ["NEW1", "NEW2"],
    });
    const removed = rows[0];
    await flushRun(emu, api, "/assets/disassociate", {
      assets: [{ adamId: removed.adamId }],
      serialNumbers: [removed.serialNumber],
    });
    const delta = (await api.get(`/assignments?sinceVersionId=${v0}`)).body;
    expect(delta.assignments.map(key).sort()).toEqual(["2/STDQ/NEW1", "2/STDQ/NEW2"]);
    expect(delta.versionId).not.toBe(v0);
    const filtered = (await api.get(`/assignments?sinceVersionId=${v0}&serialNumber=NEW2`)).body.assignments;
    expect(filtered.map(key)).toEqual(["2/STDQ/NEW2"]);
    // The newest version has nothing after it.
    expect((await api.get(`/assignments?sinceVersionId=${delta.versionId}`)).body.assignments).toEqual([]);
    // /assets has no sinceVersionId: the parameter is ignored.
    expect((await api.get(`/assets?sinceVersionId=${v0}`)).body.assets).toHaveLength(3);
  });

  it("sinceVersionRemovals 'flag' lists removed assignments with removed: true", async () => {
    const emu = await startEmu({ settleMs: 0, sinceVersionRemovals: "flag" });
    const { sToken } = await emu.control.createLocation({
      ...testOrg,
      assets: [{ adamId: "1", totalCount: 10 }],
    });
    const api = appleClient(emu, sToken);
    await flushRun(emu, api, "/assets/associate", { assets: [{ adamId: "1" }], serialNumbers: ["A", "B"] });
    const v0 = (await api.get("/assignments")).body.versionId;
    await flushRun(emu, api, "/assets/disassociate", { assets: [{ adamId: "1" }], serialNumbers: ["A"] });
    const delta = (await api.get(`/assignments?sinceVersionId=${v0}`)).body.assignments;
    expect(delta).toEqual([{ adamId: "1", pricingParam: "STDQ", serialNumber: "A", removed: true }]);
  });

  it("users: changed rows since a version (a retirement shows up as a Retired row)", async () => {
    const { emu, api } = await setup();
    await flushRun(emu, api, "/users/create", { users: [{ clientUserId: "u1" }, { clientUserId: "u2" }] });
    const v = (await api.get("/users")).body.versionId;
    await flushRun(emu, api, "/users/retire", { users: [{ clientUserId: "u2" }] });
    await flushRun(emu, api, "/users/create", { users: [{ clientUserId: "u3" }] });
    const delta = (await api.get(`/users?sinceVersionId=${v}`)).body.users.map((u: any) => [
      u.clientUserId,
      u.status,
    ]);
    expect(delta).toEqual([
      ["u2", "Retired"],
      ["u3", "Registered"],
    ]);
    expect(
      (await api.get(`/users?sinceVersionId=${v}&activeOnly=true`)).body.users.map(
        (u: any) => u.clientUserId,
      ),
    ).toEqual(["u3"]);
  });
});

describe("scale", () => {
  it("200,000 assignments over 2,000 assets: pages of 1,000 in O(page), one version throughout", async () => {
    const emu = await startEmu({ settleMs: 0, pageSize: 1000 });
    const assets = Array.from({ length: 2000 }, (_, i) => ({ adamId: String(500000 + i), totalCount: 200 }));
    const { uId, sToken } = await emu.control.createLocation({ ...testOrg, assets });
    const seeded = await emu.control.seedAssignments(uId, { generate: { count: 200_000 } });
    expect(seeded).toMatchObject({ added: 200_000, skipped: 0, assignmentCount: 200_000 });
    const api = appleClient(emu, sToken);
    // O(page): the last page costs about what the first does (not 200× it). Compared with the first
    // page rather than a fixed time, so a busy machine does not fail it.
    await api.get("/assignments?pageIndex=0");
    let started = performance.now();
    await api.get("/assignments?pageIndex=0");
    const firstMs = performance.now() - started;
    started = performance.now();
    const last = (await api.get("/assignments?pageIndex=199")).body;
    expect(performance.now() - started).toBeLessThan(Math.max(5 * firstMs, 300));
    expect(last).toMatchObject({ size: 1000, totalPages: 200, currentPageIndex: 199 });
    const { rows, versionIds } = await allPages(api, "/assignments", "assignments");
    expect(rows).toHaveLength(200_000);
    expect(new Set(versionIds).size).toBe(1);
    expect(new Set(rows.map(key)).size).toBe(200_000);
    const assetsPage = (await api.get("/assets?pageIndex=1")).body;
    expect(assetsPage).toMatchObject({ size: 1000, totalPages: 2 });
    expect(assetsPage.assets.every((a: any) => a.assignedCount === 100 && a.availableCount === 100)).toBe(
      true,
    );
  });
});
