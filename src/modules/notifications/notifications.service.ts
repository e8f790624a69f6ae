// Notifications (EUX-3): messages to users (an app no longer assigned, an invitation) and to
// administrators (every alert the alerts module raises), written to an outbox in the caller's
// transaction and delivered afterwards by a job: by e-mail (SMTP: ALLOT_SMTP_URL or the tenant's
// own) and to the tenant's webhook subscriptions (HMAC-SHA256 signed, retried with exponential
// backoff, every attempt logged).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import nodemailer from "nodemailer";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import { decryptSecret, encryptSecret, randomSecret } from "../../lib/crypto.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { NotificationsRepository, SubscriptionRow } from "./notifications.repository.ts";
import { backoffMs, postSigned } from "./webhook-post.ts";

export const SUBSCRIPTION_TYPE = "microsoft.graph.allotWebhookSubscription";
export const SETTINGS_TYPE = "microsoft.graph.allotNotificationSettings";
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const DELIVERY_ROUND = 200;

export interface NotificationInput {
  audience: "user" | "admin";
  /** Machine-readable kind: an alert kind (vppTokenExpiring, …), appUnassigned, appInvitation, … */
  kind: string;
  /** For user messages: the user it is addressed to. */
  userId?: string | null;
  subject: string;
  body: string;
  data?: Record<string, unknown>;
}

export interface NotificationsDeps {
  db: Kysely<DB>;
  notificationsRepository: NotificationsRepository;
  auditService: AuditService;
  secretKey: Buffer;
  /** Instance-wide defaults (ALLOT_SMTP_URL, ALLOT_MAIL_FROM); a tenant's own settings win. */
  smtpUrl: string | null;
  mailFrom: string;
  retryBaseMs: number;
  maxAttempts: number;
  now?: () => number;
}

const subscriptionToGraph = (s: SubscriptionRow) => ({
  id: s.id,
  url: s.url,
  description: s.description,
  eventTypes: s.event_types ?? [],
  createdDateTime: iso(s.created_at),
});

export function createNotificationsService(deps: NotificationsDeps) {
  const { db, notificationsRepository: repo } = deps;
  const now = () => new Date(deps.now?.() ?? Date.now());
  const enc = (v: string, context: string) => encryptSecret(v, deps.secretKey, context);
  const dec = (v: string, context: string) => decryptSecret(v, deps.secretKey, context);
  const transports = new Map<string, ReturnType<typeof nodemailer.createTransport>>();
  const transportFor = (url: string) => {
    let t = transports.get(url);
    if (!t) {
      t = nodemailer.createTransport(url);
      transports.set(url, t);
    }
    return t;
  };

  async function mailSetup(ex: Executor, tenantId: string) {
    const s = await repo.getSettings(ex, tenantId);
    const smtpUrl = s?.smtp_url_enc ? dec(s.smtp_url_enc, `smtp:${tenantId}`) : deps.smtpUrl;
    return { smtpUrl, from: s?.mail_from ?? deps.mailFrom, adminEmails: s?.admin_emails ?? [] };
  }

  /** Writes a message and its deliveries with the caller's executor (a transaction: outbox). */
  async function enqueue(ex: Executor, tenantId: string, n: NotificationInput): Promise<string> {
    const mail = await mailSetup(ex, tenantId);
    const deliveries: {
      id: string;
      channel: "email" | "webhook";
      target: string;
      subscriptionId: string | null;
    }[] = [];
    if (mail.smtpUrl) {
      const to =
        n.audience === "admin"
          ? mail.adminEmails
          : n.userId
            ? [await repo.userMail(ex, tenantId, n.userId)].filter((m): m is string => !!m)
            : [];
      for (const address of to)
        deliveries.push({ id: randomUUID(), channel: "email", target: address, subscriptionId: null });
    }
    for (const s of await repo.listSubscriptions(ex, tenantId))
      if ((s.event_types ?? []).length === 0 || s.event_types.includes(n.kind))
        deliveries.push({ id: randomUUID(), channel: "webhook", target: s.id, subscriptionId: s.id });
    const id = randomUUID();
    await repo.insertMessage(
      ex,
      {
        tenantId,
        id,
        audience: n.audience,
        kind: n.kind,
        userId: n.userId ?? null,
        subject: n.subject,
        body: n.body,
        data: n.data ?? {},
      },
      deliveries,
      now(),
    );
    return id;
  }

  const webhookBody = (d: {
    message_id: string;
    tenant_id: string;
    audience: string;
    kind: string;
    user_id: string | null;
    subject: string;
    body: string;
    data: unknown;
    message_created_at: Date;
  }) =>
    JSON.stringify({
      id: d.message_id,
      tenantId: d.tenant_id,
      audience: d.audience,
      type: d.kind,
      userId: d.user_id,
      subject: d.subject,
      text: d.body,
      data: typeof d.data === "string" ? JSON.parse(d.data) : d.data,
      createdDateTime: iso(d.message_created_at),
    });

  /** Sends every delivery of the tenant that is due; failures are retried later with backoff. Returns deliveries attempted. */
  async function deliverDue(tenantId: string): Promise<number> {
    let handled = 0;
    for (let round = 0; round < 50; round++) {
      const due = await repo.dueDeliveries(tenantId, now(), DELIVERY_ROUND);
      if (due.length === 0) break;
      for (const d of due) {
        const attempt = d.attempts + 1;
        let result: { ok: boolean; statusCode: number | null; error: string | null; durationMs: number };
        if (d.channel === "email") {
          const started = Date.now();
          try {
            const mail = await mailSetup(db, tenantId);
            if (!mail.smtpUrl) throw new Error("no SMTP server is configured");
            await transportFor(mail.smtpUrl).sendMail({
              from: mail.from,
              to: d.target,
              subject: d.subject,
              text: d.body,
            });
            result = { ok: true, statusCode: null, error: null, durationMs: Date.now() - started };
          } catch (err) {
            result = {
              ok: false,
              statusCode: null,
              error: err instanceof Error ? err.message : String(err),
              durationMs: Date.now() - started,
            };
          }
        } else if (!d.url || !d.secret_enc) {
          result = { ok: false, statusCode: null, error: "subscription deleted", durationMs: 0 };
        } else {
          const body = webhookBody(d);
          result = await postSigned(d.url, body, {
            secret: dec(d.secret_enc, `webhook:${tenantId}:${d.subscription_id}`),
            headers: { "x-allot-event": d.kind, "x-allot-delivery": d.id },
          });
        }
        const retry = !result.ok && attempt < deps.maxAttempts && !(d.channel === "webhook" && !d.url);
        await repo.settleAttempt(
          tenantId,
          {
            id: d.id,
            attempt,
            ...result,
            retryAt: retry ? new Date(now().getTime() + backoffMs(deps.retryBaseMs, attempt)) : null,
            logAttempt: d.channel === "webhook",
          },
          now(),
        );
        handled++;
      }
      if (due.length < DELIVERY_ROUND) break;
    }
    return handled;
  }

  async function requireSubscription(tenantId: string, id: string) {
    const s = uuidRe.test(id) ? await repo.findSubscription(db, tenantId, id) : undefined;
    if (!s) throw notFound("webhookSubscription", id);
    return s;
  }

  const validUrl = (u: string, what: string) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw badRequest(`${what} is not a valid URL`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
      throw badRequest(`${what} must be an http(s) URL`);
    return parsed.toString();
  };

  function settingsToGraph(s: Awaited<ReturnType<typeof repo.getSettings>>) {
    let smtpServer: string | null = null;
    if (s?.smtp_url_enc) {
      const u = new URL(dec(s.smtp_url_enc, `smtp:${s.tenant_id}`));
      smtpServer = `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}`;
    }
    return {
      smtpConfigured: Boolean(s?.smtp_url_enc) || Boolean(deps.smtpUrl),
      // Host only: the URL may carry credentials, which are never shown.
      smtpServer,
      mailFrom: s?.mail_from ?? deps.mailFrom,
      adminEmails: s?.admin_emails ?? [],
      mdmWebhookUrl: s?.mdm_webhook_url ?? null,
      mdmWebhookSecretConfigured: Boolean(s?.mdm_webhook_secret_enc),
    };
  }

  return {
    enqueue,
    deliverDue,
    tenantsWithDueDeliveries: () => repo.tenantsWithDueDeliveries(now()),

    /** The tenant's MDM webhook (per-tenant setting); null when none is set here. */
    async mdmWebhookOf(tenantId: string): Promise<{ url: string; secret: string | null } | null> {
      const s = await repo.getSettings(db, tenantId);
      if (!s?.mdm_webhook_url) return null;
      return {
        url: s.mdm_webhook_url,
        secret: s.mdm_webhook_secret_enc ? dec(s.mdm_webhook_secret_enc, `mdm:${tenantId}`) : null,
      };
    },

    async getSettings(ctx: Ctx) {
      return settingsToGraph(await repo.getSettings(db, ctx.tenantId));
    },

    async updateSettings(
      ctx: Ctx,
      patch: {
        smtpUrl?: string | null;
        mailFrom?: string | null;
        adminEmails?: string[];
        mdmWebhookUrl?: string | null;
        mdmWebhookSecret?: string | null;
      },
    ) {
      if (patch.smtpUrl) {
        let u: URL;
        try {
          u = new URL(patch.smtpUrl);
        } catch {
          throw badRequest("smtpUrl is not a valid URL");
        }
        if (u.protocol !== "smtp:" && u.protocol !== "smtps:")
          throw badRequest("smtpUrl must be an smtp:// or smtps:// URL");
      }
      const mdmUrl = patch.mdmWebhookUrl
        ? validUrl(patch.mdmWebhookUrl, "mdmWebhookUrl")
        : patch.mdmWebhookUrl;
      return db.transaction().execute(async (trx) => {
        const before = await repo.getSettings(trx, ctx.tenantId);
        const next = {
          tenant_id: ctx.tenantId,
          smtp_url_enc:
            patch.smtpUrl === undefined
              ? (before?.smtp_url_enc ?? null)
              : patch.smtpUrl
                ? enc(patch.smtpUrl, `smtp:${ctx.tenantId}`)
                : null,
          mail_from: patch.mailFrom === undefined ? (before?.mail_from ?? null) : patch.mailFrom,
          admin_emails: patch.adminEmails ?? before?.admin_emails ?? [],
          mdm_webhook_url: mdmUrl === undefined ? (before?.mdm_webhook_url ?? null) : mdmUrl,
          mdm_webhook_secret_enc:
            patch.mdmWebhookSecret === undefined
              ? (before?.mdm_webhook_secret_enc ?? null)
              : patch.mdmWebhookSecret
                ? enc(patch.mdmWebhookSecret, `mdm:${ctx.tenantId}`)
                : null,
        };
        await repo.saveSettings(trx, next, now());
        const after = await repo.getSettings(trx, ctx.tenantId);
        const shownBefore = settingsToGraph(before);
        const shownAfter = settingsToGraph(after);
        await deps.auditService.record(trx, ctx, {
          activity: "Update notification settings",
          component: "Alerts",
          operation: "Patch",
          changes: [
            {
              type: SETTINGS_TYPE,
              id: ctx.tenantId,
              displayName: "Notification settings",
              before: shownBefore,
              after: shownAfter,
            },
          ],
        });
        return shownAfter;
      });
    },

    async listSubscriptions(ctx: Ctx) {
      return (await repo.listSubscriptions(db, ctx.tenantId)).map(subscriptionToGraph);
    },

    async getSubscription(ctx: Ctx, id: string) {
      return subscriptionToGraph(await requireSubscription(ctx.tenantId, id));
    },

    /** Creates a subscription; its signing secret is returned here once and never again. */
    async createSubscription(
      ctx: Ctx,
      input: { url: string; description?: string | null; eventTypes?: string[] },
    ) {
      const url = validUrl(input.url, "url");
      const id = randomUUID();
      const secret = randomSecret(32);
      return db.transaction().execute(async (trx) => {
        const row = await repo.insertSubscription(
          trx,
          {
            tenant_id: ctx.tenantId,
            id,
            url,
            description: input.description ?? null,
            event_types: input.eventTypes ?? [],
            secret_enc: enc(secret, `webhook:${ctx.tenantId}:${id}`),
          },
          now(),
        );
        const shown = subscriptionToGraph(row);
        await deps.auditService.record(trx, ctx, {
          activity: "Create webhook subscription",
          component: "Alerts",
          operation: "Create",
          changes: [{ type: SUBSCRIPTION_TYPE, id, displayName: url, after: shown }],
        });
        return { ...shown, secret };
      });
    },

    async deleteSubscription(ctx: Ctx, id: string): Promise<void> {
      const s = await requireSubscription(ctx.tenantId, id);
      await db.transaction().execute(async (trx) => {
        await repo.deleteSubscription(trx, ctx.tenantId, id);
        await deps.auditService.record(trx, ctx, {
          activity: "Delete webhook subscription",
          component: "Alerts",
          operation: "Delete",
          changes: [{ type: SUBSCRIPTION_TYPE, id, displayName: s.url, before: subscriptionToGraph(s) }],
        });
      });
    },

    /** Queues a test message for this subscription only. */
    async testSubscription(ctx: Ctx, id: string) {
      const s = await requireSubscription(ctx.tenantId, id);
      const messageId = randomUUID();
      const deliveryId = randomUUID();
      await db.transaction().execute(async (trx) => {
        await repo.insertMessage(
          trx,
          {
            tenantId: ctx.tenantId,
            id: messageId,
            audience: "test",
            kind: "webhookTest",
            userId: null,
            subject: "Allot test delivery",
            body: "This is a test delivery from Allot.",
            data: { subscriptionId: id },
          },
          [{ id: deliveryId, channel: "webhook", target: id, subscriptionId: id }],
          now(),
        );
        await deps.auditService.record(trx, ctx, {
          activity: "Test webhook subscription",
          component: "Alerts",
          operation: "Action",
          changes: [{ type: SUBSCRIPTION_TYPE, id, displayName: s.url }],
        });
      });
      return { deliveryId, messageId };
    },

    async listDeliveries(ctx: Ctx, id: string, top: number) {
      await requireSubscription(ctx.tenantId, id);
      const { deliveries, attempts } = await repo.listDeliveries(ctx.tenantId, id, top);
      return deliveries.map((d) => ({
        id: d.id,
        messageId: d.message_id,
        eventType: d.kind,
        status: d.state,
        attemptCount: d.attempts,
        lastStatusCode: d.last_status_code,
        lastError: d.last_error,
        deliveredDateTime: iso(d.delivered_at),
        createdDateTime: iso(d.created_at),
        attempts: attempts
          .filter((a) => a.delivery_id === d.id)
          .map((a) => ({
            attempt: a.attempt,
            statusCode: a.status_code,
            error: a.error,
            durationMs: a.duration_ms,
            attemptedDateTime: iso(a.attempted_at),
          })),
      }));
    },
  };
}
export type NotificationsService = ReturnType<typeof createNotificationsService>;
