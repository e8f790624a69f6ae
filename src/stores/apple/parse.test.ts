import { describe, expect, it } from "vitest";
import { AppleProtocolError, AppleTokenFormatError } from "./errors.ts";
import { fixture } from "./fixture-server.ts";
import { iconUrlOf, platformsOfFamilies } from "./metadata.ts";
import {
  decodeSToken,
  normalizeAppleDate,
  parseAssetsPage,
  parseEventStatus,
  parseServiceConfig,
  readErrorBody,
} from "./parse.ts";

describe("Apple body parsing", () => {
  it("normalises Apple's dates (+0000, -0700, Z, colon offsets) to ISO UTC", () => {
    expect(normalizeAppleDate("2030-11-08T22:33:22+0000")).toBe("2030-11-08T22:33:22.000Z");
    expect(normalizeAppleDate("2014-08-15T18:13:52-0700")).toBe("2014-08-16T01:13:52.000Z");
    expect(normalizeAppleDate("2030-11-08T22:33:22Z")).toBe("2030-11-08T22:33:22.000Z");
    expect(normalizeAppleDate("2030-11-08T22:33:22+05:30")).toBe("2030-11-08T17:03:22.000Z");
    expect(normalizeAppleDate("not a date")).toBeUndefined();
  });

  it("reads errorNumber from any body, also as a string, and ignores bodies without one", () => {
    expect(readErrorBody({ errorNumber: 9622, errorMessage: "Invalid authentication token." })).toEqual({
      errorNumber: 9622,
      errorMessage: "Invalid authentication token.",
    });
    expect(readErrorBody({ errorNumber: "9646", errorMessage: "x" })?.errorNumber).toBe(9646);
    expect(
      readErrorBody({ errorNumber: 9709, errorMessage: "x", errorInfo: { serialNumbers: ["s1"] } })
        ?.errorInfo,
    ).toEqual({ serialNumbers: ["s1"] });
    expect(readErrorBody(fixture("get-assets-response.json"))).toBeUndefined();
    expect(readErrorBody([1, 2])).toBeUndefined();
  });

  it("rejects a page without its required members, naming the member, and tolerates unknown ones", () => {
    const body = fixture("get-assets-response.json");
    expect(parseAssetsPage({ ...body, somethingNew: { nested: true } }).assets).toHaveLength(5);
    const { versionId: _, ...noVersion } = body;
    expect(() => parseAssetsPage(noVersion)).toThrowError(/versionId/);
    const badAsset = { ...body, assets: [{ ...body.assets[0], totalCount: "many" }] };
    expect(() => parseAssetsPage(badAsset)).toThrowError(AppleProtocolError);
    expect(() => parseEventStatus({ eventType: "ASSOCIATE" })).toThrowError(/eventStatus/);
  });

  it("keeps published limits for keys the live config omits or sets to nonsense", () => {
    const body = fixture("service-config-response.json");
    body.limits = { maxAssets: 5, maxUsers: 0, maxSomethingNew: 7 };
    const config = parseServiceConfig(body);
    expect(config.limits.maxAssets).toBe(5);
    expect(config.limits.maxUsers).toBe(100);
    expect(config.limits.maxSerialNumbers).toBe(1000);
    expect(config.limits.maxSomethingNew).toBe(7);
  });

  it("refuses token files that are not tokens", () => {
    expect(() => decodeSToken("")).toThrowError(AppleTokenFormatError);
    expect(() => decodeSToken("%%%not base64%%%")).toThrowError(/Base64/);
    expect(() => decodeSToken(Buffer.from("hello").toString("base64"))).toThrowError(/JSON/);
    expect(() =>
      decodeSToken(
        Buffer.from(JSON.stringify({ expDate: "2030-01-01T00:00:00+0000", orgName: "x" })).toString("base64"),
      ),
    ).toThrowError(/token/);
    expect(() =>
      decodeSToken(
        Buffer.from(JSON.stringify({ token: "t", expDate: "soon", orgName: "x" })).toString("base64"),
      ),
    ).toThrowError(/expDate/);
  });

  it("maps device families to platforms and fills artwork templates", () => {
    expect(platformsOfFamilies(["mac", "tvos", "iphone", "ipad", "ipod", "watch", "realityDevice"])).toEqual([
      "iOS",
      "macOS",
      "tvOS",
      "watchOS",
      "visionOS",
    ]);
    expect(platformsOfFamilies(["ipad"], "macSoftware")).toEqual(["iOS", "macOS"]);
    expect(iconUrlOf({ url: "https://x.test/a/{w}x{h}bb.{f}" })).toBe("https://x.test/a/512x512bb.png");
    expect(
      iconUrlOf([
        { url: "small", width: 60 },
        { url: "big", width: 512 },
        { url: "mid", width: 100 },
      ]),
    ).toBe("big");
    expect(iconUrlOf(undefined)).toBeUndefined();
  });
});
