import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { groupWritePairs, type WriteLimits } from "./licenses.batching.ts";

interface P {
  asset: string;
  serial?: string;
  user?: string;
}
const of = {
  asset: (p: P) => p.asset,
  target: (p: P) =>
    p.serial !== undefined
      ? { kind: "serial" as const, key: p.serial }
      : { kind: "user" as const, key: p.user as string },
};
const ceil = Math.ceil;

/** Requests a group costs once chunked like the Apple client does (assets × zipped serial/user chunks). */
function requestsOf(group: P[], l: WriteLimits): number {
  const assets = new Set(group.map((p) => p.asset));
  const serials = new Set(group.filter((p) => p.serial).map((p) => p.serial));
  const users = new Set(group.filter((p) => p.user).map((p) => p.user));
  return (
    ceil(assets.size / l.maxAssets) *
    Math.max(ceil(serials.size / l.maxSerialNumbers), ceil(users.size / l.maxClientUserIds))
  );
}
const key = (p: P) => `${p.asset}|${p.serial ?? ""}|${p.user ?? ""}`;

describe("groupWritePairs (outbox batching)", () => {
  const limits = { maxAssets: 3, maxSerialNumbers: 4, maxClientUserIds: 2 };

  it("batches per app when targets want different app sets (the floor Σ ⌈serials ÷ max⌉ + ⌈users ÷ max⌉)", () => {
    // 8 devices: device i wants app a, plus b when i is even, plus c when i % 3 == 0: 4 distinct sets.
    const pairs: P[] = [];
    for (let i = 0; i < 8; i++) {
      pairs.push({ asset: "a", serial: `s${i}` });
      if (i % 2 === 0) pairs.push({ asset: "b", serial: `s${i}` });
      if (i % 3 === 0) pairs.push({ asset: "c", serial: `s${i}` });
    }
    const groups = groupWritePairs(pairs, of, limits);
    const total = groups.reduce((n, g) => n + requestsOf(g, limits), 0);
    // a: 8 serials → 2, b: 4 → 1, c: 3 → 1
    expect(total).toBeLessThanOrEqual(4);
  });

  it("keeps targets that share an asset list together (full chunks)", () => {
    const pairs: P[] = [];
    for (let i = 0; i < 8; i++) for (const a of ["a", "b", "c"]) pairs.push({ asset: a, serial: `s${i}` });
    const groups = groupWritePairs(pairs, of, limits);
    expect(groups.reduce((n, g) => n + requestsOf(g, limits), 0)).toBe(2);
  });

  it("every group is an exact cross product; every pair once; never above the per-app floor", () => {
    const pair = fc.record({
      asset: fc.constantFrom("a", "b", "c", "d", "e"),
      target: fc.oneof(
        fc.integer({ min: 0, max: 30 }).map((i) => ({ serial: `s${i}` })),
        fc.integer({ min: 0, max: 20 }).map((i) => ({ user: `u${i}` })),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(pair, { maxLength: 200 }),
        fc.record({
          maxAssets: fc.integer({ min: 1, max: 4 }),
          maxSerialNumbers: fc.integer({ min: 1, max: 6 }),
          maxClientUserIds: fc.integer({ min: 1, max: 6 }),
        }),
        (raw, l) => {
          const seen = new Set<string>();
          const pairs: P[] = [];
          for (const r of raw) {
            const p = { asset: r.asset, ...r.target };
            if (seen.has(key(p))) continue;
            pairs.push(p);
            seen.add(key(p));
          }
          const groups = groupWritePairs(pairs, of, l);
          expect(groups.flat().map(key).sort()).toEqual(pairs.map(key).sort());
          for (const g of groups) {
            const assets = new Set(g.map((p) => p.asset));
            const targets = new Set(g.map((p) => (p.serial ? `s:${p.serial}` : `u:${p.user}`)));
            expect(g.length).toBe(assets.size * targets.size);
          }
          const floor = [...new Set(pairs.map((p) => p.asset))].reduce((n, a) => {
            const mine = pairs.filter((p) => p.asset === a);
            return (
              n +
              ceil(mine.filter((p) => p.serial).length / l.maxSerialNumbers) +
              ceil(mine.filter((p) => p.user).length / l.maxClientUserIds)
            );
          }, 0);
          expect(groups.reduce((n, g) => n + requestsOf(g, l), 0)).toBeLessThanOrEqual(floor);
        },
      ),
      { numRuns: 300 },
    );
  });
});
