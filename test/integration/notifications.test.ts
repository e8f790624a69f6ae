// Notifications (EUX-3): an alert becomes an e-mail to the administrators (delivered to an
// in-process SMTP server) and a signed webhook delivery that is retried with backoff until the
// receiver accepts it (the delivery log shows every attempt); a test delivery; secrets never shown.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAllot, type TestAllot } from "../helpers/allot.ts";
import { waitFor } from "./sync-helpers.ts";

interface Mail {
  to: string[];
  raw: string;
}

describe("notifications: e-mail and webhooks", () => {
  let t: TestAllot;
  let smtp: SMTPServer;
  let receiver: http.Server;
  let receiverUrl = "";
  const mails: Mail[] = [];
  const received: {
    body: string;
    signature: string | undefined;
    event: string | undefined;
    status: number;
  }[] = [];
  let secret = "";
  let failFirst = 2;

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
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const smtpPort = (smtp.server.address() as AddressInfo).port;

    receiver = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString("utf8");
      const status = failFirst > 0 ? 500 : 200;
      if (failFirst > 0) failFirst--;
      received.push({
        body,
        signature: req.headers["x-allot-signature"] as string | undefined,
        event: req.headers["x-allot-event"] as string | undefined,
        status,
      });
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/allot`;

    t = await startTestAllot({
      ALLOT_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      ALLOT_NOTIFY_RETRY_BASE_MS: "100",
      ALLOT_MAIL_FROM: "Allot <allot@contoso.example>",
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  const req = (method: string, path: string, body?: unknown) =>
    t.request(method, path, { token: t.adminToken, body });
  const signatureOk = (body: string, sig: string | undefined) =>
    sig === `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

  it("stores delivery settings without ever showing the SMTP credentials", async () => {
    const r = await req("PATCH", "/beta/admin/notificationSettings", {
      adminEmails: ["it@contoso.example"],
      smtpUrl: null,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      smtpConfigured: true,
      adminEmails: ["it@contoso.example"],
      mailFrom: "Allot <allot@contoso.example>",
    });
    const withPass = await req("PATCH", "/beta/admin/notificationSettings", {
      smtpUrl: "smtp://mailer:hunter2-secret@127.0.0.1:1",
    });
    expect(withPass.status).toBe(200);
    expect(withPass.body.smtpServer).toBe("smtp://127.0.0.1:1");
    expect(withPass.text).not.toContain("hunter2-secret");
    const audit = await t.allot.database.db.selectFrom("audit_events").selectAll().execute();
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain("hunter2-secret");
    // Back to the instance's SMTP server.
    expect(
      (await req("PATCH", "/beta/admin/notificationSettings", { smtpUrl: null })).body.smtpServer,
    ).toBeNull();
    expect(
      (await req("PATCH", "/beta/admin/notificationSettings", { smtpUrl: "http://not-smtp" })).status,
    ).toBe(400);
  });

  it("creates a webhook subscription whose secret is shown once; others may not manage it", async () => {
    const r = await req("POST", "/beta/admin/webhooks", { url: receiverUrl, description: "SIEM" });
    expect(r.status).toBe(201);
    expect(r.body.secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    secret = r.body.secret;
    const list = await req("GET", "/beta/admin/webhooks");
    expect(list.body.value).toHaveLength(1);
    expect(list.body.value[0]).toMatchObject({ id: r.body.id, url: receiverUrl, description: "SIEM" });
    expect(list.text).not.toContain(secret);
    expect((await req("GET", `/beta/admin/webhooks/${r.body.id}`)).text).not.toContain(secret);
    const reader = await t.tokenFor(["reader"]);
    expect((await t.request("GET", "/beta/admin/webhooks", { token: reader })).status).toBe(403);
    expect((await req("POST", "/beta/admin/webhooks", { url: "ftp://x" })).status).toBe(400);
  });

  it("delivers an alert by e-mail and by a signed webhook, retrying with backoff until accepted", async () => {
    const tenantId = t.allot.bootstrapResult.tenantId;
    const db = t.allot.database.db;
    await db.transaction().execute((trx) =>
      t.allot.services.alertsService.raise(trx, tenantId, {
        kind: "vppTokenExpiring",
        severity: "warning",
        title: "Token Contoso expires in 7 days",
        message: "Renew the Contoso location token before it expires.",
      }),
    );
    const mail = await waitFor(
      "the alert e-mail",
      async () => mails.find((m) => m.raw.includes("Token Contoso expires in 7 days")),
      15_000,
    );
    expect(mail.to).toEqual(["it@contoso.example"]);
    expect(mail.raw).toContain("Renew the Contoso location token");
    expect(mail.raw).toContain("allot@contoso.example");

    const ok = await waitFor(
      "the webhook to be accepted",
      async () => received.find((x) => x.status === 200),
      15_000,
    );
    expect(received.filter((x) => x.event === "vppTokenExpiring").map((x) => x.status)).toEqual([
      500, 500, 200,
    ]);
    for (const x of received) expect(signatureOk(x.body, x.signature)).toBe(true);
    expect(signatureOk(ok.body.replace("7 days", "8 days"), ok.signature)).toBe(false);
    const payload = JSON.parse(ok.body);
    expect(payload).toMatchObject({
      type: "vppTokenExpiring",
      audience: "admin",
      subject: "Token Contoso expires in 7 days",
      tenantId,
    });

    const sub = (await req("GET", "/beta/admin/webhooks")).body.value[0];
    const log = await waitFor("the delivery log", async () => {
      const r = await req("GET", `/beta/admin/webhooks/${sub.id}/deliveries`);
      return r.body.value?.[0]?.status === "delivered" ? r.body.value : undefined;
    });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      eventType: "vppTokenExpiring",
      status: "delivered",
      attemptCount: 3,
      lastStatusCode: 200,
    });
    expect(log[0].attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    // Exponential backoff: the second retry waited at least twice the base delay.
    const at = log[0].attempts.map((a: { attemptedDateTime: string }) => Date.parse(a.attemptedDateTime));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(100);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(200);
  }, 30_000);

  it("sends a test delivery on request, then stops after the subscription is deleted", async () => {
    const sub = (await req("GET", "/beta/admin/webhooks")).body.value[0];
    const r = await req("POST", `/beta/admin/webhooks/${sub.id}/test`);
    expect(r.status).toBe(202);
    const got = await waitFor("the test delivery", async () =>
      received.find((x) => x.event === "webhookTest"),
    );
    expect(signatureOk(got.body, got.signature)).toBe(true);
    expect(JSON.parse(got.body)).toMatchObject({ type: "webhookTest", audience: "test" });
    await waitFor("the test delivery to be logged", async () => {
      const log = (await req("GET", `/beta/admin/webhooks/${sub.id}/deliveries`)).body.value;
      return log.find(
        (d: { eventType: string; status: string }) =>
          d.eventType === "webhookTest" && d.status === "delivered",
      );
    });
    expect((await req("DELETE", `/beta/admin/webhooks/${sub.id}`)).status).toBe(204);
    expect((await req("GET", "/beta/admin/webhooks")).body.value).toHaveLength(0);
    expect((await req("POST", `/beta/admin/webhooks/${sub.id}/test`)).status).toBe(404);
  }, 20_000);
});
