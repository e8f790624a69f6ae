// Metadata lookups per storefront (reference §12, §16.16): names, bundle ids, versions and icons come
// only from here; an app not sold in the queried country is an empty result (HTTP 200).
import { afterEach, describe, expect, it } from "vitest";
import { appleClient, startEmu, stopAll } from "./test-helpers.ts";

afterEach(stopAll);

async function setup() {
  const emu = await startEmu();
  const us = await emu.control.createLocation({
    orgName: "ORG1",
    locationName: "US unit",
    countryISO2ACode: "US",
    assets: [
      {
        adamId: "1001",
        name: "Numbers",
        bundleId: "com.example.numbers",
        version: "2.1",
        totalCount: 5,
        localizedNames: { sv: "Siffror" },
      },
      {
        adamId: "1002",
        name: "Everywhere",
        bundleId: "com.example.everywhere",
        storefronts: ["SE", "de"],
        totalCount: 5,
      },
      {
        adamId: "1003",
        name: "Mac Only",
        bundleId: "com.example.mac",
        supportedPlatforms: ["macOS"],
        totalCount: 5,
      },
      { adamId: "1004", name: "Custom", bundleId: "com.example.custom", isB2BCustomApp: true, totalCount: 5 },
      { adamId: "1005", productType: "Book", name: "Handbook", totalCount: 5 },
    ],
  });
  const se = await emu.control.createLocation({
    orgName: "ORG2",
    locationName: "SE unit",
    countryISO2ACode: "SE",
  });
  const lookupUrl = (await appleClient(emu, undefined).get("/service/config")).body.urls
    .contentMetadataLookup as string;
  const lookup = async (query: string, cookie?: string) => {
    const r = await fetch(`${lookupUrl}?${query}`, { headers: cookie ? { Cookie: `itvt=${cookie}` } : {} });
    expect(r.status).toBe(200);
    return (await r.json()) as any;
  };
  return { emu, us, se, lookup };
}

describe("legacy contentMetadataLookup", () => {
  it("answers per storefront; empty results where the app is not sold", async () => {
    const { lookup } = await setup();
    const us = await lookup(
      "version=2&id=1001,1002&p=mdm-lockup&caller=MDM&platform=enterprisestore&cc=us&l=en",
    );
    expect(Object.keys(us.results).sort()).toEqual(["1001", "1002"]);
    expect(us.results["1001"]).toMatchObject({
      name: "Numbers",
      bundleId: "com.example.numbers",
      kind: "iosSoftware",
    });
    expect(us.results["1001"].offers[0].version.display).toBe("2.1");
    expect(us.meta).toEqual({ language: { tag: "en-us" }, storefront: { cc: "US", id: "143441" } });
    const se = await lookup(
      "version=2&id=1001,1002&p=mdm-lockup&caller=MDM&platform=enterprisestore&cc=se&l=sv",
    );
    expect(Object.keys(se.results)).toEqual(["1002"]);
    expect(se.meta.storefront).toEqual({ cc: "SE", id: "143456" });
    const fr = await lookup("version=2&id=1001&platform=enterprisestore&cc=fr");
    expect(fr).toEqual({
      isAuthenticated: false,
      meta: { language: { tag: "en-fr" }, storefront: { cc: "FR", id: "143442" } },
      results: {},
      version: 2,
    });
    expect((await lookup("version=2&id=9999&cc=us")).results).toEqual({});
  });

  it("localised names, new store versions, macappstore, books and version=1 ids", async () => {
    const { emu, lookup } = await setup();
    expect((await lookup("id=1001&cc=us&l=sv")).results["1001"].name).toBe("Siffror");
    await emu.control.setVersion("1001", "3.0");
    const after = (await lookup("id=1001&cc=us")).results["1001"];
    expect(after.offers[0].version.display).toBe("3.0");
    expect((await lookup("id=1003&cc=us&platform=enterprisestore")).results).toEqual({});
    expect((await lookup("id=1003&cc=us&platform=macappstore")).results["1003"].kind).toBe("macSoftware");
    const book = (await lookup("id=1005&cc=us")).results["1005"];
    expect(book.kind).toBe("ebook");
    expect(book).not.toHaveProperty("bundleId");
    const v1 = await lookup("version=1&id=1001&cc=us");
    expect(v1.version).toBe(1);
    expect(v1.results["1001"].id).toBe(1001);
    expect(Array.isArray(v1.results["1001"].artwork)).toBe(true);
  });

  it("custom (B2B) apps only with the itvt cookie of a location that owns them", async () => {
    const { us, se, lookup } = await setup();
    expect((await lookup("id=1004&cc=us")).results).toEqual({});
    expect((await lookup("id=1004&cc=us", se.sToken)).results).toEqual({});
    expect((await lookup("id=1004&cc=us", "not-a-token")).results).toEqual({});
    expect((await lookup("id=1004&cc=us", us.sToken)).results["1004"]).toMatchObject({
      isB2BCustomApp: true,
      name: "Custom",
    });
  });

  it("icons are served at the artwork URL", async () => {
    const { lookup } = await setup();
    const art = (await lookup("version=2&id=1001&cc=us")).results["1001"].artwork.url as string;
    const r = await fetch(art.replace("{w}x{h}bb.{f}", "64x64bb.png"));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("image/png");
    const png = Buffer.from(await r.arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(64);
  });
});

describe("stoken-authenticated catalogue", () => {
  it("needs a developer token (401) and a valid itvt cookie with ids (403 40300)", async () => {
    const { emu, us } = await setup();
    const url = `${emu.url}/v1/catalog/us/stoken-authenticated-apps?ids=1001&platform=iphone`;
    expect((await fetch(url, { headers: { Cookie: `itvt=${us.sToken}` } })).status).toBe(401);
    const noCookie = await fetch(url, { headers: { Authorization: "Bearer dev" } });
    expect(noCookie.status).toBe(403);
    expect(await noCookie.json()).toEqual({
      errors: [
        { status: "403", code: "40300", detail: "Invalid Stoken or Empty/Null ids Request Parameter" },
      ],
    });
    const noIds = await fetch(`${emu.url}/v1/catalog/us/stoken-authenticated-apps?ids=&platform=iphone`, {
      headers: { Authorization: "Bearer dev", Cookie: `itvt=${us.sToken}` },
    });
    expect(noIds.status).toBe(403);
    const ok = await fetch(
      `${url.replace("ids=1001", "ids=1001,1003,1004")}&additionalPlatforms=ipad,mac&extend[apps]=latestVersionInfo`,
      {
        headers: { Authorization: "Bearer dev", Cookie: `itvt=${us.sToken}` },
      },
    );
    expect(ok.status).toBe(200);
    const data = ((await ok.json()) as any).data;
    expect(data.map((d: any) => d.id)).toEqual(["1001", "1003", "1004"]);
    expect(data[0].attributes.platformAttributes.ios).toMatchObject({
      bundleId: "com.example.numbers",
      latestVersionInfo: { versionDisplay: "2.1" },
    });
    expect(Object.keys(data[1].attributes.platformAttributes)).toEqual(["osx"]);
    const se = await fetch(
      `${emu.url}/v1/catalog/se/stoken-authenticated-apps?ids=1001,1002&platform=iphone`,
      {
        headers: { Authorization: "Bearer dev", Cookie: `itvt=${us.sToken}` },
      },
    );
    expect(((await se.json()) as any).data.map((d: any) => d.id)).toEqual(["1002"]);
    const books = await fetch(
      `${emu.url}/v1/catalog/us/stoken-authenticated-books?ids=1005&platform=iphone`,
      {
        headers: { Authorization: "Bearer dev", Cookie: `itvt=${us.sToken}` },
      },
    );
    expect(((await books.json()) as any).data).toMatchObject([
      { id: "1005", type: "books", attributes: { name: "Handbook" } },
    ]);
  });
});

describe("the asset list stays Apple's", () => {
  it("carries ids and counts only — no names, bundle ids or versions", async () => {
    const { emu, us } = await setup();
    const assets = (await appleClient(emu, us.sToken).get("/assets")).body.assets;
    for (const a of assets)
      expect(Object.keys(a).sort()).toEqual(
        [
          "adamId",
          "assignedCount",
          "availableCount",
          "deviceAssignable",
          "pricingParam",
          "productType",
          "retiredCount",
          "revocable",
          "supportedPlatforms",
          "totalCount",
        ].sort(),
      );
  });
});
