import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { AppleRateLimiter, hashSToken, rateLimiterFor } from "./rate-limiter.ts";
import { backoffDelayMs, defaultRetryPolicy, parseRetryAfter } from "./transport.ts";

describe("retry timing", () => {
  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("120")).toBe(120);
    expect(parseRetryAfter("0.5")).toBe(0.5);
    const now = Date.parse("2026-11-21T10:00:00Z");
    expect(parseRetryAfter("Sat, 21 Nov 2026 10:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Sat, 21 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("backs off exponentially with 50–100 % jitter, capped", () => {
    const policy = { ...defaultRetryPolicy, baseDelayMs: 1000, factor: 3, maxDelayMs: 20_000 };
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(500);
    expect(backoffDelayMs(policy, 1, () => 1)).toBe(1000);
    expect(backoffDelayMs(policy, 3, () => 1)).toBe(9000);
    expect(backoffDelayMs(policy, 10, () => 1)).toBe(20_000);
  });
});

describe("rate limiter", () => {
  it("spaces requests at 1/rate and never lets more than `rate` start within a second", async () => {
    const limiter = new AppleRateLimiter(50);
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 70 }, () => limiter.acquire().then(() => at.push(performance.now()))),
    );
    at.sort((a, b) => a - b);
    // on average 1/rate apart (plus the 2 % margin) ...
    expect((at.at(-1)! - at[0]) / (at.length - 1)).toBeGreaterThanOrEqual(20);
    // ... and never more than `rate` departures in any second, even when a timer fires late
    for (let i = 50; i < at.length; i++) expect(at[i] - at[i - 50]).toBeGreaterThanOrEqual(1000);
  });

  it("a pause holds back callers that were already waiting", async () => {
    const limiter = new AppleRateLimiter(100);
    await limiter.acquire();
    const start = performance.now();
    const waiting = limiter.acquire().then(() => performance.now());
    limiter.pauseUntil(start + 150);
    expect(await waiting).toBeGreaterThanOrEqual(start + 150);
  });

  it("is one per token hash in the process; the hash never equals the token", () => {
    const token = "c2VjcmV0LXRva2Vu";
    const hash = hashSToken(`${token}\n`);
    expect(hash).toBe(hashSToken(token));
    expect(hash).not.toContain(token);
    expect(rateLimiterFor(hash, 15)).toBe(rateLimiterFor(hash, 99));
    expect(rateLimiterFor(hash, 1).rate).toBe(15);
  });
});
