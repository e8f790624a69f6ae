// Rate limiting (15 rps per location → 429/9646 with Retry-After), injected 5xx with Retry-After
// (failNext), latency (reference §8, §16.14).
import { afterEach, describe, expect, it } from "vitest";
import { appleClient, startEmu, stopAll, testOrg } from "./test-helpers.ts";

afterEach(stopAll);

describe("rate limiting", () => {
  it("at most maxRequestPerSecond requests per location per second, over all endpoints; the rest 429/9646 with Retry-After", async () => {
    const emu = await startEmu({ rateLimitRps: undefined, settleMs: 0 });
    const a = await emu.control.createLocation({ ...testOrg, assets: [{ adamId: "1", totalCount: 5 }] });
    const b = await emu.control.createLocation({ ...testOrg, assets: [{ adamId: "1", totalCount: 5 }] });
    const api = appleClient(emu, a.sToken);
    const paths = ["/assets", "/assignments", "/users", "/client/config"];
    // The budget is per second: a burst that a busy machine spreads over more than a second may
    // rightly get more through. Take the first burst that completes well inside one second.
    let replies: Awaited<ReturnType<typeof api.get>>[] = [];
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      replies = await Promise.all(Array.from({ length: 20 }, (_, i) => api.get(paths[i % paths.length])));
      if (performance.now() - started < 700 || attempt === 4) break;
      await new Promise((r) => setTimeout(r, 1100));
    }
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status === 429);
    expect(ok).toHaveLength(15);
    expect(limited).toHaveLength(5);
    for (const r of limited) {
      expect(r.body).toEqual({
        errorNumber: 9646,
        errorMessage: "There are too many recent requests. Try again momentarily.",
      });
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Another location has its own budget; service config is not limited.
    expect((await appleClient(emu, b.sToken).get("/assets")).status).toBe(200);
    expect((await appleClient(emu, undefined).get("/service/config")).status).toBe(200);
    // A write refused by the limiter is not processed.
    const write = await api.post("/assets/associate", { assets: [{ adamId: "1" }], serialNumbers: ["S1"] });
    expect(write.status).toBe(429);
    expect((await emu.control.events(a.uId)).events).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1050));
    expect((await api.get("/assets")).status).toBe(200);
  });

  it("the limit follows service config limits at runtime and can be overridden by a fault", async () => {
    const emu = await startEmu({ rateLimitRps: undefined });
    await emu.control.setLimits({ maxRequestPerSecond: 4 });
    const { sToken } = await emu.control.createLocation(testOrg);
    const api = appleClient(emu, sToken);
    const first = await Promise.all(Array.from({ length: 6 }, () => api.get("/users")));
    expect(first.filter((r) => r.status === 200)).toHaveLength(4);
    await emu.control.setFaults({ rateLimitRps: 0 });
    const unlimited = await Promise.all(Array.from({ length: 30 }, () => api.get("/users")));
    expect(unlimited.every((r) => r.status === 200)).toBe(true);
  });
});

describe("failNext", () => {
  it("answers the next requests with the injected status, errorNumber and Retry-After, then recovers", async () => {
    const emu = await startEmu();
    const { uId, sToken } = await emu.control.createLocation({
      ...testOrg,
      assets: [{ adamId: "1", totalCount: 5 }],
    });
    const api = appleClient(emu, sToken);
    await emu.control.setFaults({ failNext: [{ status: 503, errorNumber: 9729, retryAfter: 2, count: 2 }] });
    for (let i = 0; i < 2; i++) {
      const r = await api.get("/assets");
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe("2");
      expect(r.body.errorNumber).toBe(9729);
    }
    expect((await api.get("/assets")).status).toBe(200);

    await emu.control.setFaults({
      failNext: [{ status: 500, errorNumber: 9603, path: "/assets/associate" }],
    });
    expect((await api.get("/assets")).status).toBe(200);
    const failed = await api.post("/assets/associate", { assets: [{ adamId: "1" }], serialNumbers: ["S1"] });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ errorNumber: 9603, errorMessage: "Internal error." });
    expect(failed.headers.get("retry-after")).toBeNull();
    expect((await emu.control.events(uId)).events).toHaveLength(0);
    expect(
      (await api.post("/assets/associate", { assets: [{ adamId: "1" }], serialNumbers: ["S1"] })).status,
    ).toBe(200);
  });

  it("rejects malformed fault bodies", async () => {
    const emu = await startEmu();
    const r = await fetch(`${emu.url}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ failNext: [{ status: "x" }] }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error.message).toMatch(/status/);
  });
});

describe("latency", () => {
  it("adds latency to Apple requests (option and fault)", async () => {
    const emu = await startEmu({ latencyMs: 300 });
    const { sToken } = await emu.control.createLocation(testOrg);
    const api = appleClient(emu, sToken);
    let t = performance.now();
    await api.get("/assets");
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    await emu.control.setFaults({ latencyMs: 0 });
    t = performance.now();
    await api.get("/assets");
    expect(performance.now() - t).toBeLessThan(250);
  });
});
