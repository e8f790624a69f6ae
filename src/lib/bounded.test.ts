import { describe, expect, it } from "vitest";
import { createBounded } from "./bounded.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("createBounded", () => {
  it("never runs more than the limit at once and runs every task", async () => {
    const b = createBounded(2);
    let now = 0;
    let peak = 0;
    const done: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 7; i++)
      await b.submit(async () => {
        now++;
        peak = Math.max(peak, now);
        await tick(5 + (i % 3));
        now--;
        done.push(i);
      });
    await b.drain();
    expect(peak).toBe(2);
    // Busy time is the union of the run times: at least the longest task, at most the whole run.
    expect(b.busyMs()).toBeGreaterThanOrEqual(5);
    expect(b.busyMs()).toBeLessThanOrEqual(performance.now() - t0);
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("holds the caller back while the limit is reached", async () => {
    const b = createBounded(1);
    let release!: () => void;
    await b.submit(() => new Promise<void>((r) => (release = r)));
    let second = false;
    const p = b.submit(async () => {
      second = true;
    });
    await tick(5);
    expect(second).toBe(false);
    release();
    await p;
    await b.drain();
    expect(second).toBe(true);
  });

  it("reports the first failure from drain and refuses later submissions", async () => {
    const b = createBounded(2);
    await b.submit(async () => {
      await tick(2);
      throw new Error("first");
    });
    await b.submit(async () => {
      await tick(10);
      throw new Error("second");
    });
    await expect(b.drain()).rejects.toThrow("first");
    await expect(b.submit(async () => undefined)).rejects.toThrow("first");
  });
});
