// Token errors (9722, 9622, 9621, 9625 — also with HTTP 200), the response envelope, and another
// MDM claiming the token (reference §1, §2, §16.1–2).
import { afterEach, describe, expect, it } from "vitest";
import { appleClient, startEmu, stopAll, testOrg } from "./test-helpers.ts";

afterEach(stopAll);

const apps = [{ adamId: "408709785", totalCount: 10 }];

describe("authentication", () => {
  it("a missing or malformed Authorization header is 9722 (401)", async () => {
    const emu = await startEmu();
    const none = appleClient(emu, undefined);
    const variants: Record<string, string>[] = [
      {},
      { Authorization: "Basic abc" },
      { Authorization: "Bearer" },
      { Authorization: "bearer x y" },
    ];
    for (const headers of variants) {
      const r = await none.raw("GET", "/assets", { headers });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({
        errorNumber: 9722,
        errorMessage:
          "This request contains an invalid authorization header. Change the request to send an authorization header that matches the format 'Bearer {sToken}'.",
      });
    }
  });

  it("an unknown token is 9622 with HTTP 200 by default (as observed in production), 401 when switched", async () => {
    const emu = await startEmu();
    const { sToken } = await emu.control.createLocation({ ...testOrg, assets: apps });
    const unknown = Buffer.from(
      JSON.stringify({ token: "bm90LWEtdG9rZW4=", expDate: "2030-11-08T22:33:22+0000", orgName: "X" }),
    ).toString("base64");
    const inner = JSON.parse(Buffer.from(sToken, "base64").toString()).token;
    for (const t of [unknown, inner, "garbage", "e30="]) {
      const r = await appleClient(emu, t).get("/client/config");
      expect(r.status).toBe(200);
      expect(r.body.errorNumber).toBe(9622);
      expect(r.body.uId).toBeUndefined();
    }
    const strict = await startEmu({ invalidTokenStatus: 401 });
    const r = await appleClient(strict, unknown).get("/assets");
    expect(r.status).toBe(401);
    expect(r.body.errorNumber).toBe(9622);
  });

  it("an expired token is 9621 (401)", async () => {
    const emu = await startEmu();
    const { sToken } = await emu.control.createLocation({
      ...testOrg,
      expDate: "2020-01-01T00:00:00+0000",
      assets: apps,
    });
    for (const path of ["/client/config", "/assets", "/assignments", "/users"]) {
      const r = await appleClient(emu, sToken).get(path);
      expect(r.status).toBe(401);
      expect(r.body.errorNumber).toBe(9621);
      expect(r.body.errorMessage).toMatch(/The token has expired/);
    }
  });

  it("renewing revokes the old token (9625, 401) and the new one works; 9625 can be sent with HTTP 200", async () => {
    const emu = await startEmu();
    const { uId, sToken } = await emu.control.createLocation({ ...testOrg, assets: apps });
    const { sToken: renewed } = await emu.control.renew(uId);
    expect(renewed).not.toBe(sToken);
    const old = await appleClient(emu, sToken).get("/client/config");
    expect(old.status).toBe(401);
    expect(old.body).toEqual({ errorNumber: 9625, errorMessage: "The server has revoked the sToken." });
    const fresh = await appleClient(emu, renewed).get("/client/config");
    expect(fresh.status).toBe(200);
    expect(fresh.body.uId).toBe(uId);

    await emu.control.patchConfig({ errorStatusOverrides: { 9625: 200 } });
    const as200 = await appleClient(emu, sToken).post("/assets/associate", {
      assets: [{ adamId: "408709785" }],
      serialNumbers: ["S1"],
    });
    expect(as200.status).toBe(200);
    expect(as200.body.errorNumber).toBe(9625);
    expect((await emu.control.events(uId)).events).toHaveLength(0);
  });

  it("service config needs no token", async () => {
    const emu = await startEmu();
    const r = await appleClient(emu, "not-a-token").get("/service/config");
    expect(r.status).toBe(200);
    expect(r.body.limits.maxRequestPerSecond).toBe(15);
  });

  it("wrong method 405/9726, wrong content type 415/9727, broken JSON 400/9602, unknown path 404", async () => {
    const emu = await startEmu();
    const { sToken } = await emu.control.createLocation({ ...testOrg, assets: apps });
    const api = appleClient(emu, sToken);
    expect((await api.raw("DELETE", "/assets")).status).toBe(405);
    expect((await api.post("/assets")).body.errorNumber).toBe(9726);
    const text = await api.raw("POST", "/users/create", {
      headers: { "Content-Type": "text/plain" },
      body: "{}",
    });
    expect(text.status).toBe(415);
    expect(text.body.errorNumber).toBe(9727);
    const noType = await api.raw("POST", "/users/create", { body: "{}" });
    expect(noType.status).toBe(415);
    const broken = await api.raw("POST", "/users/create", {
      headers: { "Content-Type": "application/json" },
      body: "{",
    });
    expect(broken.status).toBe(400);
    expect(broken.body.errorNumber).toBe(9602);
    expect((await api.get("/nope")).status).toBe(404);
  });
});

describe("envelope", () => {
  it("every authenticated answer carries tokenExpirationDate (+0000) and uId; mdmInfo once set", async () => {
    const emu = await startEmu({ settleMs: 0 });
    const { uId, sToken } = await emu.control.createLocation({
      ...testOrg,
      expDate: "2031-02-03T04:05:06+0000",
      assets: apps,
    });
    const api = appleClient(emu, sToken);
    const ev = (await api.post("/users/create", { users: [{ clientUserId: "u1" }] })).body;
    const answers = [
      ev,
      (await api.get("/client/config")).body,
      (await api.get("/assets")).body,
      (await api.get("/assignments")).body,
      (await api.get("/users")).body,
      (await api.get(`/status?eventId=${ev.eventId}`)).body,
    ];
    for (const a of answers) {
      expect(a.tokenExpirationDate).toBe("2031-02-03T04:05:06+0000");
      expect(a.uId).toBe(uId);
      expect(a).not.toHaveProperty("mdmInfo");
    }
    const mdmInfo = { id: "allot-1", name: "Allot", metadata: "0.1.0" };
    await api.post("/client/config", { mdmInfo });
    expect((await api.get("/assets")).body.mdmInfo).toEqual(mdmInfo);
  });

  it("tokenExpirationDate only within 15 days of expiry when so configured", async () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    const emu = await startEmu({ tokenExpirationDate: "within15Days", now: () => now });
    const far = await emu.control.createLocation({ ...testOrg, expDate: "2030-06-01T00:00:00+0000" });
    const near = await emu.control.createLocation({ ...testOrg, expDate: "2030-01-10T00:00:00+0000" });
    expect((await appleClient(emu, far.sToken).get("/client/config")).body).not.toHaveProperty(
      "tokenExpirationDate",
    );
    expect((await appleClient(emu, near.sToken).get("/client/config")).body.tokenExpirationDate).toBe(
      "2030-01-10T00:00:00+0000",
    );
  });
});

describe("another MDM", () => {
  it("a claim through the control API shows the other mdmInfo on every response, and takes the notifications", async () => {
    const emu = await startEmu({ settleMs: 0 });
    const { uId, sToken } = await emu.control.createLocation({ ...testOrg, assets: apps });
    const api = appleClient(emu, sToken);
    const ours = { id: "allot-token-1", name: "Allot", metadata: "allot.example.com" };
    await api.post("/client/config", { mdmInfo: ours });
    expect((await api.get("/client/config")).body.mdmInfo).toEqual(ours);
    const theirs = { id: "other-mdm-7", name: "Other MDM", metadata: "mdm.other.example" };
    await emu.control.claim(uId, { mdmInfo: theirs });
    const ev = (
      await api.post("/assets/associate", { assets: [{ adamId: "408709785" }], serialNumbers: ["S1"] })
    ).body;
    for (const a of [
      ev,
      (await api.get("/client/config")).body,
      (await api.get("/assets")).body,
      (await api.get("/assignments")).body,
      (await api.get("/users")).body,
      (await api.get(`/status?eventId=${ev.eventId}`)).body,
    ])
      expect(a.mdmInfo).toEqual(theirs);
    expect((await api.get("/client/config")).body).not.toHaveProperty("notificationUrl");
    // Last writer wins: we can take it back.
    await api.post("/client/config", { mdmInfo: ours });
    expect((await api.get("/assets")).body.mdmInfo).toEqual(ours);
  });
});
