import { describe, expect, it } from "vitest";
import { expandPairs, planAssetPairs, planManageAssets, planRevoke, planUsers } from "./chunking.ts";
import type { AppleAssetTargetPair } from "./types.ts";

const limits = { maxAssets: 2, maxSerialNumbers: 3, maxClientUserIds: 2 };
const pairKey = (p: AppleAssetTargetPair) =>
  `${p.adamId}/${p.pricingParam ?? ""}/${p.serialNumber ?? ""}/${p.clientUserId ?? ""}`;

describe("chunking by Apple's limits", () => {
  it("splits the cross product by maxAssets × maxSerialNumbers / maxClientUserIds, serials and users sharing requests", () => {
    const assets = ["1", "2", "3", "4", "5", "1"].map((adamId) => ({ adamId, pricingParam: "STDQ" }));
    const serialNumbers = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s7"];
    const clientUserIds = ["u1", "u2", "u3"];
    const plan = planManageAssets({ assets, serialNumbers, clientUserIds }, limits);
    // 3 asset chunks (2, 2, 1) × 3 target chunks (serials 3/3/1 zipped with users 2/1/–)
    expect(plan).toHaveLength(9);
    for (const r of plan) {
      expect(r.assets.length).toBeLessThanOrEqual(2);
      expect((r.serialNumbers ?? []).length).toBeLessThanOrEqual(3);
      expect((r.clientUserIds ?? []).length).toBeLessThanOrEqual(2);
    }
    const pairs = plan.flatMap(expandPairs).map(pairKey);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs).toHaveLength(5 * 10);
    expect(plan[0]).toEqual({
      assets: assets.slice(0, 2),
      clientUserIds: ["u1", "u2"],
      serialNumbers: ["s1", "s2", "s3"],
    });
    expect(plan[2]).toEqual({ assets: assets.slice(0, 2), serialNumbers: ["s7"] });
  });

  it("sends nothing for an empty write (Apple would reject it)", () => {
    expect(planManageAssets({ assets: [], serialNumbers: ["s1"] }, limits)).toEqual([]);
    expect(planManageAssets({ assets: [{ adamId: "1" }] }, limits)).toEqual([]);
    expect(planRevoke({}, { maxRevokeSerialNumbers: 1, maxRevokeClientUserIds: 1 })).toEqual([]);
    expect(planUsers([], 10)).toEqual([]);
  });

  it("groups individual pairs by targets needing the same assets, so no unwanted pair is sent", () => {
    const pairs: AppleAssetTargetPair[] = [
      { adamId: "1", pricingParam: "STDQ", serialNumber: "A" },
      { adamId: "2", pricingParam: "STDQ", serialNumber: "A" },
      { adamId: "2", pricingParam: "STDQ", serialNumber: "B" },
      { adamId: "1", pricingParam: "STDQ", serialNumber: "B" },
      { adamId: "3", pricingParam: "STDQ", serialNumber: "C" },
      { adamId: "1", pricingParam: "STDQ", clientUserId: "u1" },
      { adamId: "2", pricingParam: "STDQ", clientUserId: "u1" },
      { adamId: "1", pricingParam: "STDQ", clientUserId: "u1" },
    ];
    const plan = planAssetPairs(pairs, limits);
    expect(plan).toEqual([
      {
        assets: [
          { adamId: "1", pricingParam: "STDQ" },
          { adamId: "2", pricingParam: "STDQ" },
        ],
        clientUserIds: ["u1"],
        serialNumbers: ["A", "B"],
      },
      { assets: [{ adamId: "3", pricingParam: "STDQ" }], serialNumbers: ["C"] },
    ]);
    const sent = plan.flatMap(expandPairs).map(pairKey).sort();
    expect(sent).toEqual([...new Set(pairs.map(pairKey))].sort());
  });

  it("chunks a big group of pairs by the limits too", () => {
    const pairs: AppleAssetTargetPair[] = [];
    for (const adamId of ["1", "2", "3"])
      for (let s = 0; s < 7; s++) pairs.push({ adamId, serialNumber: `s${s}` });
    const plan = planAssetPairs(pairs, limits);
    expect(plan).toHaveLength(2 * 3);
    expect(plan.flatMap(expandPairs)).toHaveLength(21);
  });

  it("revoke uses the revoke limits; users are unique per clientUserId and chunked by maxUsers", () => {
    const plan = planRevoke(
      { serialNumbers: ["a", "b", "c", "d", "e"], clientUserIds: ["u1", "u2"] },
      { maxRevokeSerialNumbers: 2, maxRevokeClientUserIds: 1 },
    );
    expect(plan).toEqual([
      { clientUserIds: ["u1"], serialNumbers: ["a", "b"] },
      { clientUserIds: ["u2"], serialNumbers: ["c", "d"] },
      { serialNumbers: ["e"] },
    ]);
    const users = planUsers(
      [
        { clientUserId: "a", email: "a@x.test" },
        { clientUserId: "b" },
        { clientUserId: "a", email: "other@x.test" },
        { clientUserId: "c" },
        { clientUserId: "d" },
      ],
      2,
    );
    expect(users).toEqual([
      [{ clientUserId: "a", email: "a@x.test" }, { clientUserId: "b" }],
      [{ clientUserId: "c" }, { clientUserId: "d" }],
    ]);
  });
});
