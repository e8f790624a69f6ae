// MDM-1: how the bridge splits the holders of settled holdings into directory slices (settledSlices).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Holders, settledSlices } from "./mdm-bridge.service.ts";

const holders = (users: string[], devices: string[] = []): Holders => ({ users, devices });

describe("settledSlices", () => {
  it("packs apps into slices up to the limit and plans an app over it whole", () => {
    const byApp = new Map([
      ["a", holders(["u1", "u2"], ["d1"])],
      ["b", holders(["u2"], ["d2"])],
      ["big", holders(["u1", "u2", "u3", "u4", "u5"])],
      ["c", holders([], ["d3", "d4"])],
    ]);
    const r = settledSlices(["a", "b", "big", "c"], byApp, 4);
    // a (3) + b (2) would be 5 > 4: b starts a new slice, c (2) joins it; big (5) is planned whole
    expect(r.whole).toEqual(["big"]);
    expect(r.slices).toEqual([
      { apps: ["a"], holders: holders(["u1", "u2"], ["d1"]) },
      { apps: ["b", "c"], holders: holders(["u2"], ["d2", "d3", "d4"]) },
    ]);
  });

  it("an app without settled holders still gets a slice (nothing to plan for it there)", () => {
    expect(settledSlices(["x"], new Map(), 10)).toEqual({ slices: [{ apps: ["x"], holders: holders([]) }], whole: [] });
  });

  it("every app once; each slice holds all of its apps' holders and at most `max` of them", () => {
    const id = fc.integer({ min: 0, max: 30 });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 12 }),
        fc.array(fc.tuple(fc.uniqueArray(id, { maxLength: 8 }), fc.uniqueArray(id, { maxLength: 8 })), {
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 10 }),
        (apps, sets, max) => {
          const byApp = new Map(
            apps.map((a, i) => {
              const [u, d] = sets[i] ?? [[], []];
              return [a, holders(u.map((x) => `u${x}`), d.map((x) => `d${x}`))] as const;
            }),
          );
          const r = settledSlices(apps, byApp, max);
          const planned = [...r.slices.flatMap((s) => s.apps), ...r.whole];
          expect([...planned].sort()).toEqual([...apps].sort());
          for (const a of r.whole) {
            const h = byApp.get(a) as Holders;
            expect(h.users.length + h.devices.length).toBeGreaterThan(max);
          }
          for (const s of r.slices) {
            expect(s.holders.users.length + s.holders.devices.length).toBeLessThanOrEqual(max);
            for (const a of s.apps) {
              const h = byApp.get(a) as Holders;
              for (const u of h.users) expect(s.holders.users).toContain(u);
              for (const d of h.devices) expect(s.holders.devices).toContain(d);
            }
          }
        },
      ),
    );
  });
});
