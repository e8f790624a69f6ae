// ASG-1..4: assignments of store apps and books as Graph has them, over real HTTP after a real sync
// against the Apple emulator: assign replaces the whole set, CRUD, $expand=assignments, v1.0 vs beta
// settings, every invalid combination → 400 naming it, audit with before/after, roles, the
// after-commit change listener, and the Graph JS SDK posting an assign body.
import { randomUUID } from "node:crypto";
import { Client, HTTPMessageHandler, type Middleware } from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toEngineAssignment } from "../../src/modules/assignments/assignments.entities.ts";
import { engine } from "../helpers/allot.ts";
import { type SyncSetup, startSyncSetup, uploadToken } from "./sync-helpers.ts";

const APPS = "deviceAppManagement/mobileApps";
const BOOKS = "deviceAppManagement/managedEBooks";
const GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget";
const EXCLUSION_TARGET = "#microsoft.graph.exclusionGroupAssignmentTarget";
const IOS_SETTINGS = "#microsoft.graph.iosVppAppAssignmentSettings";

const asg = (intent: string, target: Record<string, unknown>, settings?: Record<string, unknown>) => ({
  "@odata.type": "#microsoft.graph.mobileAppAssignment",
  intent,
  target,
  ...(settings ? { settings: { "@odata.type": IOS_SETTINGS, ...settings } } : {}),
});
const group = (groupId: string) => ({ "@odata.type": GROUP_TARGET, groupId });
const exclusion = (groupId: string) => ({ "@odata.type": EXCLUSION_TARGET, groupId });
const allUsers = { "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget" };
const allDevices = { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" };

describe(`assignments (${engine})`, () => {
  let s: SyncSetup;
  let ids: { ios: string; mac: string; noDevice: string; book: string };
  let groups: { users: string; devices: string; mixed: string; other: string };
  const changed: string[] = [];
  const req = (method: string, path: string, body?: unknown, token?: string) =>
    s.t.request(method, path, { token: token ?? s.t.adminToken, ...(body === undefined ? {} : { body }) });
  const assign = (version: string, appId: string, list: unknown[], token?: string) =>
    req("POST", `/${version}/${APPS}/${appId}/assign`, { mobileAppAssignments: list }, token);
  const listOf = async (version: string, appId: string) => {
    const r = await req("GET", `/${version}/${APPS}/${appId}/assignments`);
    expect(r.status).toBe(200);
    return r.body.value as any[];
  };
  const expect400 = async (res: { status: number; body: any }, ...words: string[]) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe("Request_BadRequest");
    for (const w of words) expect(res.body.error.message).toContain(w);
  };

  beforeAll(async () => {
    s = await startSyncSetup({ notifications: false });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso Ltd",
      locationName: "Assignments",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: "710000001",
          name: "Keynote",
          totalCount: 10,
          deviceAssignable: true,
          supportedPlatforms: ["iOS", "macOS"],
        },
        {
          adamId: "710000002",
          name: "Final Cut Pro",
          totalCount: 5,
          deviceAssignable: true,
          supportedPlatforms: ["macOS"],
        },
        {
          adamId: "710000003",
          name: "Users Only",
          totalCount: 5,
          deviceAssignable: false,
          supportedPlatforms: ["iOS"],
        },
        { adamId: "710000004", productType: "Book", name: "Swift Book", totalCount: 20 },
      ],
    });
    await uploadToken(s, loc.sToken, { countryOrRegion: "us" });
    const apps = (await req("GET", `/beta/${APPS}?$top=999`)).body.value as any[];
    const books = (await req("GET", `/beta/${BOOKS}`)).body.value as any[];
    const by = (adamId: string) => apps.find((a) => a.adamId === adamId).id as string;
    ids = { ios: by("710000001"), mac: by("710000002"), noDevice: by("710000003"), book: books[0].id };
    const mk = async (displayName: string, memberKind: string) => {
      const r = await req("POST", "/v1.0/groups", { displayName, memberKind });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    groups = {
      users: await mk("Sales", "user"),
      devices: await mk("Kiosks", "device"),
      mixed: await mk("Everyone", "mixed"),
      other: await mk("Contractors", "user"),
    };
    s.t.allot.services.assignmentsService.onAssignmentsChanged((tenantId, appId) => {
      expect(tenantId).toBe(s.tenantId);
      changed.push(appId);
    });
  });
  afterAll(async () => s?.close());

  it("assign replaces the app's whole set (204); targets kept keep their id; an empty list removes all", async () => {
    changed.length = 0;
    const first = await assign("v1.0", ids.ios, [
      asg("required", group(groups.users), { useDeviceLicensing: false }),
      asg("required", group(groups.devices), { useDeviceLicensing: true }),
      asg("required", exclusion(groups.other)),
    ]);
    expect(first.status).toBe(204);
    expect(first.text).toBe("");
    const before = await listOf("v1.0", ids.ios);
    expect(before.map((a) => [a.target["@odata.type"], a.target.groupId, a.intent])).toEqual([
      [GROUP_TARGET, groups.users, "required"],
      [GROUP_TARGET, groups.devices, "required"],
      [EXCLUSION_TARGET, groups.other, "required"],
    ]);
    expect(changed).toEqual([ids.ios]);
    expect((await req("GET", `/beta/${APPS}/${ids.ios}`)).body.isAssigned).toBe(true);

    const second = await assign("v1.0", ids.ios, [
      asg("available", group(groups.users)),
      asg("required", allUsers, { useDeviceLicensing: false }),
    ]);
    expect(second.status).toBe(204);
    const after = await listOf("v1.0", ids.ios);
    expect(after.map((a) => [a.target["@odata.type"], a.target.groupId ?? null, a.intent])).toEqual([
      [GROUP_TARGET, groups.users, "available"],
      ["#microsoft.graph.allLicensedUsersAssignmentTarget", null, "required"],
    ]);
    // Same target → same assignment (its id and creation order stay); the others are gone.
    expect(after[0].id).toBe(before[0].id);
    expect(after.map((a) => a.id)).not.toContain(before[1].id);
    expect(after.map((a) => a.id)).not.toContain(before[2].id);
    expect(changed).toEqual([ids.ios, ids.ios]);

    // Sending the same set again changes nothing and reports nothing.
    expect(
      (
        await assign("v1.0", ids.ios, [
          asg("available", group(groups.users)),
          asg("required", allUsers, { useDeviceLicensing: false }),
        ])
      ).status,
    ).toBe(204);
    expect(changed).toHaveLength(2);

    expect((await assign("v1.0", ids.ios, [])).status).toBe(204);
    expect(await listOf("v1.0", ids.ios)).toEqual([]);
    expect((await req("GET", `/beta/${APPS}/${ids.ios}`)).body.isAssigned).toBe(false);
    expect((await req("POST", `/v1.0/${APPS}/${ids.ios}/assign`, {})).status).toBe(204);
    expect(changed).toHaveLength(3);
  });

  it("shows assignments exactly as Graph: v1.0 settings have no beta-only members, beta adds them", async () => {
    const res = await assign("beta", ids.ios, [
      asg("required", group(groups.devices), {
        useDeviceLicensing: true,
        uninstallOnDeviceRemoval: true,
        preventAutoAppUpdate: true,
      }),
    ]);
    expect(res.status).toBe(204);
    const [v1] = await listOf("v1.0", ids.ios);
    expect(v1).toEqual({
      "@odata.type": "#microsoft.graph.mobileAppAssignment",
      id: v1.id,
      intent: "required",
      target: { "@odata.type": GROUP_TARGET, groupId: groups.devices },
      settings: { "@odata.type": IOS_SETTINGS, useDeviceLicensing: true, vpnConfigurationId: null },
    });
    const [beta] = await listOf("beta", ids.ios);
    expect(beta).toEqual({
      "@odata.type": "#microsoft.graph.mobileAppAssignment",
      id: v1.id,
      intent: "required",
      source: "direct",
      sourceId: null,
      target: {
        "@odata.type": GROUP_TARGET,
        groupId: groups.devices,
        deviceAndAppManagementAssignmentFilterId: null,
        deviceAndAppManagementAssignmentFilterType: "none",
      },
      settings: {
        "@odata.type": IOS_SETTINGS,
        useDeviceLicensing: true,
        vpnConfigurationId: null,
        uninstallOnDeviceRemoval: true,
        isRemovable: null,
        preventManagedAppBackup: null,
        preventAutoAppUpdate: true,
      },
    });
    const list = await req("GET", `/v1.0/${APPS}/${ids.ios}/assignments`);
    expect(list.body["@odata.context"]).toMatch(
      new RegExp(`/v1\\.0/\\$metadata#deviceAppManagement/mobileApps\\('${ids.ios}'\\)/assignments$`),
    );

    // Beta-only settings sent to v1.0 → 400 naming them.
    await expect400(
      await assign("v1.0", ids.ios, [
        asg("required", group(groups.devices), { useDeviceLicensing: true, isRemovable: false }),
      ]),
      "isRemovable",
      "/beta",
    );
    await expect400(
      await req(
        "POST",
        `/v1.0/${APPS}/${ids.ios}/assignments`,
        asg("required", group(groups.users), { uninstallOnDeviceRemoval: true }),
      ),
      "uninstallOnDeviceRemoval",
    );
    // A v1.0 change keeps the beta-only members it cannot see.
    const patched = await req("PATCH", `/v1.0/${APPS}/${ids.ios}/assignments/${v1.id}`, {
      settings: { "@odata.type": IOS_SETTINGS, useDeviceLicensing: true },
      intent: "uninstall",
    });
    expect(patched.status).toBe(200);
    expect(patched.body.intent).toBe("uninstall");
    const [kept] = await listOf("beta", ids.ios);
    expect(kept.settings).toMatchObject({ uninstallOnDeviceRemoval: true, preventAutoAppUpdate: true });
    const stored = await s.t.allot.services.assignmentsService.rowsOf(
      s.t.allot.database.db,
      s.tenantId,
      ids.ios,
    );
    expect(stored.map((r) => [r.intent, r.settings])).toEqual([
      ["uninstall", { useDeviceLicensing: true, uninstallOnDeviceRemoval: true, preventAutoAppUpdate: true }],
    ]);
    // The licensing engine's view of the same row.
    const engineView = toEngineAssignment(stored[0]);
    expect(engineView).toMatchObject({
      id: v1.id,
      intent: "uninstall",
      target: { kind: "group", groupId: groups.devices },
      settings: { useDeviceLicensing: true, uninstallOnDeviceRemoval: true },
    });
    expect(Number.isInteger(engineView.seq) && engineView.createdAt > 0).toBe(true);
  });

  it("creates, reads, changes and deletes single assignments", async () => {
    expect((await assign("v1.0", ids.ios, [])).status).toBe(204);
    const created = await req(
      "POST",
      `/beta/${APPS}/${ids.ios}/assignments`,
      asg("available", group(groups.mixed), { useDeviceLicensing: false, isRemovable: true }),
    );
    expect(created.status).toBe(201);
    expect(created.body["@odata.context"]).toMatch(
      /\/beta\/\$metadata#deviceAppManagement\/mobileApps\('.+'\)\/assignments\/\$entity$/,
    );
    expect(created.body).toMatchObject({
      intent: "available",
      target: { groupId: groups.mixed },
      settings: { isRemovable: true, useDeviceLicensing: false },
    });
    const id = created.body.id as string;

    const got = await req("GET", `/v1.0/${APPS}/${ids.ios}/assignments/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.settings).toEqual({
      "@odata.type": IOS_SETTINGS,
      useDeviceLicensing: false,
      vpnConfigurationId: null,
    });

    const patched = await req("PATCH", `/beta/${APPS}/${ids.ios}/assignments/${id}`, {
      intent: "required",
      target: group(groups.users),
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id,
      intent: "required",
      target: { groupId: groups.users },
      settings: { isRemovable: true },
    });

    // A second assignment may not target the same group.
    await expect400(
      await req("POST", `/v1.0/${APPS}/${ids.ios}/assignments`, asg("required", exclusion(groups.users))),
      groups.users,
      "twice",
    );

    expect((await req("DELETE", `/v1.0/${APPS}/${ids.ios}/assignments/${id}`)).status).toBe(204);
    expect((await req("GET", `/v1.0/${APPS}/${ids.ios}/assignments/${id}`)).status).toBe(404);
    expect((await req("DELETE", `/v1.0/${APPS}/${ids.ios}/assignments/${id}`)).status).toBe(404);
    expect(
      (await req("PATCH", `/v1.0/${APPS}/${ids.ios}/assignments/${randomUUID()}`, { intent: "required" }))
        .status,
    ).toBe(404);
    expect((await req("GET", `/v1.0/${APPS}/${randomUUID()}/assignments`)).status).toBe(404);
    // macOS apps exist on beta only, and so do their assignments.
    expect((await req("GET", `/v1.0/${APPS}/${ids.mac}/assignments`)).status).toBe(404);
    const mac = await req(
      "POST",
      `/beta/${APPS}/${ids.mac}/assignments`,
      asg("required", group(groups.devices), {
        "@odata.type": "#microsoft.graph.macOsVppAppAssignmentSettings",
        useDeviceLicensing: true,
        uninstallOnDeviceRemoval: false,
      }),
    );
    expect(mac.status, mac.text).toBe(201);
    expect(mac.body.settings).toEqual({
      "@odata.type": "#microsoft.graph.macOsVppAppAssignmentSettings",
      useDeviceLicensing: true,
      uninstallOnDeviceRemoval: false,
      preventManagedAppBackup: null,
      preventAutoAppUpdate: null,
    });
  });

  it("expands assignments on the app list and on one app, on both versions", async () => {
    expect(
      (
        await assign("v1.0", ids.ios, [
          asg("required", group(groups.users)),
          asg("uninstall", exclusion(groups.other)),
        ])
      ).status,
    ).toBe(204);
    expect((await assign("v1.0", ids.noDevice, [])).status).toBe(204);
    for (const v of ["v1.0", "beta"]) {
      const list = await req("GET", `/${v}/${APPS}?$expand=assignments`);
      expect(list.status, list.text).toBe(200);
      const ios = list.body.value.find((a: any) => a.id === ids.ios);
      expect(ios.assignments.map((a: any) => a.target.groupId)).toEqual([groups.users, groups.other]);
      expect(ios.assignments[0]).toEqual((await listOf(v, ids.ios))[0]);
      expect(list.body.value.find((a: any) => a.id === ids.noDevice).assignments).toEqual([]);
      const one = await req("GET", `/${v}/${APPS}/${ids.ios}?$expand=assignments&$select=id,displayName`);
      expect(one.status, one.text).toBe(200);
      expect(Object.keys(one.body).sort()).toEqual([
        "@odata.context",
        "@odata.type",
        "assignments",
        "displayName",
        "id",
      ]);
      expect(one.body.assignments).toHaveLength(2);
    }
    // Without $expand the app carries no assignments; unknown navigation properties are refused.
    expect((await req("GET", `/v1.0/${APPS}/${ids.ios}`)).body.assignments).toBeUndefined();
    await expect400(await req("GET", `/v1.0/${APPS}?$expand=owners`), "owners");
    const books = await req("GET", `/v1.0/${BOOKS}?$expand=assignments`);
    expect(books.status).toBe(200);
    expect(books.body.value[0].assignments).toEqual([]);
  });

  it("refuses every invalid combination with a 400 naming it, and changes nothing", async () => {
    expect((await assign("v1.0", ids.ios, [asg("required", group(groups.users))])).status).toBe(204);
    const snapshot = await listOf("beta", ids.ios);
    changed.length = 0;

    await expect400(
      await assign("v1.0", ids.ios, [asg("available", group(groups.devices))]),
      "'available'",
      "Kiosks",
      "device group",
    );
    await expect400(
      await assign("v1.0", ids.ios, [asg("available", allDevices)]),
      "'available'",
      "all devices",
    );
    await expect400(
      await assign("v1.0", ids.noDevice, [
        asg("required", group(groups.users), { useDeviceLicensing: true }),
      ]),
      "Users Only",
      "device-licensed",
    );
    const ghost = randomUUID();
    await expect400(await assign("v1.0", ids.ios, [asg("required", group(ghost))]), ghost, "does not exist");
    await expect400(
      await assign("v1.0", ids.ios, [asg("required", exclusion(ghost))]),
      ghost,
      "does not exist",
    );
    await expect400(
      await assign("v1.0", ids.ios, [
        asg("required", group(groups.users)),
        asg("available", group(groups.users)),
      ]),
      groups.users,
      "twice",
    );
    await expect400(
      await assign("v1.0", ids.ios, [
        asg("required", group(groups.users)),
        asg("required", exclusion(groups.users)),
      ]),
      groups.users,
      "twice",
    );
    await expect400(
      await assign("v1.0", ids.ios, [asg("required", allUsers), asg("available", allUsers)]),
      "allLicensedUsersAssignmentTarget",
      "twice",
    );
    await expect400(
      await assign("v1.0", ids.ios, [asg("availableWithoutEnrollment", group(groups.users))]),
      "availableWithoutEnrollment",
    );
    await expect400(await assign("v1.0", ids.ios, [asg("sometimes", group(groups.users))]), "'intent'");
    await expect400(
      await assign("v1.0", ids.ios, [
        asg("required", {
          "@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
          collectionId: "x",
        }),
      ]),
      "configurationManagerCollectionAssignmentTarget",
    );
    await expect400(
      await assign("v1.0", ids.ios, [asg("required", { "@odata.type": GROUP_TARGET })]),
      "groupId",
    );
    await expect400(
      await assign("v1.0", ids.ios, [
        {
          intent: "required",
          target: group(groups.users),
          settings: { "@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings" },
        },
      ]),
      "win32LobAppAssignmentSettings",
    );
    await expect400(
      await assign("v1.0", ids.ios, [asg("required", group(groups.users), { vpnConfigurationId: "vpn-1" })]),
      "vpnConfigurationId",
    );
    await expect400(
      await assign("beta", ids.ios, [
        asg("required", {
          ...group(groups.users),
          deviceAndAppManagementAssignmentFilterId: randomUUID(),
          deviceAndAppManagementAssignmentFilterType: "include",
        }),
      ]),
      "filter",
    );
    await expect400(
      await req("POST", `/v1.0/${APPS}/${ids.ios}/assign`, { mobileAppAssignments: {} }),
      "mobileAppAssignments",
      "array",
    );
    await expect400(
      await req("POST", `/v1.0/${APPS}/${ids.ios}/assign`, { assignments: [] }),
      "'assignments'",
    );
    await expect400(
      await assign("v1.0", ids.ios, [{ ...asg("required", group(groups.users)), source: "direct" }]),
      "'source'",
      "/beta",
    );

    // Books: users only, never device licensing; apps and books each through their own set.
    await expect400(
      await assign("v1.0", ids.book, [asg("required", group(groups.users), { useDeviceLicensing: true })]),
      "book",
      "device licensing",
      "managedEBooks",
    );
    await expect400(
      await req("POST", `/v1.0/${BOOKS}/${ids.book}/assign`, {
        managedEBookAssignments: [
          { installIntent: "required", target: group(groups.users), settings: { useDeviceLicensing: true } },
        ],
      }),
      "Books cannot use device licensing",
    );
    await expect400(
      await req("POST", `/v1.0/${BOOKS}/${ids.book}/assign`, {
        managedEBookAssignments: [{ installIntent: "required", target: allDevices }],
      }),
      "users only",
      "allDevices",
    );
    await expect400(
      await req("POST", `/v1.0/${BOOKS}/${ids.book}/assign`, {
        managedEBookAssignments: [{ installIntent: "required", target: group(groups.devices) }],
      }),
      "Kiosks",
      "device group",
    );
    await expect400(
      await req("POST", `/v1.0/${BOOKS}/${ids.ios}/assign`, { managedEBookAssignments: [] }),
      "not a book",
    );

    // Not a store app: a row of another source (later stores) is not assignable here.
    const webAppId = randomUUID();
    await s.t.allot.database.db
      .insertInto("apps")
      .values({
        tenant_id: s.tenantId,
        id: webAppId,
        odata_type: "microsoft.graph.webApp",
        source: "saas",
        display_name: "Web thing",
      } as any)
      .execute();
    await expect400(
      await assign("v1.0", webAppId, [asg("required", group(groups.users))]),
      "Web thing",
      "not a volume-purchased store app",
    );
    expect((await assign("v1.0", randomUUID(), [])).status).toBe(404);

    expect(await listOf("beta", ids.ios)).toEqual(snapshot);
    expect(changed).toEqual([]);
  });

  it("an assignment whose group was deleted since does not block changing the others; re-sending the same set is no change", async () => {
    const doomed = (await req("POST", "/v1.0/groups", { displayName: "Temporary", memberKind: "user" })).body
      .id as string;
    const full = [
      asg("required", group(doomed), { useDeviceLicensing: false }),
      asg("required", group(groups.devices), {
        useDeviceLicensing: true,
        uninstallOnDeviceRemoval: true,
        isRemovable: false,
      }),
    ];
    expect((await assign("beta", ids.ios, full)).status).toBe(204);
    expect((await req("DELETE", `/v1.0/groups/${doomed}`)).status).toBe(204);
    changed.length = 0;
    expect((await assign("beta", ids.ios, full)).status).toBe(204);
    expect(changed).toEqual([]);
    const added = await req(
      "POST",
      `/v1.0/${APPS}/${ids.ios}/assignments`,
      asg("available", group(groups.users)),
    );
    expect(added.status, added.text).toBe(201);
    expect(changed).toEqual([ids.ios]);
    // A new target still has to exist.
    await expect400(
      await req("POST", `/v1.0/${APPS}/${ids.ios}/assignments`, asg("required", group(randomUUID()))),
      "does not exist",
    );
  });

  it("assigns books with installIntent (managedEBookAssignment)", async () => {
    const res = await req("POST", `/v1.0/${BOOKS}/${ids.book}/assign`, {
      managedEBookAssignments: [
        {
          "@odata.type": "#microsoft.graph.iosVppEBookAssignment",
          installIntent: "required",
          target: group(groups.users),
        },
        {
          "@odata.type": "#microsoft.graph.managedEBookAssignment",
          installIntent: "available",
          target: allUsers,
        },
        { installIntent: "required", target: exclusion(groups.other) },
      ],
    });
    expect(res.status, res.text).toBe(204);
    const list = await req("GET", `/v1.0/${BOOKS}/${ids.book}/assignments`);
    expect(list.status).toBe(200);
    expect(list.body.value[0]).toEqual({
      "@odata.type": "#microsoft.graph.iosVppEBookAssignment",
      id: list.body.value[0].id,
      target: { "@odata.type": GROUP_TARGET, groupId: groups.users },
      installIntent: "required",
    });
    expect(list.body.value.map((a: any) => a.installIntent)).toEqual(["required", "available", "required"]);
    // A book is not in the mobileApps set.
    expect((await req("GET", `/v1.0/${APPS}/${ids.book}/assignments`)).status).toBe(404);
  });

  it("audits each change with the assignments before and after", async () => {
    expect((await assign("v1.0", ids.noDevice, [asg("required", group(groups.users))])).status).toBe(204);
    expect((await assign("v1.0", ids.noDevice, [asg("available", group(groups.mixed))])).status).toBe(204);
    const events = await req(
      "GET",
      `/beta/deviceManagement/auditEvents?$filter=${encodeURIComponent("activity eq 'Assign app'")}`,
    );
    expect(events.status).toBe(200);
    const mine = (events.body.value as any[]).filter((e) => e.resources[0].resourceId === ids.noDevice);
    expect(mine.length).toBe(2);
    const last = mine.sort((a, b) => a.activityDateTime.localeCompare(b.activityDateTime)).at(-1);
    const prop = last.resources[0].modifiedProperties.find((p: any) => p.displayName === "assignments");
    expect(JSON.parse(prop.oldValue).map((a: any) => [a.intent, a.target.groupId])).toEqual([
      ["required", groups.users],
    ]);
    expect(JSON.parse(prop.newValue).map((a: any) => [a.intent, a.target.groupId])).toEqual([
      ["available", groups.mixed],
    ]);
    expect(last.activityOperationType).toBe("Action");
  });

  it("lets only Global administrators and Application managers change assignments; every role reads them", async () => {
    const reader = await s.t.tokenFor(["reader"]);
    const licenseAdmin = await s.t.tokenFor(["licenseAdministrator"]);
    const appManager = await s.t.tokenFor(["applicationManager"]);
    expect((await assign("v1.0", ids.ios, [], reader)).status).toBe(403);
    expect((await assign("v1.0", ids.ios, [], licenseAdmin)).status).toBe(403);
    expect(
      (await req("POST", `/v1.0/${APPS}/${ids.ios}/assignments`, asg("required", allUsers), reader)).status,
    ).toBe(403);
    expect((await req("GET", `/v1.0/${APPS}/${ids.ios}/assignments`, undefined, reader)).status).toBe(200);
    expect((await assign("v1.0", ids.ios, [asg("required", allUsers)], appManager)).status).toBe(204);
    expect((await listOf("v1.0", ids.ios)).map((a) => a.target["@odata.type"])).toEqual([
      "#microsoft.graph.allLicensedUsersAssignmentTarget",
    ]);
  });

  it("accepts an assign body posted by the Microsoft Graph JS SDK", async () => {
    const bearer: Middleware & { next?: Middleware } = {
      async execute(context) {
        context.options = {
          ...(context.options ?? {}),
          headers: {
            ...((context.options?.headers as Record<string, string>) ?? {}),
            Authorization: `Bearer ${s.t.adminToken}`,
          },
        };
        return this.next!.execute(context);
      },
      setNext(next: Middleware) {
        this.next = next;
      },
    };
    bearer.setNext!(new HTTPMessageHandler());
    const client = Client.initWithMiddleware({
      baseUrl: s.t.url,
      middleware: bearer,
      defaultVersion: "beta",
    });
    await client.api(`/${APPS}/${ids.ios}/assign`).post({
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "microsoft.graph.groupAssignmentTarget", groupId: groups.devices },
          settings: {
            "@odata.type": "microsoft.graph.iosVppAppAssignmentSettings",
            useDeviceLicensing: true,
            vpnConfigurationId: null,
          },
        },
      ],
    });
    const got = await client.api(`/${APPS}/${ids.ios}/assignments`).get();
    expect(got.value.map((a: any) => [a.target.groupId, a.settings.useDeviceLicensing])).toEqual([
      [groups.devices, true],
    ]);
  });
});
