// Seed 000's FAQ at full size (ENG-2, ENG-6), end to end against the Apple emulator over real HTTP:
// 100 licenses and a device group of 500 iPads → exactly the 100 earliest members licensed AT THE
// EMULATOR and 400 waiting with insufficientLicenses; 50 more bought at the emulator → the next 50
// served; a licensed device removed from the group → released at the emulator and the next waiting
// one served. "Earliest" is the entitlement time (when the device joined the group), not creation
// order: the devices created last join first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const LICENSES = 100;
const DEVICES = 500;
const BOUGHT = 50;

describe("seed 000 FAQ at full size: 100 licenses, 500 devices", () => {
  let s: SyncSetup;
  let uId: string;
  let appId: string;
  let tokenId: string;
  let groupId: string;
  const adamId = "710000001";
  const serial = (i: number) => `FAQ${String(i).padStart(5, "0")}`;
  /** Serials in queue order: the second half of the devices joined the group first. */
  const queue: string[] = [];

  const req = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    s.t.request(method, path, { token: s.t.adminToken, body, headers });
  const db = () => s.t.allot.database.db;
  const emulatorSerials = async () =>
    (await s.emu.control.assignments(uId)).assignments
      .filter((a) => a.adamId === adamId)
      .map((a) => a.serialNumber as string)
      .sort();
  const holdings = () =>
    db().selectFrom("license_holdings").selectAll().where("app_id", "=", appId).execute();
  /** Waits until the emulator holds exactly `want` and no holding is in flight. */
  const settled = (want: readonly string[]) =>
    waitFor(
      "the emulator to hold the expected licenses",
      async () => {
        const got = await emulatorSerials();
        const busy = (await holdings()).some(
          (x) => x.state === "pendingAssign" || x.state === "pendingRelease",
        );
        return !busy && JSON.stringify(got) === JSON.stringify([...want].sort()) ? got : undefined;
      },
      45_000,
    );
  async function importCsv(kind: string, lines: string[]) {
    const r = await req("POST", `/beta/imports?kind=${kind}&fileName=${kind}.csv`, `${lines.join("\n")}\n`, {
      "content-type": "text/csv",
    });
    expect(r.status).toBe(202);
    await waitFor(`the ${kind} import`, async () => {
      const st = (await req("GET", `/beta/imports/${r.body.id}`)).body;
      if (st.status === "failed") throw new Error(JSON.stringify(st.errors));
      return st.status === "completed" ? st : undefined;
    });
  }
  const deviceIdOf = async (sn: string) =>
    (await db().selectFrom("devices").select("id").where("serial_number", "=", sn).executeTakeFirstOrThrow())
      .id;

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "FAQ",
      countryISO2ACode: "US",
      assets: [
        {
          adamId,
          name: "Pages",
          totalCount: LICENSES,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
        {
          adamId: "710000002",
          name: "Numbers",
          totalCount: 5,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    uId = loc.uId;
    tokenId = (await uploadToken(s, loc.sToken)).id;
    appId = (
      await db().selectFrom("apps").select("id").where("adam_id", "=", adamId).executeTakeFirstOrThrow()
    ).id;
    await importCsv("groups", ["mailNickname,displayName,memberKind", "faq-ipads,FAQ iPads,device"]);
    groupId = (
      await db()
        .selectFrom("groups")
        .select("id")
        .where("mail_nickname", "=", "faq-ipads")
        .executeTakeFirstOrThrow()
    ).id;
    await importCsv("devices", [
      "serialNumber,deviceName,operatingSystem",
      ...Array.from({ length: DEVICES }, (_, i) => `${serial(i)},iPad ${i},iPadOS`),
    ]);
    // Devices 250..499 (created last) join first, devices 0..249 a moment later.
    const late = Array.from({ length: DEVICES / 2 }, (_, i) => serial(i));
    const early = Array.from({ length: DEVICES / 2 }, (_, i) => serial(DEVICES / 2 + i));
    await importCsv("members", [
      "groupMailNickname,memberType,member",
      ...early.map((sn) => `faq-ipads,device,${sn}`),
    ]);
    await new Promise((r) => setTimeout(r, 20));
    await importCsv("members", [
      "groupMailNickname,memberType,member",
      ...late.map((sn) => `faq-ipads,device,${sn}`),
    ]);
    queue.push(...early, ...late);
  }, 120_000);
  afterAll(async () => s?.close());

  it("licenses exactly the 100 earliest members at the emulator; 400 wait with insufficientLicenses", async () => {
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
    await settled(queue.slice(0, LICENSES));
    const h = await holdings();
    expect(h.filter((x) => x.state === "assigned")).toHaveLength(LICENSES);
    const waiting = h.filter((x) => x.state === "waiting");
    expect(waiting).toHaveLength(DEVICES - LICENSES);
    expect(new Set(waiting.map((x) => x.reason))).toEqual(new Set(["insufficientLicenses"]));
    // Nothing else at the emulator, and every license associated once.
    expect(
      (await s.emu.control.assignments(uId)).assignments.filter((a) => a.adamId !== adamId),
    ).toHaveLength(0);
    const assignedEvents = await db()
      .selectFrom("license_events")
      .select("holder_id")
      .where("app_id", "=", appId)
      .where("to_state", "=", "assigned")
      .execute();
    expect(assignedEvents).toHaveLength(LICENSES);
    const asset = (await s.emu.control.assets(uId)).assets.find((a) => a.adamId === adamId);
    expect(asset?.assignedCount).toBe(LICENSES);
    expect(asset?.availableCount).toBe(0);
  }, 60_000);

  it("serves the next 50 in queue order after 50 are bought at the emulator", async () => {
    await s.emu.control.purchase(uId, { adamId, count: BOUGHT });
    const sync = await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`);
    expect(sync.status).toBeLessThan(300);
    await settled(queue.slice(0, LICENSES + BOUGHT));
    const h = await holdings();
    expect(h.filter((x) => x.state === "waiting" && x.reason === "insufficientLicenses")).toHaveLength(
      DEVICES - LICENSES - BOUGHT,
    );
  }, 60_000);

  it("releases a device removed from the group at the emulator and serves the next waiting one", async () => {
    const leaver = queue[7];
    const leaverId = await deviceIdOf(leaver);
    const r = await req("DELETE", `/v1.0/groups/${groupId}/members/${leaverId}/$ref`);
    expect(r.status).toBe(204);
    const next = queue[LICENSES + BOUGHT];
    await settled([...queue.slice(0, LICENSES + BOUGHT).filter((sn) => sn !== leaver), next]);
    const h = await holdings();
    const row = h.find((x) => x.holder_id === leaverId);
    expect(row?.state).toBe("released");
    expect(row?.reason).toBe("notTargeted");
    const nextRow = h.find((x) => x.store_key === next);
    expect(nextRow?.state).toBe("assigned");
    expect(h.filter((x) => x.state === "assigned")).toHaveLength(LICENSES + BOUGHT);
    // The leaver was disassociated once, the next one associated once.
    const events = await db().selectFrom("license_events").selectAll().where("app_id", "=", appId).execute();
    expect(events.filter((e) => e.holder_id === leaverId && e.to_state === "released")).toHaveLength(1);
    expect(events.filter((e) => e.store_key === next && e.to_state === "assigned")).toHaveLength(1);
  }, 60_000);
});
