// APP-1..4, REV-3: /deviceAppManagement/mobileApps and /managedEBooks after a real sync against the
// Apple emulator. Graph shapes per version (beta-only members never on v1.0), type-cast segments,
// isof(), $filter on derived properties, one entry per (token, asset), and the refusals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine } from "../helpers/allot.ts";
import { type SyncSetup, seedLocation, startSyncSetup, uploadToken } from "./sync-helpers.ts";

const APPS = "deviceAppManagement/mobileApps";
const BOOKS = "deviceAppManagement/managedEBooks";

const extensions = [
  "adamId",
  "availableLicenseCount",
  "iconUrl",
  "metadataStatus",
  "pendingLicenseCount",
  "retiredLicenseCount",
  "revokedLicenseCount",
  "unitPrice",
  "untrackedLicenseCount",
];
const mobileAppV1 = [
  "createdDateTime",
  "description",
  "developer",
  "displayName",
  "id",
  "informationUrl",
  "isFeatured",
  "largeIcon",
  "lastModifiedDateTime",
  "notes",
  "owner",
  "privacyInformationUrl",
  "publisher",
  "publishingState",
];
const mobileAppBetaOnly = [
  "dependentAppCount",
  "isAssigned",
  "roleScopeTagIds",
  "supersededAppCount",
  "supersedingAppCount",
  "uploadState",
];
const vppAppV1 = [
  "appStoreUrl",
  "bundleId",
  "licensingType",
  "releaseDateTime",
  "totalLicenseCount",
  "usedLicenseCount",
  "vppTokenAccountType",
  "vppTokenAppleId",
  "vppTokenOrganizationName",
];
const vppAppBetaOnly = ["revokeLicenseActionResults", "vppTokenDisplayName", "vppTokenId"];
const sorted = (...lists: string[][]) => ["@odata.type", ...lists.flat()].sort();

describe(`app catalog (${engine})`, () => {
  let s: SyncSetup;
  let a: Awaited<ReturnType<typeof seedLocation>>;
  let tokenA: string;
  let tokenB: string;
  let ids: { ios: string; mac: string; book: string; iosB: string };
  const get = async (path: string, token?: string, headers?: Record<string, string>) =>
    s.t.request("GET", path, { token: token ?? s.t.adminToken, headers });

  beforeAll(async () => {
    s = await startSyncSetup({ notifications: false });
    a = await seedLocation(s);
    tokenA = (await uploadToken(s, a.sToken, { countryOrRegion: "us", displayName: "Contoso HQ" })).id;
    // A second location holding the same app: it is listed once per token (APP-1).
    const b = await s.emu.control.createLocation({
      orgName: "Contoso Ltd",
      locationName: "Branch",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: a.ids.ios,
          name: "Keynote",
          bundleId: "com.apple.Keynote",
          totalCount: 3,
          supportedPlatforms: ["iOS", "macOS"],
        },
      ],
    });
    tokenB = (await uploadToken(s, b.sToken, { countryOrRegion: "us" })).id;
    const all = (await get(`/beta/${APPS}?$top=999`)).body.value as any[];
    const books = (await get(`/beta/${BOOKS}`)).body.value as any[];
    ids = {
      ios: all.find((x) => x.adamId === a.ids.ios && x.vppTokenId === tokenA).id,
      iosB: all.find((x) => x.adamId === a.ids.ios && x.vppTokenId === tokenB).id,
      mac: all.find((x) => x.adamId === a.ids.mac).id,
      book: books[0].id,
    };
  });
  afterAll(async () => s?.close());

  it("v1.0 lists iosVppApp entries with exactly Graph's v1.0 members (plus Allot's documented extensions); macOS-only apps are beta-only", async () => {
    const res = await get(`/v1.0/${APPS}`);
    expect(res.status).toBe(200);
    expect(res.body["@odata.context"]).toMatch(/\/v1\.0\/\$metadata#deviceAppManagement\/mobileApps$/);
    expect(res.body.value.map((x: any) => x["@odata.type"])).toEqual([
      "#microsoft.graph.iosVppApp",
      "#microsoft.graph.iosVppApp",
    ]);
    const app = res.body.value.find((x: any) => x.id === ids.ios);
    expect(Object.keys(app).sort()).toEqual(
      sorted(mobileAppV1, vppAppV1, ["applicableDeviceType"], extensions),
    );
    expect(app.licensingType).toEqual({ supportsUserLicensing: true, supportsDeviceLicensing: true });
    expect(app.applicableDeviceType).toEqual({ iPad: true, iPhoneAndIPod: true });
    expect(app).toMatchObject({
      publishingState: "published",
      isFeatured: false,
      vppTokenAccountType: "business",
      totalLicenseCount: 50,
      usedLicenseCount: 0,
    });
    expect((await get(`/v1.0/${APPS}/${ids.mac}`)).status).toBe(404);
  });

  it("beta adds its members and lists macOsVppApp entries; books are iosVppEBook on both versions", async () => {
    const all = (await get(`/beta/${APPS}`)).body.value as any[];
    expect(all.map((x) => x["@odata.type"]).sort()).toEqual([
      "#microsoft.graph.iosVppApp",
      "#microsoft.graph.iosVppApp",
      "#microsoft.graph.macOsVppApp",
    ]);
    const ios = all.find((x) => x.id === ids.ios);
    expect(Object.keys(ios).sort()).toEqual(
      sorted(
        mobileAppV1,
        mobileAppBetaOnly,
        vppAppV1,
        vppAppBetaOnly,
        ["applicableDeviceType", "appleDeviceAppDeliveryProtocolType"],
        extensions,
      ),
    );
    expect(ios.licensingType).toEqual({
      supportUserLicensing: true,
      supportDeviceLicensing: true,
      supportsUserLicensing: true,
      supportsDeviceLicensing: true,
    });
    expect(ios).toMatchObject({
      vppTokenId: tokenA,
      vppTokenDisplayName: "Contoso HQ",
      roleScopeTagIds: ["0"],
      uploadState: 1,
    });
    const mac = all.find((x) => x.id === ids.mac);
    expect(Object.keys(mac).sort()).toEqual(
      sorted(mobileAppV1, mobileAppBetaOnly, vppAppV1, vppAppBetaOnly, extensions),
    );
    expect(mac).toMatchObject({
      displayName: "Final Cut Pro",
      bundleId: "com.apple.FinalCut",
      totalLicenseCount: 5,
    });

    const bookMembers = [
      "createdDateTime",
      "description",
      "displayName",
      "id",
      "informationUrl",
      "largeCover",
      "lastModifiedDateTime",
      "privacyInformationUrl",
      "publishedDateTime",
      "publisher",
    ];
    const ebook = [
      "appleId",
      "genres",
      "language",
      "seller",
      "totalLicenseCount",
      "usedLicenseCount",
      "vppOrganizationName",
      "vppTokenId",
    ];
    const v1Book = (await get(`/v1.0/${BOOKS}`)).body.value[0];
    expect(Object.keys(v1Book).sort()).toEqual(sorted(bookMembers, ebook, extensions));
    expect(v1Book).toMatchObject({
      "@odata.type": "#microsoft.graph.iosVppEBook",
      displayName: "The Swift Programming Language",
      vppTokenId: tokenA,
      totalLicenseCount: 20,
      language: "en",
    });
    const betaBook = (await get(`/beta/${BOOKS}/${ids.book}`)).body;
    expect(betaBook["@odata.context"]).toMatch(/\$metadata#deviceAppManagement\/managedEBooks\/\$entity$/);
    expect(betaBook.roleScopeTagIds).toEqual(["0"]);
    expect((await get(`/beta/${APPS}/${ids.book}`)).status).toBe(404);
  });

  it("one entry per (token, asset): the same app in two tokens is two entries with their own counts (APP-1)", async () => {
    const res = await get(`/beta/${APPS}?$filter=adamId eq '${a.ids.ios}'&$orderby=totalLicenseCount desc`);
    expect(res.body.value.map((x: any) => [x.vppTokenId, x.totalLicenseCount])).toEqual([
      [tokenA, 50],
      [tokenB, 3],
    ]);
  });

  it("type-cast segments list and read one type; a wrong cast is a 404 for an entity and a 400 for an unknown type", async () => {
    const ios = await get(`/beta/${APPS}/microsoft.graph.iosVppApp`);
    expect(ios.status).toBe(200);
    expect(ios.body["@odata.context"]).toMatch(/mobileApps\/microsoft\.graph\.iosVppApp$/);
    expect(ios.body.value.map((x: any) => x.id).sort()).toEqual([ids.ios, ids.iosB].sort());
    const mac = await get(`/beta/${APPS}/microsoft.graph.macOsVppApp?$select=displayName`);
    expect(mac.body.value).toEqual([
      { "@odata.type": "#microsoft.graph.macOsVppApp", displayName: "Final Cut Pro" },
    ]);
    expect((await get(`/v1.0/${APPS}/microsoft.graph.macOsVppApp`)).status).toBe(400);
    expect((await get(`/beta/${APPS}/microsoft.graph.windowsStoreApp`)).status).toBe(400);
    expect((await get(`/beta/${APPS}/${ids.ios}/microsoft.graph.iosVppApp`)).body).toMatchObject({
      id: ids.ios,
      "@odata.type": "#microsoft.graph.iosVppApp",
    });
    expect((await get(`/beta/${APPS}/${ids.mac}/microsoft.graph.iosVppApp`)).status).toBe(404);
    expect((await get(`/beta/${APPS}/${ids.mac}/microsoft.graph.user`)).status).toBe(400);
    // assignments is a navigation property (served by the assignments module), not a type cast
    expect((await get(`/beta/${APPS}/${ids.mac}/assignments`)).status).toBe(200);
    expect((await get(`/beta/${APPS}/${ids.mac}/owners`)).status).toBe(400);
    expect((await get(`/beta/${BOOKS}/microsoft.graph.iosVppEBook`)).body.value).toHaveLength(1);
    // applicableDeviceType is iosVppApp's own: filtering macOS apps on it through their cast is refused.
    expect(
      (await get(`/beta/${APPS}/microsoft.graph.macOsVppApp?$filter=applicableDeviceType/iPad eq true`))
        .status,
    ).toBe(400);
  });

  it("isof() and $filter on derived properties work on the base collection", async () => {
    const names = async (filter: string, v = "beta") => {
      const r = await get(`/${v}/${APPS}?$filter=${encodeURIComponent(filter)}&$orderby=displayName`);
      expect(r.status, `${filter}: ${r.text}`).toBe(200);
      return r.body.value.map((x: any) => `${x.displayName}@${x.vppTokenId ?? "?"}`);
    };
    expect(await names("isof('microsoft.graph.macOsVppApp')")).toEqual([`Final Cut Pro@${tokenA}`]);
    expect(
      await names("not isof('microsoft.graph.macOsVppApp') and bundleId eq 'com.apple.keynote'"),
    ).toEqual([`Keynote@${tokenA}`, `Keynote@${tokenB}`]);
    expect(await names(`microsoft.graph.iosVppApp/vppTokenId eq ${tokenB}`)).toEqual([`Keynote@${tokenB}`]);
    expect(await names("licensingType/supportsDeviceLicensing eq true and totalLicenseCount ge 5")).toEqual([
      `Final Cut Pro@${tokenA}`,
      `Keynote@${tokenA}`,
    ]);
    expect(
      await names("applicableDeviceType/iPad eq true and usedLicenseCount eq 0 and totalLicenseCount lt 10"),
    ).toEqual([`Keynote@${tokenB}`]);
    expect(
      await names(
        "startswith(vppTokenOrganizationName, 'contoso') and vppTokenAccountType eq 'business' and metadataStatus eq 'ok'",
      ),
    ).toHaveLength(3);
    expect(
      await names("publishingState eq 'published' and isFeatured eq false and availableLicenseCount gt 4"),
    ).toHaveLength(2);
    // v1.0 has no vppTokenId: a filter on it is refused there.
    const v1 = await get(`/v1.0/${APPS}?$filter=${encodeURIComponent(`vppTokenId eq ${tokenA}`)}`);
    expect(v1.status).toBe(400);
    expect(v1.body.error.message).toContain("vppTokenId");
    expect(
      (await get(`/v1.0/${APPS}?$filter=${encodeURIComponent("isof('microsoft.graph.macOsVppApp')")}`))
        .status,
    ).toBe(400);
    const books = await get(
      `/beta/${BOOKS}?$filter=${encodeURIComponent("genres/any(g: g eq 'Books') and seller eq 'Apple Inc.'")}`,
    );
    expect(books.body.value).toHaveLength(1);
  });

  it("$select, $count, $top and nextLink paging", async () => {
    const first = await get(`/beta/${APPS}?$top=2&$count=true&$select=displayName,totalLicenseCount`);
    expect(first.body["@odata.count"]).toBe(3);
    expect(first.body.value).toHaveLength(2);
    expect(Object.keys(first.body.value[0]).sort()).toEqual([
      "@odata.type",
      "displayName",
      "totalLicenseCount",
    ]);
    const next = new URL(first.body["@odata.nextLink"]);
    const second = await get(next.pathname + next.search);
    expect(second.body.value).toHaveLength(1);
    expect(second.body["@odata.nextLink"]).toBeUndefined();
    const single = await get(`/beta/${APPS}/${ids.ios}?$select=bundleId,untrackedLicenseCount`);
    expect(single.body).toEqual({
      "@odata.context": expect.stringContaining(`${APPS}(bundleId,untrackedLicenseCount)/$entity`),
      "@odata.type": "#microsoft.graph.iosVppApp",
      bundleId: "com.apple.Keynote",
      untrackedLicenseCount: 0,
    });
    expect((await get(`/beta/${APPS}?$select=nothingLikeThis`)).status).toBe(400);
    expect((await get(`/beta/${APPS}?$expand=owners`)).status).toBe(400);
  });

  it("volume-purchased apps and books cannot be created or deleted by hand (APP-2, REV-3)", async () => {
    for (const [path, body] of [
      [
        `/v1.0/${APPS}`,
        {
          "@odata.type": "#microsoft.graph.iosVppApp",
          displayName: "Sneaky",
          bundleId: "com.example.sneaky",
        },
      ],
      [`/beta/${APPS}/microsoft.graph.iosVppApp`, { displayName: "Sneaky" }],
      [`/beta/${APPS}`, { "@odata.type": "#microsoft.graph.macOsVppApp", displayName: "Sneaky" }],
      [`/v1.0/${BOOKS}`, { "@odata.type": "#microsoft.graph.iosVppEBook", displayName: "Sneaky" }],
    ] as const) {
      const res = await s.t.request("POST", path, { token: s.t.adminToken, body });
      expect(res.status, path).toBe(400);
      expect(res.body.error.message).toMatch(/cannot be added by hand.*sync/);
      expect(res.body.error.innerError["request-id"]).toBeTruthy();
    }
    for (const [path, id] of [
      [APPS, ids.ios],
      [APPS, ids.mac],
      [BOOKS, ids.book],
    ] as const) {
      const res = await s.t.request("DELETE", `/beta/${path}/${id}`, { token: s.t.adminToken });
      expect(res.status).toBe(405);
      expect(res.body.error.message).toMatch(/cannot be deleted \(REV-3\)/);
    }
    expect(
      (
        await s.t.request("DELETE", `/beta/${APPS}/00000000-0000-4000-8000-000000000000`, {
          token: s.t.adminToken,
        })
      ).status,
    ).toBe(404);
    expect(
      (await s.t.request("POST", `/beta/${APPS}/${ids.ios}`, { token: s.t.adminToken, body: {} })).status,
    ).toBe(405);
    expect(
      (
        await s.t.request("POST", `/beta/${APPS}/00000000-0000-4000-8000-000000000000`, {
          token: s.t.adminToken,
          body: {},
        })
      ).status,
    ).toBe(404);
    expect((await get(`/beta/${APPS}?$count=true`)).body["@odata.count"]).toBe(3);
  });

  it("PATCH sets only Allot's unitPrice (audited); store properties are read-only; readers may read but not write", async () => {
    const patched = await s.t.request("PATCH", `/beta/${APPS}/${ids.ios}`, {
      token: s.t.adminToken,
      body: { "@odata.type": "#microsoft.graph.iosVppApp", unitPrice: 9.99 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: ids.ios, unitPrice: 9.99, displayName: "Keynote" });
    expect((await get(`/v1.0/${APPS}/${ids.ios}`)).body.unitPrice).toBe(9.99);
    const audit = await get(
      `/beta/deviceManagement/auditEvents?$filter=${encodeURIComponent("activity eq 'Update app'")}`,
    );
    expect(audit.body.value).toHaveLength(1);
    const renamed = await s.t.request("PATCH", `/beta/${APPS}/${ids.ios}`, {
      token: s.t.adminToken,
      body: { displayName: "Renamed" },
    });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error.message).toContain("'displayName'");
    expect(
      (
        await s.t.request("PATCH", `/beta/${APPS}/${ids.ios}`, {
          token: s.t.adminToken,
          body: { unitPrice: -1 },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await s.t.request("PATCH", `/beta/${APPS}/${ids.ios}`, {
          token: s.t.adminToken,
          body: { "@odata.type": "#microsoft.graph.macOsVppApp" },
        })
      ).status,
    ).toBe(400);

    const reader = await s.t.tokenFor(["reader"]);
    expect((await get(`/v1.0/${APPS}`, reader)).status).toBe(200);
    expect(
      (await s.t.request("PATCH", `/beta/${APPS}/${ids.ios}`, { token: reader, body: { unitPrice: 1 } }))
        .status,
    ).toBe(403);
    expect((await s.t.request("GET", `/v1.0/${APPS}`)).status).toBe(401);
  });

  it("names and descriptions follow the caller's language where the storefront has it (APP-4)", async () => {
    expect(
      (await get(`/beta/${APPS}/${ids.ios}`, undefined, { "accept-language": "es" })).body.displayName,
    ).toBe("Keynote (es)");
    expect(
      (await get(`/beta/${APPS}/${ids.ios}`, undefined, { "accept-language": "de-DE, en;q=0.5" })).body
        .displayName,
    ).toBe("Keynote");
    expect((await get(`/beta/${APPS}/${ids.ios}`)).body.displayName).toBe("Keynote");
  });

  it("another tenant sees none of it", async () => {
    const created = await s.t.request("POST", "/beta/admin/tenants", {
      token: s.t.adminToken,
      body: {
        displayName: "Fabrikam",
        adminUserPrincipalName: "boss@fabrikam.example",
        adminPassword: "Correct-Horse-Battery-9",
      },
    });
    expect(created.status).toBe(201);
    const other = await s.t.tokenFor(["globalAdministrator"], created.body.id);
    expect((await get(`/beta/${APPS}`, other)).body.value).toEqual([]);
    expect((await get(`/beta/${BOOKS}`, other)).body.value).toEqual([]);
    expect((await get(`/beta/${APPS}/${ids.ios}`, other)).status).toBe(404);
    expect((await s.t.request("DELETE", `/beta/${APPS}/${ids.ios}`, { token: other })).status).toBe(404);
  });
});
