// The pure parts of token handling: Allot's mdmInfo id, which public URLs Apple can call, the
// write guard for a token another MDM manages, and the at-rest encryption of secrets (TOK-8).
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret, secretFingerprint } from "../../lib/crypto.ts";
import { AppleMdmConflictError, type AppleTokenClient } from "../../stores/apple/index.ts";
import { mdmIdFor, mdmInfoFor, notificationUrlFor, withoutWrites } from "./tokens.apple.ts";

describe("Allot's mdmInfo", () => {
  const key = randomBytes(32);
  it("is stable per instance key and tenant, and fits Apple's limits", () => {
    const a = mdmIdFor(key, "tenant-a");
    expect(mdmIdFor(key, "tenant-a")).toBe(a);
    expect(mdmIdFor(key, "tenant-b")).not.toBe(a);
    expect(mdmIdFor(randomBytes(32), "tenant-a")).not.toBe(a);
    const info = mdmInfoFor(key, "tenant-a", "https://allot.contoso.example/base");
    expect(info).toEqual({
      id: a,
      name: "Allot",
      metadata: '{"product":"Allot","host":"allot.contoso.example"}',
    });
    expect(info.id.length).toBeLessThanOrEqual(100);
    expect(info.metadata.length).toBeLessThanOrEqual(255);
  });
});

describe("notificationUrlFor", () => {
  it("uses https and loopback http public URLs, nothing else", () => {
    expect(notificationUrlFor("https://allot.example/", "t1")).toBe(
      "https://allot.example/notifications/apple/t1",
    );
    expect(notificationUrlFor("https://allot.example/sub/", "t1")).toBe(
      "https://allot.example/sub/notifications/apple/t1",
    );
    expect(notificationUrlFor("http://127.0.0.1:8080", "t1")).toBe(
      "http://127.0.0.1:8080/notifications/apple/t1",
    );
    expect(notificationUrlFor("http://localhost:3000", "t1")).toBe(
      "http://localhost:3000/notifications/apple/t1",
    );
    expect(notificationUrlFor("http://[::1]:3000", "t1")).toBe("http://[::1]:3000/notifications/apple/t1");
    expect(notificationUrlFor("http://allot.example", "t1")).toBeUndefined();
    expect(notificationUrlFor("http://10.0.0.5", "t1")).toBeUndefined();
    expect(notificationUrlFor(undefined, "t1")).toBeUndefined();
  });
});

describe("withoutWrites", () => {
  it("refuses every write before calling the client and passes reads through", async () => {
    const called: string[] = [];
    const fake = {
      tokenHash: "h",
      mdmInfo: undefined,
      mdmConflict: false,
      getAssets: async () => {
        called.push("getAssets");
        return { assets: [] };
      },
      associateAssets: async () => {
        called.push("associateAssets");
        return { events: [], verifiedPairs: [] };
      },
      retireUsers: async () => {
        called.push("retireUsers");
        return { events: [], verifiedClientUserIds: [] };
      },
    } as unknown as AppleTokenClient;
    const guarded = withoutWrites(fake, "allot-1", { id: "other", name: "Jamf Pro", metadata: "" });
    await expect(
      guarded.associateAssets({ assets: [{ adamId: "1" }], serialNumbers: ["S"] }),
    ).rejects.toBeInstanceOf(AppleMdmConflictError);
    await expect(guarded.retireUsers(["u1"])).rejects.toThrow(/Jamf Pro/);
    expect(guarded.mdmConflict).toBe(true);
    await guarded.getAssets();
    expect(called).toEqual(["getAssets"]);
  });
});

describe("secrets at rest", () => {
  const key = Buffer.from("k".repeat(40));
  it("round-trips, differs every time, and refuses another context, key or a changed byte", () => {
    const a = encryptSecret("the-stoken", key, "row-1");
    const b = encryptSecret("the-stoken", key, "row-1");
    expect(a).not.toBe(b);
    expect(a).not.toContain("the-stoken");
    expect(decryptSecret(a, key, "row-1")).toBe("the-stoken");
    expect(() => decryptSecret(a, key, "row-2")).toThrow();
    expect(() => decryptSecret(a, Buffer.from("j".repeat(40)), "row-1")).toThrow();
    const raw = Buffer.from(a.slice(3), "base64");
    raw[raw.length - 1] ^= 1;
    expect(() => decryptSecret(`v1.${raw.toString("base64")}`, key, "row-1")).toThrow();
    expect(secretFingerprint("x", key, "p")).toBe(secretFingerprint("x", key, "p"));
    expect(secretFingerprint("x", key, "p")).not.toBe(secretFingerprint("x", key, "q"));
  });
});
