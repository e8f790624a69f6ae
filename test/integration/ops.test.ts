// API-1 operations: liveness, readiness (and its failure when the database is gone), Prometheus
// metrics, request ids and the echo of the client's request id.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe(`health, readiness, metrics and request ids (${engine})`, () => {
  let t: TestAllot;
  beforeAll(async () => {
    t = await startTestAllot();
  });
  afterAll(async () => t?.close());

  it("/healthz and /readyz answer 200 without credentials", async () => {
    const live = await t.request("GET", "/healthz");
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: "ok" });
    const ready = await t.request("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready" });
  });

  it("/metrics exposes request durations by method, route and status in Prometheus text format", async () => {
    await t.request("GET", "/healthz");
    await t.request("GET", "/v1.0/users?$top=1", { token: t.adminToken });
    await t.request("GET", "/v1.0/nothing-here", { token: t.adminToken });
    const res = await t.request("GET", "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(res.text).toContain("# TYPE allot_http_request_duration_seconds histogram");
    expect(res.text).toMatch(
      /allot_http_request_duration_seconds_bucket\{[^}]*method="GET"[^}]*route="\/healthz"[^}]*status="200"[^}]*\} [1-9]/,
    );
    expect(res.text).toMatch(
      /allot_http_request_duration_seconds_count\{[^}]*route="\/v1\.0\/users"[^}]*status="200"[^}]*\} 1/,
    );
    expect(res.text).toMatch(/allot_http_request_duration_seconds_count\{[^}]*status="404"[^}]*\} [1-9]/);
    // process metrics come along, with the same prefix
    expect(res.text).toMatch(/^allot_process_cpu_user_seconds_total /m);
    // no query strings or ids leak into labels (bounded cardinality)
    expect(res.text).not.toContain("$top");
  });

  it("every response carries a request-id (fresh per request); client-request-id is echoed", async () => {
    const a = await t.request("GET", "/healthz");
    const b = await t.request("GET", "/healthz");
    expect(a.headers.get("request-id")).toMatch(UUID);
    expect(b.headers.get("request-id")).toMatch(UUID);
    expect(a.headers.get("request-id")).not.toBe(b.headers.get("request-id"));
    expect(a.headers.get("client-request-id")).toBeNull();
    const echoed = await t.request("GET", "/v1.0/users?$top=1", {
      token: t.adminToken,
      headers: { "client-request-id": "my-own-id-42" },
    });
    expect(echoed.status).toBe(200);
    expect(echoed.headers.get("client-request-id")).toBe("my-own-id-42");
    const failed = await t.request("GET", "/v1.0/users/00000000-0000-4000-8000-000000000000", {
      token: t.adminToken,
      headers: { "client-request-id": "abc" },
    });
    expect(failed.status).toBe(404);
    expect(failed.headers.get("client-request-id")).toBe("abc");
    expect(failed.headers.get("request-id")).toBe(failed.body.error.innerError["request-id"]);
    const unauthenticated = await t.request("GET", "/v1.0/users");
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("request-id")).toBe(
      unauthenticated.body.error.innerError["request-id"],
    );
    // a caller cannot choose the server's request id
    const forged = await t.request("GET", "/healthz", { headers: { "request-id": "forged" } });
    expect(forged.headers.get("request-id")).toMatch(UUID);
  });
});

describe(`readiness without a database (${engine})`, () => {
  let t: TestAllot;
  beforeAll(async () => {
    t = await startTestAllot();
  });
  afterAll(async () => t?.close());

  it("/readyz answers 503 once the database is closed, while /healthz stays 200", async () => {
    expect((await t.request("GET", "/readyz")).status).toBe(200);
    await t.allot.database.close();
    const ready = await t.request("GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: "unavailable" });
    expect((await t.request("GET", "/healthz")).status).toBe(200);
  });
});

describe(`trusted proxies (${engine})`, () => {
  it("believes X-Forwarded-Proto from loopback by default, and from nobody with ALLOT_TRUST_PROXY=none", async () => {
    const trusting = await startTestAllot();
    const distrusting = await startTestAllot({ ALLOT_TRUST_PROXY: "none" });
    try {
      const headers = { "x-forwarded-proto": "https" };
      const a = await trusting.request("GET", "/v1.0/users?$top=1", { token: trusting.adminToken, headers });
      const b = await distrusting.request("GET", "/v1.0/users?$top=1", { token: distrusting.adminToken, headers });
      expect(a.body["@odata.context"]).toMatch(/^https:\/\//);
      expect(b.body["@odata.context"]).toMatch(/^http:\/\//);
    } finally {
      await trusting.close();
      await distrusting.close();
    }
  });
});
