// User licensing end to end (ENG-4, EUX-2, EUX-3, ENG-2, ENG-6) against the Apple emulator over real
// HTTP: a Required user-licensed assignment registers one Apple user per person at the emulator
// (users/create), each person gets one invitation e-mail (in-process SMTP server) and one signed
// webhook event with the invitation link; holdings wait `awaitingInvitation` until Apple reports the
// user associated (USER_ASSOCIATED notification) — accepted through the control API or by following
// the e-mailed link — then the license is associated at the emulator. With fewer licenses than
// people the rest wait `insufficientLicenses` until a purchase; a person leaving the group is
// released at the emulator. /beta/users/{id}/appleVppUsers shows the invitation and EULA status.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, waitFor, waitForSync } from "./sync-helpers.ts";

interface Mail {
  to: string[];
  text: string;
}

/** Mail bodies are quoted-printable: undo soft line breaks and =XX escapes. */
const decodeQuotedPrintable = (raw: string) =>
  raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));

const LICENSES = 2;
const PEOPLE = 3;
/** Generous: the suite shares a 2-core machine; every wait ends as soon as the condition holds. */
const WAIT = 120_000;

describe("user licensing with invitations against the Apple emulator", () => {
  let s: SyncSetup;
  let smtp: SMTPServer;
  let receiver: http.Server;
  let uId: string;
  let appId: string;
  let tokenId: string;
  let groupId: string;
  let hookSecret = "";
  const adamId = "720000001";
  const mails: Mail[] = [];
  const hooks: { body: any; signatureOk: boolean }[] = [];
  const people: { id: string; mail: string }[] = [];

  /** Uploads the location's token and waits (patiently) for its first sync. */
  const upload = async (sToken: string) => {
    const r = await req("POST", "/beta/deviceAppManagement/vppTokens", {
      token: sToken,
      appleId: "vpp@contoso.example",
      vppTokenAccountType: "business",
    });
    expect(r.status).toBe(201);
    await waitForSync(s, r.body.id, undefined, 3 * WAIT);
    return r.body as { id: string };
  };
  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });
  const db = () => s.t.allot.database.db;
  const holdings = () =>
    db().selectFrom("license_holdings").selectAll().where("app_id", "=", appId).execute();
  const holdingOf = async (userId: string) => (await holdings()).find((h) => h.holder_id === userId);
  const licensedAtEmulator = async () =>
    (await s.emu.control.assignments(uId)).assignments
      .filter((a) => a.adamId === adamId)
      .map((a) => a.clientUserId as string)
      .sort();
  const emulatorUsers = async () =>
    (await s.emu.control.users(uId)).users as { clientUserId: string; status: string; inviteCode?: string }[];
  /** The emulator holds exactly `ids` and no holding is in flight. */
  const settledAt = (ids: string[], timeoutMs = WAIT) =>
    waitFor(
      `the emulator to license exactly ${ids.length} users`,
      async () => {
        const got = await licensedAtEmulator();
        const busy = (await holdings()).some(
          (h) => h.state === "pendingAssign" || h.state === "pendingRelease",
        );
        return !busy && JSON.stringify(got) === JSON.stringify([...ids].sort()) ? got : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          mails.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            text: decodeQuotedPrintable(Buffer.concat(chunks).toString("utf8")),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    receiver = http.createServer(async (rq, res) => {
      const chunks: Buffer[] = [];
      for await (const c of rq) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      const signatureOk =
        rq.headers["x-allot-signature"] ===
        `sha256=${createHmac("sha256", hookSecret).update(raw).digest("hex")}`;
      hooks.push({ body: JSON.parse(raw), signatureOk });
      res.writeHead(signatureOk ? 200 : 401).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));

    s = await startSyncSetup({
      env: {
        ALLOT_APPLE_EVENT_POLL_SECONDS: "1",
        ALLOT_SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
        ALLOT_MAIL_FROM: "Allot <allot@contoso.example>",
        ALLOT_NOTIFY_RETRY_BASE_MS: "100",
      },
    });
    const hook = await req("POST", "/beta/admin/webhooks", {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/allot`,
      eventTypes: ["appInvitation"],
    });
    expect(hook.status).toBe(201);
    hookSecret = hook.body.secret;
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "User licensing",
      countryISO2ACode: "US",
      assets: [
        {
          adamId,
          name: "Pages",
          totalCount: LICENSES,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    uId = loc.uId;
    tokenId = (await upload(loc.sToken)).id;
    appId = (
      await db().selectFrom("apps").select("id").where("adam_id", "=", adamId).executeTakeFirstOrThrow()
    ).id;
    groupId = (
      await req("POST", "/v1.0/groups", {
        displayName: "Writers",
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: "writers",
      })
    ).body.id;
    for (let i = 0; i < PEOPLE; i++) {
      // The first person has no mail: the invitation goes to the UPN.
      const upn = `writer${i}@contoso.example`;
      const u = await req("POST", "/v1.0/users", {
        displayName: `Writer ${i}`,
        userPrincipalName: upn,
        mailNickname: `writer${i}`,
        ...(i === 0 ? {} : { mail: `writer.${i}@mail.contoso.example` }),
        accountEnabled: true,
        passwordProfile: { password: "x-Passw0rd-long-enough" },
      });
      expect(u.status).toBe(201);
      people.push({ id: u.body.id, mail: i === 0 ? upn : `writer.${i}@mail.contoso.example` });
      const m = await req("POST", `/v1.0/groups/${groupId}/members/$ref`, {
        "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${u.body.id}`,
      });
      expect(m.status).toBe(204);
    }
  }, 600_000);

  afterAll(async () => {
    await s?.close();
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  it("registers one Apple user per person, invites each once by e-mail and webhook, and waits awaitingInvitation", async () => {
    const r = await req("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
          settings: {
            "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings",
            useDeviceLicensing: false,
          },
        },
      ],
    });
    expect(r.status).toBe(204);
    const registered = await waitFor(
      "the emulator to register every person",
      async () => {
        const users = await emulatorUsers();
        return people.every((p) =>
          users.some((u) => u.clientUserId === p.id && u.status === "Registered" && u.inviteCode),
        )
          ? users
          : undefined;
      },
      WAIT,
    );
    expect(registered).toHaveLength(PEOPLE);
    await waitFor(
      "one invitation e-mail per person",
      async () => (mails.length >= PEOPLE ? true : undefined),
      WAIT,
    );
    for (const p of people) {
      const code = registered.find((u) => u.clientUserId === p.id)?.inviteCode as string;
      const mine = mails.filter((m) => m.to.includes(p.mail));
      expect(mine).toHaveLength(1);
      expect(mine[0].text).toContain(
        `/WebObjects/MZFinance.woa/wa/associateVPPUserWithITSAccount?inviteCode=${code}&mt=8`,
      );
      expect(mine[0].text).toContain("Accept your invitation");
    }
    await waitFor(
      "one signed webhook event per person",
      async () => (hooks.length >= PEOPLE ? true : undefined),
      WAIT,
    );
    expect(hooks.every((h) => h.signatureOk && h.body.type === "appInvitation")).toBe(true);
    expect(hooks.map((h) => h.body.userId).sort()).toEqual(people.map((p) => p.id).sort());
    expect(hooks[0].body.data.invitationUrl).toContain("inviteCode=");
    // Nobody is licensed before accepting; the holdings say why.
    for (const p of people)
      expect(await holdingOf(p.id)).toMatchObject({ state: "waiting", reason: "awaitingInvitation" });
    expect(await licensedAtEmulator()).toEqual([]);
    const status = await req("GET", `/beta/users/${people[1].id}/appleVppUsers`);
    expect(status.status).toBe(200);
    expect(status.body.value).toHaveLength(1);
    expect(status.body.value[0]).toMatchObject({
      "@odata.type": "#microsoft.graph.appleVppUser",
      userId: people[1].id,
      vppTokenId: tokenId,
      clientUserId: people[1].id,
      status: "invited",
      appleUserStatus: "Registered",
      invitationStatus: "sent",
      invitationCount: 1,
      eulaStatus: "pending",
      associatedDateTime: null,
    });
    expect(status.text).not.toContain("inviteCode");
    // Addressed by userPrincipalName too; an unknown user is a Graph 404.
    expect((await req("GET", "/beta/users/writer1@contoso.example/appleVppUsers")).body.value[0].userId).toBe(
      people[1].id,
    );
    const missing = await req("GET", "/beta/users/00000000-0000-4000-8000-000000000000/appleVppUsers");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBeTruthy();
  }, 480_000);

  it("licenses a person at the emulator once the invitation is accepted (control API, then the e-mailed link)", async () => {
    await s.emu.control.acceptInvitation(uId, people[0].id);
    await settledAt([people[0].id]);
    expect(await holdingOf(people[0].id)).toMatchObject({ state: "assigned", store_key: people[0].id });
    const shown = (await req("GET", `/beta/users/${people[0].id}/appleVppUsers`)).body.value[0];
    expect(shown).toMatchObject({
      status: "associated",
      invitationStatus: "accepted",
      eulaStatus: "accepted",
      appleUserStatus: "Associated",
    });
    expect(shown.associatedDateTime).toBeTruthy();
    // The second person follows the link in the e-mail (the emulator's invitation page accepts on POST).
    const link = /https?:\/\/\S+inviteCode=[0-9a-f]+&mt=8/.exec(
      mails.find((m) => m.to.includes(people[1].mail))?.text ?? "",
    )?.[0];
    expect(link).toBeTruthy();
    const page = await fetch(link as string, { method: "POST" });
    expect(page.status).toBe(200);
    await settledAt([people[0].id, people[1].id]);
    expect(await holdingOf(people[1].id)).toMatchObject({ state: "assigned" });
  }, 360_000);

  it("with fewer licenses than associated people the rest wait insufficientLicenses; a purchase serves them", async () => {
    await s.emu.control.acceptInvitation(uId, people[2].id);
    await waitFor(
      "the third person to wait for a license",
      async () => {
        const h = await holdingOf(people[2].id);
        return h?.state === "waiting" && h.reason === "insufficientLicenses" ? h : undefined;
      },
      WAIT,
    );
    expect(await licensedAtEmulator()).toEqual([people[0].id, people[1].id].sort());
    await s.emu.control.purchase(uId, { adamId, count: 1 });
    expect(
      (await req("POST", `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`)).status,
    ).toBeLessThan(300);
    await settledAt(people.map((p) => p.id));
    expect(await holdingOf(people[2].id)).toMatchObject({ state: "assigned" });
  }, 360_000);

  it("releases a person who leaves the group at the emulator, and nobody was registered or invited twice", async () => {
    expect((await req("DELETE", `/v1.0/groups/${groupId}/members/${people[0].id}/$ref`)).status).toBe(204);
    await settledAt([people[1].id, people[2].id]);
    expect(await holdingOf(people[0].id)).toMatchObject({ state: "released", reason: "notTargeted" });
    // One Apple user per person, one users/create each, one invitation each.
    const users = await emulatorUsers();
    expect(users.map((u) => u.clientUserId).sort()).toEqual(people.map((p) => p.id).sort());
    const creates = (await s.emu.control.events(uId)).events.filter((e) => e.eventType === "CREATE");
    expect(creates.reduce((n, e) => n + e.numRequested, 0)).toBe(PEOPLE);
    for (const p of people) expect(mails.filter((m) => m.to.includes(p.mail))).toHaveLength(1);
    const rows = await db()
      .selectFrom("apple_users")
      .select(["user_id", "invitation_count"])
      .where("token_id", "=", tokenId)
      .execute();
    expect(rows.map((r) => r.invitation_count)).toEqual([1, 1, 1]);
    const associations = (await s.emu.control.events(uId)).events.filter((e) => e.eventType === "ASSOCIATE");
    expect(associations.reduce((n, e) => n + e.numRequested, 0)).toBe(PEOPLE);
  }, 360_000);
});
