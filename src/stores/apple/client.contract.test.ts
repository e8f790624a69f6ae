// Contract: the client reads every example body Apple publishes (fixtures/, a copy of
// reference/apple-fixtures) and writes requests identical to Apple's request examples — over real
// HTTP on 127.0.0.1. The last test fails when a fixture file exists that no test here looks at.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPLE_DEFAULT_BASE_URL, createAppleClient } from "./client.ts";
import { AppleApiError, AppleProtocolError } from "./errors.ts";
import {
  type FixtureServer,
  fastRetry,
  fixture,
  fixtureNames,
  fixtureText,
  routes,
  serviceConfigFor,
  startFixtureServer,
} from "./fixture-server.ts";
import { parseAppleNotification } from "./notifications.ts";
import { decodeSToken } from "./parse.ts";

const covered = new Set<string>();
const cover = (...names: string[]) => {
  for (const n of names) covered.add(n);
};

const sToken = fixtureText("stoken-example.txt").trim();
let server: FixtureServer;
const base = (table: Parameters<typeof routes>[0]) =>
  routes({ "GET /mdm/v2/service/config": { body: serviceConfigFor(server.origin) }, ...table });

beforeAll(async () => {
  server = await startFixtureServer(() => ({ status: 500 }));
});
afterAll(() => server.close());

function newToken() {
  const client = createAppleClient({ baseUrl: `${server.baseUrl}/`, retry: fastRetry });
  return { client, token: client.forToken(`${sToken}\n`) };
}

describe("Apple client contract (fixtures)", () => {
  it("service config: limits, urls, notification types and the error catalogue", async () => {
    cover("service-config-response.json");
    server.setHandler(base({}));
    const { client } = newToken();
    const config = await client.serviceConfig();
    const raw = fixture("service-config-response.json");
    expect(config.limits).toEqual(raw.limits);
    expect(config.notificationTypes).toEqual(raw.notificationTypes);
    expect(config.errorCodes).toEqual(raw.errorCodes);
    expect(Object.keys(config.urls).sort()).toEqual(Object.keys(raw.urls).sort());
    expect(config.urls.contentMetadataLookup).toBe(
      `${server.origin}/WebObjects/MZStorePlatform.woa/wa/lookup`,
    );
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
    // ALLOT_APPLE_BASE_URL includes /mdm/v2; a trailing slash or a bare host are understood too
    expect(client.baseUrl).toBe(server.baseUrl);
    expect(createAppleClient({ baseUrl: server.origin }).baseUrl).toBe(server.baseUrl);
    expect(createAppleClient({ baseUrl: `${APPLE_DEFAULT_BASE_URL}/` }).baseUrl).toBe(APPLE_DEFAULT_BASE_URL);
  });

  it("client config GET: every member, dates normalised to ISO", async () => {
    cover("client-config-response.json");
    server.setHandler(
      base({ "GET /mdm/v2/client/config": { body: fixture("client-config-response.json") } }),
    );
    const { token } = newToken();
    expect(await token.getClientConfig()).toEqual({
      countryISO2ACode: "US",
      defaultPlatform: "volumestore",
      locationName: "PS01",
      mdmInfo: {
        id: "522d5c43-44ca-4f7e-ba7a-53570cf60765",
        name: "Apple Configurator 2",
        metadata: "2.13.3",
      },
      notificationAuthToken: "SUp3rS3Cr3t",
      notificationUrl: "https://www.next.com/notification",
      subscribedNotificationTypes: ["ASSET_COUNT", "ASSET_MANAGEMENT", "USER_MANAGEMENT", "USER_ASSOCIATED"],
      tokenExpirationDate: "2030-11-08T22:33:22.000Z",
      uId: "2049025000431439",
      websiteURL: "https://school.apple.com",
    });
    expect(token.mdmInfo?.name).toBe("Apple Configurator 2");
    expect(token.tokenExpirationDate).toBe("2030-11-08T22:33:22.000Z");
    const req = server.requests.at(-1);
    expect(req?.headers.authorization).toBe(`Bearer ${sToken}`);
  });

  it.each([
    ["client-config-request.json", "client-config-response.json"],
    ["client-config-request-walkthrough.json", "client-config-response-walkthrough.json"],
  ])("client config POST sends %s exactly and reads %s", async (requestFile, responseFile) => {
    cover(requestFile, responseFile);
    server.setHandler(base({ "POST /mdm/v2/client/config": { body: fixture(responseFile) } }));
    const { token } = newToken();
    const request = fixture(requestFile);
    const result = await token.setClientConfig(request);
    const sent = server.requests.at(-1);
    expect(sent?.body).toEqual(request);
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(result.mdmInfo).toEqual(request.mdmInfo);
    expect(result.subscribedNotificationTypes).toEqual(request.notificationTypes);
    expect(result.tokenExpirationDate).toBe("2030-11-08T22:33:22.000Z");
    expect(token.mdmConflict).toBe(false);
  });

  it("GET /assets with filters reads every asset member", async () => {
    cover("get-assets-response.json");
    server.setHandler(base({ "GET /mdm/v2/assets": { body: fixture("get-assets-response.json") } }));
    const { token } = newToken();
    const page = await token.getAssets({ pricingParam: "STDQ", productType: "App" });
    const q = server.requests.at(-1)?.query;
    expect(Object.fromEntries(q ?? [])).toEqual({ pricingParam: "STDQ", productType: "App", pageIndex: "0" });
    expect(page.assets).toEqual(fixture("get-assets-response.json").assets);
    expect(page).toMatchObject({
      currentPageIndex: 0,
      size: 5,
      totalPages: 1,
      versionId: "70e8c740-514c-11eb-bb63-a90b882fcd52",
      uId: "2049025000431439",
    });
    expect(page.nextPageIndex).toBeUndefined();
  });

  it("listAssets for one adamId", async () => {
    cover("get-assets-response-single.json");
    server.setHandler(base({ "GET /mdm/v2/assets": { body: fixture("get-assets-response-single.json") } }));
    const { token } = newToken();
    const all = await token.listAssets({ adamId: "361309726" });
    expect(server.requests.at(-1)?.query.get("adamId")).toBe("361309726");
    expect(all.assets).toEqual([
      {
        adamId: "361309726",
        assignedCount: 0,
        availableCount: 25,
        deviceAssignable: true,
        pricingParam: "STDQ",
        productType: "App",
        retiredCount: 0,
        revocable: true,
        supportedPlatforms: ["iOS"],
        totalCount: 25,
      },
    ]);
    expect(all).toMatchObject({
      versionId: "70e8c740-514c-11eb-bb63-a90b882fcd52",
      pages: 1,
      items: 1,
      restarts: 0,
    });
  });

  it("GET /assignments reads user and device assignments", async () => {
    cover("get-assignments-response.json");
    server.setHandler(
      base({ "GET /mdm/v2/assignments": { body: fixture("get-assignments-response.json") } }),
    );
    const { token } = newToken();
    const page = await token.getAssignments({ adamId: "408709785", includeUserState: true });
    expect(server.requests.at(-1)?.query.get("includeUserState")).toBe("true");
    expect(page.assignments).toEqual([
      { adamId: "408709785", clientUserId: "client-1", pricingParam: "STDQ" },
      { adamId: "408709785", serialNumber: "serial-1", pricingParam: "STDQ" },
    ]);
    expect(page.versionId).toBe("009061cb-87d1-4ea8-ae4c-7849dc49224e");
  });

  it("GET /users reads registered and retired users", async () => {
    cover("get-users-response.json");
    server.setHandler(base({ "GET /mdm/v2/users": { body: fixture("get-users-response.json") } }));
    const { token } = newToken();
    const page = await token.getUsers({ activeOnly: true });
    expect(server.requests.at(-1)?.query.get("activeOnly")).toBe("true");
    expect(page.users).toEqual(fixture("get-users-response.json").users);
    expect(page.users[2].status).toBe("Retired");
  });

  it.each([
    ["associate", "associate-request.json", "associate-response.json"],
    ["associate", "associate-request-adamid-only.json", "associate-response-adamid-only.json"],
    ["disassociate", "disassociate-request.json", "disassociate-response.json"],
  ] as const)("%s sends %s exactly and reads the eventId of %s", async (kind, requestFile, responseFile) => {
    cover(requestFile, responseFile);
    server.setHandler(base({ [`POST /mdm/v2/assets/${kind}`]: { body: fixture(responseFile) } }));
    const { token } = newToken();
    const request = fixture(requestFile);
    const result =
      kind === "associate" ? await token.associateAssets(request) : await token.disassociateAssets(request);
    const posts = server.requests.filter((r) => r.path === `/mdm/v2/assets/${kind}`);
    expect(posts.at(-1)?.body).toEqual(request);
    expect(result.events).toEqual([{ eventId: fixture(responseFile).eventId, request }]);
    expect(result.verifiedPairs).toEqual([]);
  });

  it("revoke sends revoke-request.json exactly", async () => {
    cover("revoke-request.json", "revoke-response.json");
    server.setHandler(base({ "POST /mdm/v2/assets/revoke": { body: fixture("revoke-response.json") } }));
    const { token } = newToken();
    const result = await token.revokeAssets(fixture("revoke-request.json"));
    expect(server.requests.at(-1)?.body).toEqual(fixture("revoke-request.json"));
    expect(result.events.map((e) => e.eventId)).toEqual(["ed3edfc3-e617-465e-b309-a17925266e14"]);
  });

  it("users create / update / retire send Apple's request bodies", async () => {
    cover(
      "create-users-request.json",
      "create-users-response.json",
      "update-users-request.json",
      "update-users-response.json",
      "retire-users-request.json",
      "retire-users-response.json",
    );
    server.setHandler(
      base({
        "POST /mdm/v2/users/create": { body: fixture("create-users-response.json") },
        "POST /mdm/v2/users/update": { body: fixture("update-users-response.json") },
        "POST /mdm/v2/users/retire": { body: fixture("retire-users-response.json") },
      }),
    );
    const { token } = newToken();
    const created = await token.createUsers(fixture("create-users-request.json").users);
    expect(server.requests.at(-1)?.body).toEqual(fixture("create-users-request.json"));
    expect(created.events[0].eventId).toBe("af70eb9b-0ab6-405d-87d8-3b9ed0c4f370");
    const updated = await token.updateUsers(fixture("update-users-request.json").users);
    expect(server.requests.at(-1)?.body).toEqual(fixture("update-users-request.json"));
    expect(updated.events[0].eventId).toBe("dcd54e0c-5898-4837-8cea-b220f9570835");
    const retired = await token.retireUsers(
      fixture("retire-users-request.json").users.map((u: { clientUserId: string }) => u.clientUserId),
    );
    expect(server.requests.at(-1)?.body).toEqual(fixture("retire-users-request.json"));
    expect(retired.events[0].eventId).toBe("dafdad60-4ef6-49b0-8150-64323f56d88d");
  });

  it.each([
    ["event-status-response.json", "COMPLETE", "ASSOCIATE", 4000, 4000, 0],
    ["event-status-pending.json", "PENDING", "ASSOCIATE", 8, 16, 0],
    ["event-status-failed-all.json", "FAILED", "ASSOCIATE", 0, 2, 1],
    ["event-status-create-pending.json", "PENDING", "CREATE", 1, 2, 0],
    ["event-status-create-complete.json", "COMPLETE", "CREATE", 2, 2, 0],
  ])("event status %s", async (file, eventStatus, eventType, numCompleted, numRequested, failures) => {
    cover(file);
    server.setHandler(base({ "GET /mdm/v2/status": { body: fixture(file) } }));
    const { token } = newToken();
    const status = await token.getEventStatus("1905643d-5bd4-4c1f-9e4d-1b8e2f1a2b3c");
    expect(server.requests.at(-1)?.query.get("eventId")).toBe("1905643d-5bd4-4c1f-9e4d-1b8e2f1a2b3c");
    expect(status).toMatchObject({
      eventStatus,
      eventType,
      numCompleted,
      numRequested,
      tokenExpirationDate: "2030-11-08T22:33:22.000Z",
    });
    expect(status.failures).toHaveLength(failures);
    if (failures > 0) {
      expect(status.failures[0]).toEqual({
        errorNumber: 9609,
        errorMessage: "Unable to find registered user.",
        errorInfo: { clientUserIds: ["user102", "user101"] },
      });
    }
  });

  it("an error body becomes an AppleApiError with Apple's number, not retried", async () => {
    cover("error-response.json");
    server.setHandler(base({ "GET /mdm/v2/assets": { status: 405, body: fixture("error-response.json") } }));
    const { token } = newToken();
    const assetCalls = () => server.requests.filter((r) => r.path === "/mdm/v2/assets").length;
    const before = assetCalls();
    const error = await token.getAssets().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppleApiError);
    expect(error).toMatchObject({ errorNumber: 9726, status: 405, isTokenError: false, isRetryable: false });
    expect(assetCalls() - before).toBe(1);
  });

  it("every notification example parses into its typed form", () => {
    const files = fixtureNames().filter((n) => n.startsWith("notification-"));
    cover(...files);
    const parsed = Object.fromEntries(files.map((f) => [f, parseAppleNotification(fixture(f))]));
    expect(parsed["notification-test.json"]).toEqual({
      notificationType: "TEST_NOTIFICATION",
      notificationId: "792e327f-63ea-4658-9aec-f16f4327e3a8",
      uId: "2049025000431439",
    });
    expect(parsed["notification-asset-count.json"]).toMatchObject({
      notificationType: "ASSET_COUNT",
      adamId: "408709785",
      pricingParam: "STDQ",
      countDelta: -12,
    });
    expect(parsed["notification-asset-management.json"]).toMatchObject({
      notificationType: "ASSET_MANAGEMENT",
      type: "ASSOCIATE",
      result: "SUCCESS",
      eventId: "954910a8-3d9c-4fde-948d-253e5aef431a",
      assignments: [{ adamId: "361309726", clientUserId: "user-1", pricingParam: "STDQ" }],
    });
    expect(parsed["notification-asset-management-revoke.json"]).toMatchObject({
      type: "REVOKE",
      assignments: [{ adamId: "408709785" }, { adamId: "329103948" }],
    });
    expect(parsed["notification-asset-management-disassociate.json"]).toMatchObject({
      type: "DISASSOCIATE",
      result: "SUCCESS",
    });
    expect(parsed["notification-user-management-create.json"]).toMatchObject({
      notificationType: "USER_MANAGEMENT",
      type: "CREATE",
      users: [
        {
          clientUserId: "client-100",
          status: "Registered",
          inviteCode: "f551b37da07146628e8dcbe0111f0364",
          email: "client-100@apple.com",
        },
      ],
    });
    expect(parsed["notification-user-management-create-associated.json"]).toMatchObject({
      users: [{ status: "Associated", idHash: "rRVS8rlBrJjRqYwL8aNGDJG2CbU=" }],
    });
    expect(parsed["notification-user-management-update.json"]).toMatchObject({ type: "UPDATE" });
    expect(parsed["notification-user-associated.json"]).toMatchObject({
      notificationType: "USER_ASSOCIATED",
      associatedUsers: [{ clientUserId: "client-100", status: "Associated" }],
    });
    expect(parsed["notification-subscription-count.json"]).toMatchObject({
      notificationType: "SUBSCRIPTION_COUNT",
      parentAdamId: 54321,
      adamId: 12345,
      counts: { available: { renewing: 15, expiring: 5 }, total: { renewing: 100, expiring: 20 } },
    });
    expect(parsed["notification-subscription-management-associate.json"]).toMatchObject({
      notificationType: "SUBSCRIPTION_MANAGEMENT",
      assignments: [{ adamId: 12345, clientUserId: "vpp-user", renewing: true }],
    });
    for (const f of files) expect(parsed[f].notificationType, f).not.toBe("other");
  });

  it("legacy content metadata lookups (public and B2B) give names, bundle ids, versions, icons and platforms", async () => {
    cover("legacy-content-metadata-lookup-response.json", "legacy-content-metadata-lookup-b2b-response.json");
    server.setHandler(
      base({
        "GET /mdm/v2/client/config": { body: fixture("client-config-response.json") },
        "GET /WebObjects/MZStorePlatform.woa/wa/lookup": (req) => {
          const ids = (req.query.get("id") ?? "").split(",");
          const results = {
            ...(ids.includes("361309726")
              ? fixture("legacy-content-metadata-lookup-response.json").results
              : {}),
            ...(ids.includes("451796775")
              ? fixture("legacy-content-metadata-lookup-b2b-response.json").results
              : {}),
          };
          const body: Record<string, unknown> = fixture("legacy-content-metadata-lookup-response.json");
          return { body: { ...body, results } };
        },
      }),
    );
    const { token } = newToken();
    const result = await token.lookupMetadata(["361309726", "451796775"]);
    const lookup = server.requests.find((r) => r.path.endsWith("/lookup"));
    expect(Object.fromEntries(lookup?.query ?? [])).toEqual({
      version: "2",
      id: "361309726,451796775",
      p: "mdm-lockup",
      caller: "MDM",
      platform: "volumestore",
      cc: "us",
      l: "en",
    });
    expect(lookup?.headers.cookie).toBe(`itvt=${sToken}`);
    expect(result.country).toBe("us");
    expect(result.notFound).toEqual([]);
    const [pages, b2b] = result.items;
    expect(pages).toMatchObject({
      adamId: "361309726",
      name: "Pages",
      bundleId: "com.apple.Pages",
      version: "5.0.1",
      platforms: ["iOS"],
      storeUrl: "https://itunes.apple.com/us/app/pages/id361309726?mt=8",
      publisher: "Apple",
      seller: "Apple Inc.",
      kind: "iosSoftware",
      releaseDate: "2010-04-01T00:00:00.000Z",
      minimumOsVersion: "11.0",
      genres: ["Productivity", "Business"],
      isB2BCustomApp: false,
    });
    expect(pages.iconUrl).toMatch(/360x216bb\.png$/);
    expect(b2b).toMatchObject({
      adamId: "451796775",
      name: "b2b Test 2",
      bundleId: "com.apple.b2bTest2",
      version: "3.0",
      isB2BCustomApp: true,
      platforms: ["iOS"],
    });
    expect(b2b.iconUrl).toMatch(/\/512x512bb\.png$/);
  });

  it("the Metadata for Organizations body shape (data[]) is read too, from an overridden metadata URL", async () => {
    cover("metadata-stoken-authenticated-apps-response.json");
    server.setHandler(
      base({
        "GET /v1/catalog/us/stoken-authenticated-apps": {
          body: fixture("metadata-stoken-authenticated-apps-response.json"),
        },
      }),
    );
    const client = createAppleClient({
      baseUrl: server.baseUrl,
      metadataUrl: `${server.origin}/v1/catalog/us/stoken-authenticated-apps`,
      retry: fastRetry,
    });
    const result = await client
      .forToken(sToken)
      .lookupMetadata(["2001350931"], { country: "US", platform: "enterprisestore" });
    expect(result.items).toEqual([
      expect.objectContaining({
        adamId: "2001350931",
        name: "App_67588039",
        bundleId: "com.67588039",
        platforms: ["iOS", "macOS", "tvOS"],
        storeUrl: "https://apps.apple.com/us/app/app-67588039/id2001350931",
        publisher: "2K",
        seller: "2K Sports",
        minimumOsVersion: "13.0",
        genres: ["Entertainment"],
      }),
    ]);
    expect(result.items[0].iconUrl).toMatch(/AppIcon-1x_U007emarketing-0-7-0-85-220\.png\/512x512bb\.png$/);
  });

  it("subscriptions: listing with cursors, associate/disassociate bodies, enable/disable", async () => {
    cover(
      "get-subscriptions-response.json",
      "get-subscription-assignments-response.json",
      "subscriptions-associate-request.json",
      "subscriptions-disassociate-request.json",
      "subscriptions-enable-response.json",
      "subscriptions-disable-response.json",
    );
    const lastPage = (file: string, key: string) => {
      const b = fixture(file);
      delete b.nextCursor;
      b[key] = [];
      return b;
    };
    server.setHandler(
      base({
        "GET /mdm/v2/subscriptions": (req) => ({
          body: req.query.get("cursor")
            ? lastPage("get-subscriptions-response.json", "subscriptions")
            : fixture("get-subscriptions-response.json"),
        }),
        "GET /mdm/v2/subscriptions/assignments": (req) => ({
          body: req.query.get("cursor")
            ? lastPage("get-subscription-assignments-response.json", "assignments")
            : fixture("get-subscription-assignments-response.json"),
        }),
        "POST /mdm/v2/subscriptions/associate": { body: fixture("associate-response.json") },
        "POST /mdm/v2/subscriptions/disassociate": { body: fixture("disassociate-response.json") },
        "POST /mdm/v2/subscriptions/enable": { body: fixture("subscriptions-enable-response.json") },
        "POST /mdm/v2/subscriptions/disable": { body: fixture("subscriptions-disable-response.json") },
      }),
    );
    const { token } = newToken();
    const subs = await token.listSubscriptions({ parentAdamId: 54321 });
    expect(subs).toEqual(fixture("get-subscriptions-response.json").subscriptions);
    const subsRequests = server.requests.filter((r) => r.path === "/mdm/v2/subscriptions");
    expect(subsRequests.map((r) => r.query.get("cursor"))).toEqual([
      null,
      "NjY5MjY0ODEtZTA4ZC00MmRhLTkxYjItMzdmMDI1MTVkYjQy",
    ]);
    expect(await token.listSubscriptionAssignments({ adamId: 12345 })).toEqual(
      fixture("get-subscription-assignments-response.json").assignments,
    );
    await token.associateSubscriptions(fixture("subscriptions-associate-request.json"));
    expect(server.requests.at(-1)?.body).toEqual(fixture("subscriptions-associate-request.json"));
    await token.disassociateSubscriptions(fixture("subscriptions-disassociate-request.json"));
    expect(server.requests.at(-1)?.body).toEqual(fixture("subscriptions-disassociate-request.json"));
    expect(await token.setSubscriptionManagement(true)).toEqual({
      subscriptionManagement: true,
      tokenExpirationDate: "2030-11-08T22:33:22.000Z",
      uId: "2049025000431439",
    });
    expect((await token.setSubscriptionManagement(false)).subscriptionManagement).toBe(false);
  });

  it("the .vpptoken content decodes to token, organisation and an ISO expiry (both date styles)", () => {
    cover("stoken-example.txt", "stoken-decoded.json", "stoken-decoded-legacy.json");
    const decoded = decodeSToken(fixtureText("stoken-example.txt"));
    const expected = fixture("stoken-decoded.json");
    expect(decoded).toEqual({
      sToken,
      token: expected.token,
      orgName: expected.orgName,
      expDate: "2030-11-08T22:33:22.000Z",
    });
    const legacy = fixture("stoken-decoded-legacy.json");
    const legacyDecoded = decodeSToken(Buffer.from(JSON.stringify(legacy)).toString("base64"));
    expect(legacyDecoded.expDate).toBe("2014-08-16T01:13:52.000Z");
    expect(legacyDecoded.orgName).toBe("ORG2009071600");
  });

  it("legacy v1 bodies are not mistaken for v2 ones, and the v2 client never puts the sToken in a body", async () => {
    cover(
      "legacy-v1-client-config-request.json",
      "legacy-v1-client-config-response.json",
      "legacy-v1-get-assignments-request.json",
      "legacy-v1-get-assignments-response.json",
    );
    server.setHandler(
      base({
        "GET /mdm/v2/assignments": { body: fixture("legacy-v1-get-assignments-response.json") },
        "GET /mdm/v2/client/config": { body: fixture("legacy-v1-client-config-response.json") },
      }),
    );
    const { token } = newToken();
    // v1 assignments use adamIdStr/clientUserIdStr and have no versionId: not a v2 page.
    await expect(token.getAssignments()).rejects.toBeInstanceOf(AppleProtocolError);
    // v1 calls the country countryCode; the v2 reader does not invent countryISO2ACode from it.
    const v1Config = await token.getClientConfig();
    expect(v1Config.uId).toBe("103614");
    expect(v1Config.countryISO2ACode).toBeUndefined();
    // v1 requests carry the sToken in the JSON body; v2 sends it only as the bearer.
    expect(fixture("legacy-v1-client-config-request.json")).toHaveProperty("sToken");
    expect(fixture("legacy-v1-get-assignments-request.json")).toHaveProperty("sToken");
    for (const r of server.requests) expect(JSON.stringify(r.body ?? "")).not.toContain(sToken);
  });

  it("the fixtures are Apple's (same files as the shared reference) and every one is covered above", () => {
    cover("README.md");
    const shared = new URL("../../../../shared/reference/apple-fixtures/", import.meta.url);
    if (existsSync(shared)) {
      expect(fixtureNames()).toEqual(readdirSync(shared).sort());
      // README.md carries a note about the copy; Apple's bodies must be byte for byte the same.
      for (const n of fixtureNames().filter((x) => x !== "README.md"))
        expect(fixtureText(n), n).toBe(readFileSync(new URL(n, shared), "utf8"));
    }
    expect(fixtureNames().filter((n) => !covered.has(n))).toEqual([]);
  });
});
