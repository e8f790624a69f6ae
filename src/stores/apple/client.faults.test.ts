// Fault behaviour of the Apple client through real HTTP on 127.0.0.1: rate limiting and 429 storms,
// Retry-After, token errors (also with HTTP 200), versionId changes mid-walk, chunking by the live
// limits, writes whose outcome is unknown, service-config refresh, metadata per storefront, another
// MDM taking the token, and no sToken in logs or errors.
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { type AppleClientOptions, createAppleClient } from "./client.ts";
import {
  AppleApiError,
  AppleDataChangedError,
  AppleEventTimeoutError,
  AppleMdmConflictError,
  AppleTokenError,
  AppleTransportError,
} from "./errors.ts";
import {
  envelope,
  type FixtureServer,
  fastRetry,
  fixture,
  type Handler,
  MiniApple,
  makeSToken,
  pageBody,
  type RecordedRequest,
  routes,
  serviceConfigFor,
  startFixtureServer,
} from "./fixture-server.ts";
import { hashSToken, rateLimiterFor } from "./rate-limiter.ts";

const servers: FixtureServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Handler): Promise<FixtureServer> {
  const server = await startFixtureServer(handler);
  servers.push(server);
  return server;
}

async function serveMini(mini: MiniApple): Promise<FixtureServer> {
  const server = await serve(mini.handler);
  mini.origin = server.origin;
  return server;
}

function clientFor(server: FixtureServer, options: Partial<AppleClientOptions> = {}) {
  return createAppleClient({ baseUrl: server.baseUrl, retry: fastRetry, ...options });
}

const appleError = (
  status: number,
  errorNumber: number,
  errorMessage: string,
  headers?: Record<string, string>,
) => ({ status, body: { errorNumber, errorMessage }, headers });
const asset = (i: number) => ({
  adamId: String(100000 + i),
  pricingParam: "STDQ",
  productType: "App",
  assignedCount: 0,
  availableCount: 10,
  retiredCount: 0,
  totalCount: 10,
  deviceAssignable: true,
  revocable: true,
  supportedPlatforms: ["iOS"],
});
const tokenRequests = (server: FixtureServer) =>
  server.requests.filter((r) => !r.path.endsWith("/service/config"));
const maxInAnySecond = (reqs: RecordedRequest[]) => {
  const at = reqs.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i] - at[j] >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
};

describe("rate limiting and retries", () => {
  it("429 storm: no request above maxRequestPerSecond, every page and write done exactly once", async () => {
    const rate = 20;
    const assets = Array.from({ length: 40 }, (_, i) => asset(i));
    const bucket = { tokens: rate, last: performance.now() };
    let organic = 0;
    let storm = 0;
    let counted = 0;
    let stormStart: number | undefined;
    const accepted: unknown[] = [];
    let server: FixtureServer;
    const handler: Handler = (req) => {
      if (req.path.endsWith("/service/config"))
        return { body: serviceConfigFor(server.origin, { maxRequestPerSecond: rate, maxAssets: 1 }) };
      // Apple's own per-token bucket: rate per second, bursts up to rate.
      bucket.tokens = Math.min(rate, bucket.tokens + ((req.at - bucket.last) * rate) / 1000);
      bucket.last = req.at;
      if (bucket.tokens < 1) {
        organic++;
        return appleError(429, 9646, "There are too many recent requests. Try again momentarily.");
      }
      bucket.tokens -= 1;
      counted++;
      if (counted === 6) stormStart = req.at;
      // The storm: for 400 ms every request is refused, without Retry-After.
      if (stormStart !== undefined && req.at - stormStart < 400) {
        storm++;
        return appleError(429, 9646, "There are too many recent requests. Try again momentarily.");
      }
      if (req.path.endsWith("/assets"))
        return { body: pageBody("assets", assets, Number(req.query.get("pageIndex")), 4, "v1") };
      if (req.path.endsWith("/assets/associate")) {
        accepted.push(req.body);
        return { body: { eventId: crypto.randomUUID(), ...envelope } };
      }
      return { status: 400, body: { errorNumber: 9602, errorMessage: "Invalid argument." } };
    };
    server = await serve(handler);
    const client = clientFor(server, {
      retry: { baseDelayMs: 50, factor: 2, maxDelayMs: 400, maxAttempts: 10 },
    });
    const token = client.forToken(makeSToken("storm"));
    const [listed, written] = await Promise.all([
      token.listAssets(),
      token.associateAssets({
        assets: [{ adamId: "1" }, { adamId: "2" }, { adamId: "3" }],
        serialNumbers: ["s1", "s2"],
      }),
    ]);
    expect(listed.assets.map((a) => a.adamId)).toEqual(assets.map((a) => a.adamId));
    expect(written.events).toHaveLength(3);
    expect(accepted).toHaveLength(3);
    expect(new Set(accepted.map((b) => JSON.stringify(b))).size).toBe(3);
    expect(storm).toBeGreaterThan(0);
    expect(organic).toBe(0);
    expect(maxInAnySecond(tokenRequests(server))).toBeLessThanOrEqual(rate);
  });

  it("two token clients of the same token share one limiter; other tokens are not held back", async () => {
    const mini = new MiniApple({ limits: { maxRequestPerSecond: 10 } });
    const server = await serveMini(mini);
    const client = clientFor(server);
    const sToken = makeSToken("shared");
    const a = client.forToken(sToken);
    const b = createAppleClient({ baseUrl: server.baseUrl }).forToken(sToken);
    const other = client.forToken(makeSToken("other"));
    await a.getUsers();
    const started = performance.now();
    await Promise.all([
      ...Array.from({ length: 4 }, () => a.getUsers()),
      ...Array.from({ length: 4 }, () => b.getUsers()),
      other.getUsers(),
    ]);
    const shared = tokenRequests(server).filter((r) => r.headers.authorization === `Bearer ${sToken}`);
    expect(shared).toHaveLength(9);
    // 8 more requests at 10 per second: at least ~0.8 s for the shared token
    expect(shared.at(-1)!.at - shared[0].at).toBeGreaterThanOrEqual(800);
    const otherAt = tokenRequests(server).find((r) => r.headers.authorization !== `Bearer ${sToken}`)!.at;
    // Not queued behind the shared token's requests (which take ≥0.8 s at 10 per second).
    expect(otherAt - started).toBeLessThan(shared.at(-1)!.at - started - 300);
    expect(rateLimiterFor(hashSToken(sToken), 1).rate).toBe(10);
  });

  it("503 with Retry-After is honoured for every caller of the token (measured)", async () => {
    let first = true;
    let server: FixtureServer;
    server = await serve(
      routes({
        "GET /mdm/v2/service/config": () => ({ body: serviceConfigFor(server.origin) }),
        "GET /mdm/v2/assets": () => {
          if (first) {
            first = false;
            return appleError(503, 9729, "Service temporarily unavailable.", { "retry-after": "1" });
          }
          return { body: fixture("get-assets-response.json") };
        },
        "GET /mdm/v2/users": { body: fixture("get-users-response.json") },
      }),
    );
    const sToken = makeSToken("retry-after");
    const client = clientFor(server);
    const assetsCall = client.forToken(sToken).getAssets();
    await new Promise((r) => setTimeout(r, 150));
    const usersCall = client.forToken(sToken).getUsers();
    const [assets] = await Promise.all([assetsCall, usersCall]);
    expect(assets.assets).toHaveLength(5);
    const [refused, retried] = server.requests.filter((r) => r.path === "/mdm/v2/assets");
    const users = server.requests.find((r) => r.path === "/mdm/v2/users")!;
    expect(retried.at - refused.at).toBeGreaterThanOrEqual(1000);
    expect(retried.at - refused.at).toBeLessThan(1400);
    expect(users.at - refused.at).toBeGreaterThanOrEqual(1000);
  });

  it("a 500 with Apple's error body and Retry-After is retried after that delay, even for a write (Apple refused it)", async () => {
    const mini = new MiniApple();
    let calls = 0;
    mini.onWrite = () =>
      ++calls === 1
        ? {
            apply: "none",
            reply: {
              status: 500,
              body: { errorNumber: 9603, errorMessage: "Internal error." },
              headers: { "retry-after": "0.3" },
            },
          }
        : undefined;
    const server = await serveMini(mini);
    const result = await clientFor(server)
      .forToken(makeSToken("500"))
      .associateAssets({ assets: [{ adamId: "1" }], serialNumbers: ["s1"] });
    const posts = server.requests.filter((r) => r.path.endsWith("/assets/associate"));
    expect(posts).toHaveLength(2);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(300);
    expect(result.events).toHaveLength(1);
    expect(mini.assignments.size).toBe(1);
  });

  it("a Retry-After longer than the client will wait goes to the caller with retryAfter", async () => {
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/assets": appleError(503, 9729, "Service temporarily unavailable.", {
          "retry-after": "120",
        }),
      }),
    );
    const error = await clientFor(server, { retry: { ...fastRetry, maxRetryAfterMs: 10_000 } })
      .forToken(makeSToken("long"))
      .getAssets()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppleApiError);
    expect(error).toMatchObject({ status: 503, errorNumber: 9729, retryAfter: 120, isRetryable: true });
    expect(server.requests.filter((r) => r.path === "/mdm/v2/assets")).toHaveLength(1);
  });

  it("5xx without Retry-After backs off exponentially and gives up after maxAttempts", async () => {
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/assets": appleError(500, 9603, "Internal error."),
      }),
    );
    const error = await clientFor(server, {
      retry: { baseDelayMs: 40, factor: 2, maxDelayMs: 1000, maxAttempts: 4 },
    })
      .forToken(makeSToken("backoff"))
      .getAssets()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ errorNumber: 9603, status: 500 });
    const at = server.requests.filter((r) => r.path === "/mdm/v2/assets").map((r) => r.at);
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // jitter keeps each delay within 50–100 % of 40, 80, 160 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(20);
    expect(gaps[1]).toBeGreaterThanOrEqual(40);
    expect(gaps[2]).toBeGreaterThanOrEqual(80);
  });

  it("a read that times out is retried; the error after the last attempt says timeout", async () => {
    let n = 0;
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/users": () =>
          ++n === 1
            ? { delayMs: 3000, body: fixture("get-users-response.json") }
            : { body: fixture("get-users-response.json") },
        "GET /mdm/v2/assets": { delayMs: 3000, body: fixture("get-assets-response.json") },
      }),
    );
    // Timeouts far from both the delay and an unloaded reply, so a busy machine cannot blur them.
    const token = clientFor(server, {
      requestTimeoutMs: 1000,
      retry: { ...fastRetry, maxAttempts: 2 },
    }).forToken(makeSToken("timeout"));
    expect((await token.getUsers()).users).toHaveLength(3);
    const error = await token.getAssets().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppleTransportError);
    expect(error).toMatchObject({ kind: "timeout", maybeSent: true });
  });
});

describe("token errors", () => {
  it.each([
    [401, 9625, "The server has revoked the sToken.", "revoked"],
    [401, 9621, "The token has expired.", "expired"],
    [200, 9622, "Invalid authentication token.", "invalid"],
    [401, 9722, "This request contains an invalid authorization header.", "invalid"],
  ] as const)(
    "HTTP %s with %s is a token error (%s), not retried",
    async (status, errorNumber, message, reason) => {
      const server = await serve(
        routes({
          "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
          "GET /mdm/v2/client/config": appleError(status, errorNumber, message),
        }),
      );
      const problems: string[] = [];
      const sToken = makeSToken("bad");
      const token = clientFor(server).forToken(sToken, { onTokenProblem: (p) => problems.push(p) });
      const error = await token.getClientConfig().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppleTokenError);
      expect(error).toMatchObject({ reason, errorNumber, status, isTokenError: true, tokenProblem: reason });
      expect(problems).toEqual([reason]);
      expect(token.tokenProblem).toBe(reason);
      expect(server.requests.filter((r) => r.path === "/mdm/v2/client/config")).toHaveLength(1);
      expect(String((error as Error).message)).not.toContain(sToken);
    },
  );
});

describe("paged walks", () => {
  it("fetches pages ≤5 at a time, restarts when the versionId changes mid-walk, and ends with the new data", async () => {
    let users = Array.from({ length: 30 }, (_, i) => ({
      clientUserId: `u${String(i).padStart(2, "0")}`,
      status: "Registered",
    }));
    let version = "v1";
    let changed = false;
    let server: FixtureServer;
    server = await serve(
      routes({
        "GET /mdm/v2/service/config": () => ({
          body: serviceConfigFor(server.origin, { maxRequestPerSecond: 200 }),
        }),
        "GET /mdm/v2/users": (req) => {
          const pageIndex = Number(req.query.get("pageIndex"));
          if (pageIndex === 4 && !changed) {
            changed = true;
            users = [{ clientUserId: "new", status: "Registered" }, ...users];
            version = "v2";
          }
          return { body: pageBody("users", users, pageIndex, 3, version), delayMs: 20 };
        },
      }),
    );
    const token = clientFor(server).forToken(makeSToken("walk"));
    let seen: string[] = [];
    const restarts: string[] = [];
    const result = await token.walkUsers(
      { activeOnly: true },
      {
        onPage: (items) => {
          seen.push(...items.map((u) => u.clientUserId));
        },
        onRestart: (n, reason) => {
          restarts.push(`${n}:${reason}`);
          seen = [];
        },
      },
    );
    expect(restarts).toEqual(["1:versionId changed"]);
    expect(result).toMatchObject({ versionId: "v2", restarts: 1, pages: 11, items: 31 });
    expect(seen).toEqual(users.map((u) => u.clientUserId));
    expect(server.maxInFlight).toBeLessThanOrEqual(5);
    expect(server.maxInFlight).toBeGreaterThanOrEqual(3);
    for (const r of tokenRequests(server)) expect(r.query.get("activeOnly")).toBe("true");
  });

  it("gives up with AppleDataChangedError when the data keeps changing", async () => {
    let version = 0;
    const all = Array.from({ length: 6 }, (_, i) => ({
      adamId: "1",
      pricingParam: "STDQ",
      serialNumber: `s${i}`,
    }));
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/assignments": (req) => ({
          body: pageBody("assignments", all, Number(req.query.get("pageIndex")), 2, `v${version++}`),
        }),
      }),
    );
    const error = await clientFor(server, { maxWalkRestarts: 2 })
      .forToken(makeSToken("changing"))
      .listAssignments()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppleDataChangedError);
    expect(error).toMatchObject({ restarts: 3 });
  });

  it("incremental walks send sinceVersionId on every page, accept empty results, and surface 9721", async () => {
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/assignments": (req) =>
          req.query.get("sinceVersionId") === "bad"
            ? appleError(400, 9721, "This request contains an invalid version ID.")
            : { body: pageBody("assignments", [], 0, 10, "v9") },
      }),
    );
    const token = clientFor(server).forToken(makeSToken("since"));
    const result = await token.listAssignments({ sinceVersionId: "v8" });
    expect(result).toMatchObject({ assignments: [], versionId: "v9", items: 0, pages: 1 });
    expect(server.requests.at(-1)?.query.get("sinceVersionId")).toBe("v8");
    await expect(token.listAssignments({ sinceVersionId: "bad" })).rejects.toMatchObject({
      errorNumber: 9721,
    });
  });

  it("an empty data set that has no page 0 (9650) is an empty walk without a version", async () => {
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/users": appleError(
          400,
          9650,
          "The provided page index must be greater than 0, and less than the total number of pages.",
        ),
      }),
    );
    const result = await clientFor(server).forToken(makeSToken("empty")).listUsers();
    expect(result).toEqual({ users: [], versionId: "", pages: 0, items: 0, restarts: 0 });
  });
});

describe("writes", () => {
  const pairsOf = (bodies: any[]) =>
    bodies.flatMap((b) =>
      b.assets.flatMap((a: { adamId: string }) =>
        [...(b.serialNumbers ?? []), ...(b.clientUserIds ?? [])].map((t: string) => `${a.adamId}/${t}`),
      ),
    );

  it("chunks by the live limits: requests and targets counted", async () => {
    const mini = new MiniApple({
      limits: {
        maxAssets: 2,
        maxSerialNumbers: 3,
        maxClientUserIds: 2,
        maxRevokeSerialNumbers: 2,
        maxRevokeClientUserIds: 1,
        maxUsers: 2,
      },
    });
    const server = await serveMini(mini);
    const token = clientFor(server).forToken(makeSToken("chunks"));
    const assets = ["1", "2", "3", "4", "5"].map((adamId) => ({ adamId, pricingParam: "STDQ" }));
    const serials = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    const result = await token.associateAssets({
      assets,
      serialNumbers: serials,
      clientUserIds: ["u1", "u2", "u3"],
    });
    const posts = server.requests.filter((r) => r.path.endsWith("/assets/associate")).map((r) => r.body);
    expect(posts).toHaveLength(9);
    expect(result.events).toHaveLength(9);
    for (const b of posts) {
      expect(b.assets.length).toBeLessThanOrEqual(2);
      expect((b.serialNumbers ?? []).length).toBeLessThanOrEqual(3);
      expect((b.clientUserIds ?? []).length).toBeLessThanOrEqual(2);
    }
    const sent = pairsOf(posts);
    expect(sent).toHaveLength(50);
    expect(new Set(sent).size).toBe(50);
    expect(mini.assignments.size).toBe(50);

    await token.disassociatePairs([
      { adamId: "1", pricingParam: "STDQ", serialNumber: "s1" },
      { adamId: "2", pricingParam: "STDQ", serialNumber: "s1" },
      { adamId: "1", pricingParam: "STDQ", serialNumber: "s2" },
      { adamId: "2", pricingParam: "STDQ", serialNumber: "s2" },
      { adamId: "5", pricingParam: "STDQ", clientUserId: "u3" },
    ]);
    const dis = server.requests.filter((r) => r.path.endsWith("/assets/disassociate")).map((r) => r.body);
    expect(dis).toEqual([
      {
        assets: [
          { adamId: "1", pricingParam: "STDQ" },
          { adamId: "2", pricingParam: "STDQ" },
        ],
        serialNumbers: ["s1", "s2"],
      },
      { assets: [{ adamId: "5", pricingParam: "STDQ" }], clientUserIds: ["u3"] },
    ]);
    expect(mini.assignments.size).toBe(45);

    await token.revokeAssets({ serialNumbers: ["s3", "s4", "s5", "s6", "s7"], clientUserIds: ["u1", "u2"] });
    expect(server.requests.filter((r) => r.path.endsWith("/assets/revoke"))).toHaveLength(3);

    await token.createUsers(["a", "b", "a", "c", "d"].map((clientUserId) => ({ clientUserId })));
    const creates = server.requests
      .filter((r) => r.path.endsWith("/users/create"))
      .map((r) => r.body.users.length);
    expect(creates).toEqual([2, 2]);
  });

  it("a write that times out but was applied is not sent again (checked per target)", async () => {
    const mini = new MiniApple();
    mini.onWrite = () => ({ reply: { delayMs: 3000 } });
    const server = await serveMini(mini);
    const token = clientFor(server, {
      requestTimeoutMs: 1000,
      writeRecovery: { checkDelaysMs: [20] },
    }).forToken(makeSToken("applied"));
    const assets = [{ adamId: "1" }, { adamId: "2" }, { adamId: "3" }];
    const result = await token.associateAssets({ assets, serialNumbers: ["s1", "s2"] });
    expect(server.requests.filter((r) => r.path.endsWith("/assets/associate"))).toHaveLength(1);
    expect(result.events).toEqual([]);
    expect(result.verifiedPairs).toHaveLength(6);
    // three assets, two targets: the check asked per target
    const checks = server.requests.filter((r) => r.path.endsWith("/assignments"));
    expect(checks.map((r) => r.query.get("serialNumber")).sort()).toEqual(["s1", "s2"]);
  });

  it("a write that times out half-applied re-sends only what is missing (checked per asset)", async () => {
    const mini = new MiniApple();
    let first = true;
    mini.onWrite = () => {
      if (!first) return undefined;
      first = false;
      return {
        apply: (item) => "serialNumber" in item && ["s1", "s2"].includes(item.serialNumber as string),
        reply: { delayMs: 3000 },
      };
    };
    const server = await serveMini(mini);
    const token = clientFor(server, {
      requestTimeoutMs: 1000,
      writeRecovery: { checkDelaysMs: [20] },
    }).forToken(makeSToken("half"));
    const result = await token.associateAssets({
      assets: [{ adamId: "7", pricingParam: "STDQ" }],
      serialNumbers: ["s1", "s2", "s3", "s4"],
    });
    const posts = server.requests.filter((r) => r.path.endsWith("/assets/associate")).map((r) => r.body);
    expect(posts).toHaveLength(2);
    expect(posts[1]).toEqual({
      assets: [{ adamId: "7", pricingParam: "STDQ" }],
      serialNumbers: ["s3", "s4"],
    });
    expect(result.events).toHaveLength(1);
    expect(result.verifiedPairs.map((p) => p.serialNumber)).toEqual(["s1", "s2"]);
    expect(mini.assignments.size).toBe(4);
    const checks = server.requests.filter((r) => r.path.endsWith("/assignments"));
    expect(checks.every((r) => r.query.get("adamId") === "7")).toBe(true);
  });

  it("users create that times out after Apple applied it is not sent again", async () => {
    const mini = new MiniApple();
    mini.onWrite = () => ({ reply: { delayMs: 3000 } });
    const server = await serveMini(mini);
    const token = clientFor(server, {
      requestTimeoutMs: 1000,
      writeRecovery: { checkDelaysMs: [20] },
    }).forToken(makeSToken("users"));
    const result = await token.createUsers([
      { clientUserId: "c1", email: "c1@example.test" },
      { clientUserId: "c2" },
    ]);
    expect(server.requests.filter((r) => r.path.endsWith("/users/create"))).toHaveLength(1);
    expect(result).toEqual({ events: [], verifiedClientUserIds: ["c1", "c2"] });
  });

  it("a revoke that times out unapplied is sent again for the targets still holding licenses", async () => {
    const mini = new MiniApple();
    mini.assignments.set("a", { adamId: "1", pricingParam: "STDQ", serialNumber: "s1" });
    mini.assignments.set("b", { adamId: "1", pricingParam: "STDQ", serialNumber: "s2" });
    let first = true;
    mini.onWrite = () => {
      if (!first) return undefined;
      first = false;
      return {
        apply: (item) => "serialNumber" in item && item.serialNumber === "s1",
        reply: { delayMs: 3000 },
      };
    };
    const server = await serve((req) =>
      req.path.endsWith("/assets") ? { body: pageBody("assets", [], 0, 10, "v1") } : mini.handler(req),
    );
    mini.origin = server.origin;
    const token = clientFor(server, {
      requestTimeoutMs: 1000,
      writeRecovery: { checkDelaysMs: [20] },
    }).forToken(makeSToken("revoke"));
    const result = await token.revokeAssets({ serialNumbers: ["s1", "s2"] });
    const posts = server.requests.filter((r) => r.path.endsWith("/assets/revoke")).map((r) => r.body);
    expect(posts).toEqual([{ serialNumbers: ["s1", "s2"] }, { serialNumbers: ["s2"] }]);
    expect(result.verifiedTargets).toEqual([{ serialNumber: "s1" }]);
    expect(mini.assignments.size).toBe(0);
  });

  it("resumeWrite: a known event is only looked up; an unknown one leads to a check and only the missing pairs", async () => {
    const mini = new MiniApple();
    const server = await serveMini(mini);
    const token = clientFor(server).forToken(makeSToken("resume"));
    const request = { assets: [{ adamId: "9", pricingParam: "STDQ" }], serialNumbers: ["a", "b"] };
    const first = await token.associateAssets({ ...request, serialNumbers: ["a"] });
    const known = await token.resumeWrite(
      { kind: "associate", request },
      { eventId: first.events[0].eventId },
    );
    expect(known.event).toMatchObject({ eventStatus: "COMPLETE", numRequested: 1 });
    expect(server.requests.filter((r) => r.path.endsWith("/assets/associate"))).toHaveLength(1);
    const unknown = await token.resumeWrite(
      { kind: "associate", request },
      { eventId: "00000000-0000-0000-0000-000000000000" },
    );
    expect(unknown.result).toMatchObject({
      verifiedPairs: [{ adamId: "9", pricingParam: "STDQ", serialNumber: "a" }],
    });
    const posts = server.requests.filter((r) => r.path.endsWith("/assets/associate")).map((r) => r.body);
    expect(posts.at(-1)).toEqual({ assets: [{ adamId: "9", pricingParam: "STDQ" }], serialNumbers: ["b"] });
  });

  it("waitForEvent polls at the configured cadence until the event settles, and times out on PENDING", async () => {
    let n = 0;
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/status": (req) =>
          req.query.get("eventId") === "stuck" || ++n < 3
            ? { body: fixture("event-status-pending.json") }
            : { body: fixture("event-status-failed-all.json") },
      }),
    );
    const token = clientFor(server, { pollIntervalsMs: [30, 80] }).forToken(makeSToken("poll"));
    const progress: string[] = [];
    const status = await token.waitForEvent("e1", { onProgress: (s) => progress.push(s.eventStatus) });
    expect(status.eventStatus).toBe("FAILED");
    expect(status.failures[0].errorInfo?.clientUserIds).toEqual(["user102", "user101"]);
    expect(progress).toEqual(["PENDING", "PENDING", "FAILED"]);
    const at = server.requests.filter((r) => r.path.endsWith("/status")).map((r) => r.at);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(80);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(80);
    const error = await token
      .waitForEvent("stuck", { intervalsMs: [20], timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppleEventTimeoutError);
    expect((error as AppleEventTimeoutError).lastStatus.eventStatus).toBe("PENDING");
  });
});

describe("service config refresh", () => {
  it("reads the config once, again after 5 minutes (injected clock), and chunks by the new limits", async () => {
    const mini = new MiniApple({ limits: { maxAssets: 1, maxRequestPerSecond: 40 } });
    const server = await serveMini(mini);
    let clock = 1_000_000;
    const client = clientFor(server, { now: () => clock });
    const sToken = makeSToken("refresh");
    const token = client.forToken(sToken);
    const write = () =>
      token.associateAssets({ assets: [{ adamId: "1" }, { adamId: "2" }], serialNumbers: ["s1"] });
    const posts = () => server.requests.filter((r) => r.path.endsWith("/assets/associate")).length;
    expect((await write()).events).toHaveLength(2);
    expect(mini.configReads).toBe(1);
    mini.limits = { maxAssets: 2, maxRequestPerSecond: 50 };
    clock += 4 * 60_000 + 59_000;
    await write();
    expect(posts()).toBe(4);
    expect(mini.configReads).toBe(1);
    clock += 1_000;
    await write();
    expect(mini.configReads).toBe(2);
    expect(posts()).toBe(5);
    expect(rateLimiterFor(hashSToken(sToken), 1).rate).toBe(50);
    expect((await client.limits()).maxAssets).toBe(2);
  });

  it("keeps the previous config when a refresh fails", async () => {
    let fail = false;
    let server: FixtureServer;
    server = await serve(
      routes({
        "GET /mdm/v2/service/config": () =>
          fail
            ? appleError(400, 9602, "Invalid argument.")
            : { body: serviceConfigFor(server.origin, { maxAssets: 3 }) },
      }),
    );
    let clock = 0;
    const client = clientFor(server, { now: () => clock });
    expect((await client.limits()).maxAssets).toBe(3);
    fail = true;
    clock += 6 * 60_000;
    expect((await client.limits()).maxAssets).toBe(3);
    expect(server.requests).toHaveLength(2);
  });
});

describe("metadata per storefront", () => {
  const pages = fixture("legacy-content-metadata-lookup-response.json").results["361309726"];
  function catalog(server: () => FixtureServer): Handler {
    return routes({
      "GET /mdm/v2/service/config": () => ({ body: serviceConfigFor(server().origin) }),
      "GET /mdm/v2/client/config": { body: fixture("client-config-response.json") },
      "GET /WebObjects/MZStorePlatform.woa/wa/lookup": (req) => {
        const ids = (req.query.get("id") ?? "").split(",");
        const cc = req.query.get("cc");
        const platform = req.query.get("platform");
        const results: Record<string, unknown> = {};
        for (const id of ids) {
          if (id === "361309726" && cc === "us" && platform !== "macappstore") results[id] = pages;
          if (id === "409183694" && platform === "macappstore")
            results[id] = {
              ...pages,
              id: 409183694,
              name: "Keynote",
              bundleId: "com.apple.iWork.Keynote",
              kind: "macSoftware",
              deviceFamilies: ["mac"],
            };
          if (id.startsWith("5") && cc === "us" && platform !== "macappstore")
            results[id] = { ...pages, id: Number(id), name: `App ${id}` };
        }
        return {
          body: {
            results,
            version: 2,
            isAuthenticated: false,
            meta: { storefront: { cc: cc?.toUpperCase(), id: "143441" }, language: { tag: "en-us" } },
          },
        };
      },
    });
  }

  it("uses the token's country and platform, falls back to the Mac App Store, and batches ids", async () => {
    let server: FixtureServer;
    server = await serve(catalog(() => server));
    const token = clientFor(server, { metadataBatchSize: 2 }).forToken(makeSToken("meta"));
    const result = await token.lookupMetadata([
      "361309726",
      "409183694",
      "500000001",
      "500000002",
      "500000003",
    ]);
    expect(result.country).toBe("us");
    expect(result.items.map((m) => [m.adamId, m.name, m.platforms.join("+")])).toEqual([
      ["361309726", "Pages", "iOS"],
      ["409183694", "Keynote", "macOS"],
      ["500000001", "App 500000001", "iOS"],
      ["500000002", "App 500000002", "iOS"],
      ["500000003", "App 500000003", "iOS"],
    ]);
    expect(result.notFound).toEqual([]);
    const lookups = server.requests.filter((r) => r.path.endsWith("/lookup"));
    expect(lookups.map((r) => `${r.query.get("platform")}:${r.query.get("id")}`)).toEqual(
      expect.arrayContaining([
        "volumestore:361309726,409183694",
        "volumestore:500000001,500000002",
        "volumestore:500000003",
        "macappstore:409183694",
      ]),
    );
    expect(lookups).toHaveLength(4);
  });

  it("an app not sold in the storefront gives an empty result", async () => {
    let server: FixtureServer;
    server = await serve(catalog(() => server));
    const client = clientFor(server);
    const result = await client.forToken(makeSToken("fr")).lookupMetadata(["361309726"], { country: "FR" });
    expect(result).toEqual({ country: "fr", items: [], notFound: ["361309726"] });
    expect(server.requests.filter((r) => r.path.endsWith("/lookup")).map((r) => r.query.get("cc"))).toEqual([
      "fr",
      "fr",
    ]);
    const us = await client.lookupMetadata(["361309726"], { country: "us", platform: "enterprisestore" });
    expect(us.items[0]).toMatchObject({ name: "Pages", bundleId: "com.apple.Pages", version: "5.0.1" });
    expect(server.requests.at(-1)?.headers.cookie).toBeUndefined();
  });

  it("ALLOT_APPLE_METADATA_URL (metadataUrl) wins over the service config", async () => {
    let server: FixtureServer;
    server = await serve((req) =>
      req.path === "/elsewhere" ? { body: { results: { "361309726": pages } } } : catalog(() => server)(req),
    );
    const result = await clientFor(server, { metadataUrl: `${server.origin}/elsewhere` })
      .forToken(makeSToken("override"))
      .lookupMetadata(["361309726"], { country: "us" });
    expect(result.items.map((m) => m.name)).toEqual(["Pages"]);
    expect(server.requests.some((r) => r.path.endsWith("/wa/lookup"))).toBe(false);
  });
});

describe("another MDM and secrecy", () => {
  it("notices another MDM's mdmInfo on any response, stops writes, and resumes after taking the token back", async () => {
    const mine = { id: "allot-1", name: "Allot", metadata: "tenant-a" };
    let current: typeof mine | undefined = mine;
    const mini = new MiniApple();
    const server = await serve((req) => {
      if (req.path.endsWith("/client/config") && req.method === "POST") {
        current = req.body.mdmInfo;
        return { body: { ...envelope, mdmInfo: current } };
      }
      const reply = mini.handler(req) as { body?: any };
      if (reply.body && typeof reply.body === "object" && current && !req.path.endsWith("/service/config"))
        reply.body = { ...reply.body, mdmInfo: current };
      return reply;
    });
    mini.origin = server.origin;
    const conflicts: string[] = [];
    const token = clientFor(server).forToken(makeSToken("mdm"), {
      mdmId: mine.id,
      onMdmConflict: (info) => conflicts.push(info.name),
    });
    await token.getUsers();
    expect(token.mdmConflict).toBe(false);
    current = { id: "other-mdm", name: "Other MDM", metadata: "x" };
    await token.getAssignments();
    await token.getUsers();
    expect(token.mdmConflict).toBe(true);
    expect(token.mdmInfo?.name).toBe("Other MDM");
    expect(conflicts).toEqual(["Other MDM"]);
    const before = server.requests.length;
    await expect(
      token.associateAssets({ assets: [{ adamId: "1" }], serialNumbers: ["s1"] }),
    ).rejects.toBeInstanceOf(AppleMdmConflictError);
    await expect(token.createUsers([{ clientUserId: "x" }])).rejects.toBeInstanceOf(AppleMdmConflictError);
    expect(server.requests.length).toBe(before);
    await token.setClientConfig({ mdmInfo: mine });
    expect(token.mdmConflict).toBe(false);
    // taking another identity on purpose is not a conflict either
    await token.setClientConfig({ mdmInfo: { ...mine, id: "allot-2" } });
    expect(token.mdmConflict).toBe(false);
    expect(conflicts).toEqual(["Other MDM"]);
    expect(
      (await token.associateAssets({ assets: [{ adamId: "1" }], serialNumbers: ["s1"] })).events,
    ).toHaveLength(1);
  });

  it("never logs the sToken nor puts it in errors", async () => {
    const sToken = makeSToken("secret");
    const inner = JSON.parse(Buffer.from(sToken, "base64").toString("utf8")).token as string;
    let n = 0;
    const server = await serve(
      routes({
        "GET /mdm/v2/service/config": { body: fixture("service-config-response.json") },
        "GET /mdm/v2/assets": () =>
          ++n === 1
            ? appleError(503, 9729, `unavailable for ${sToken}`, { "retry-after": "0" })
            : appleError(401, 9625, `revoked: ${sToken}`),
        "GET /mdm/v2/users": { delayMs: 3000, body: fixture("get-users-response.json") },
      }),
    );
    const lines: string[] = [];
    const record = (level: string) => (obj: object, msg: string) =>
      lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
    const logger = {
      debug: record("debug"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
    };
    const token = clientFor(server, {
      logger,
      // Long enough for the quick replies on a loaded machine, far shorter than the users' 3 s delay.
      requestTimeoutMs: 1000,
      retry: { ...fastRetry, maxAttempts: 2 },
    }).forToken(sToken);
    const errors = [
      await token.getAssets().catch((e: unknown) => e),
      await token.getUsers().catch((e: unknown) => e),
    ] as Error[];
    expect(errors[0]).toBeInstanceOf(AppleTokenError);
    expect(errors[1]).toBeInstanceOf(AppleTransportError);
    expect(lines.length).toBeGreaterThan(0);
    const everything = [
      ...lines,
      ...errors.flatMap((e) => [e.message, e.stack ?? "", JSON.stringify(e), String(e.cause ?? "")]),
    ].join("\n");
    expect(everything).not.toContain(sToken);
    expect(everything).not.toContain(inner);
    expect(everything).toContain(hashSToken(sToken).slice(0, 12));
    expect((errors[0] as AppleTokenError).errorMessage).toContain("[redacted]");
  });
});
