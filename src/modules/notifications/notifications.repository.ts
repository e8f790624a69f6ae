// SQL of notifications (EUX-3): settings, webhook subscriptions, the message outbox with its
// deliveries, and the webhook attempt log. Nothing else writes these tables.
import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../db/types.ts";

type Executor = Kysely<DB> | Transaction<DB>;

export interface SettingsRow {
  tenant_id: string;
  smtp_url_enc: string | null;
  mail_from: string | null;
  admin_emails: string[];
  mdm_webhook_url: string | null;
  mdm_webhook_secret_enc: string | null;
  updated_at: Date;
}

export interface SubscriptionRow {
  tenant_id: string;
  id: string;
  seq: number | string;
  url: string;
  description: string | null;
  event_types: string[];
  secret_enc: string;
  created_at: Date;
}

export interface DueDelivery {
  id: string;
  tenant_id: string;
  message_id: string;
  channel: "email" | "webhook";
  target: string;
  subscription_id: string | null;
  attempts: number;
  audience: string;
  kind: string;
  user_id: string | null;
  subject: string;
  body: string;
  data: unknown;
  message_created_at: Date;
  url: string | null;
  secret_enc: string | null;
}

export interface DeliveryRow {
  id: string;
  message_id: string;
  kind: string;
  state: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Date;
}

export function createNotificationsRepository(db: Kysely<DB>) {
  return {
    async getSettings(ex: Executor, tenantId: string): Promise<SettingsRow | undefined> {
      const r =
        await sql<SettingsRow>`select * from notification_settings where tenant_id = ${tenantId}`.execute(ex);
      return r.rows[0];
    },

    async saveSettings(trx: Transaction<DB>, s: Omit<SettingsRow, "updated_at">, now: Date): Promise<void> {
      await sql`
        insert into notification_settings (tenant_id, smtp_url_enc, mail_from, admin_emails, mdm_webhook_url, mdm_webhook_secret_enc, updated_at)
        values (${s.tenant_id}, ${s.smtp_url_enc}, ${s.mail_from}, ${s.admin_emails}::text[], ${s.mdm_webhook_url}, ${s.mdm_webhook_secret_enc}, ${now})
        on conflict (tenant_id) do update set smtp_url_enc = excluded.smtp_url_enc, mail_from = excluded.mail_from,
          admin_emails = excluded.admin_emails, mdm_webhook_url = excluded.mdm_webhook_url,
          mdm_webhook_secret_enc = excluded.mdm_webhook_secret_enc, updated_at = excluded.updated_at`.execute(
        trx,
      );
    },

    async insertSubscription(
      trx: Transaction<DB>,
      s: Omit<SubscriptionRow, "seq" | "created_at">,
      now: Date,
    ): Promise<SubscriptionRow> {
      const r = await sql<SubscriptionRow>`
        insert into webhook_subscriptions (tenant_id, id, url, description, event_types, secret_enc, created_at)
        values (${s.tenant_id}, ${s.id}, ${s.url}, ${s.description}, ${s.event_types}::text[], ${s.secret_enc}, ${now})
        returning *`.execute(trx);
      return r.rows[0];
    },

    async listSubscriptions(ex: Executor, tenantId: string): Promise<SubscriptionRow[]> {
      return (
        await sql<SubscriptionRow>`select * from webhook_subscriptions where tenant_id = ${tenantId} order by seq`.execute(
          ex,
        )
      ).rows;
    },

    async findSubscription(ex: Executor, tenantId: string, id: string): Promise<SubscriptionRow | undefined> {
      return (
        await sql<SubscriptionRow>`select * from webhook_subscriptions where tenant_id = ${tenantId} and id = ${id}`.execute(
          ex,
        )
      ).rows[0];
    },

    async deleteSubscription(trx: Transaction<DB>, tenantId: string, id: string): Promise<void> {
      // Deliveries still pending for it have nowhere to go.
      await sql`update notification_deliveries set state = 'failed', last_error = 'subscription deleted', updated_at = now()
        where tenant_id = ${tenantId} and subscription_id = ${id} and state = 'pending'`.execute(trx);
      await sql`delete from webhook_subscriptions where tenant_id = ${tenantId} and id = ${id}`.execute(trx);
    },

    /** Where a user's messages go: the mail address, else the UPN (an e-mail-shaped sign-in name). */
    async userMail(ex: Executor, tenantId: string, userId: string): Promise<string | null> {
      const r = await sql<{
        mail: string | null;
      }>`select coalesce(mail, case when user_principal_name like '%_@_%' then user_principal_name end) as mail
         from users where tenant_id = ${tenantId} and id = ${userId}`.execute(ex);
      return r.rows[0]?.mail ?? null;
    },

    async insertMessage(
      ex: Executor,
      m: {
        tenantId: string;
        id: string;
        audience: string;
        kind: string;
        userId: string | null;
        subject: string;
        body: string;
        data: unknown;
      },
      deliveries: {
        id: string;
        channel: "email" | "webhook";
        target: string;
        subscriptionId: string | null;
      }[],
      now: Date,
    ): Promise<void> {
      await sql`insert into notification_messages (tenant_id, id, audience, kind, user_id, subject, body, data, created_at)
        values (${m.tenantId}, ${m.id}, ${m.audience}, ${m.kind}, ${m.userId}, ${m.subject}, ${m.body}, ${JSON.stringify(m.data ?? {})}::jsonb, ${now})`.execute(
        ex,
      );
      for (const d of deliveries)
        await sql`insert into notification_deliveries (tenant_id, id, message_id, channel, target, subscription_id, next_attempt_at, created_at, updated_at)
          values (${m.tenantId}, ${d.id}, ${m.id}, ${d.channel}, ${d.target}, ${d.subscriptionId}, ${now}, ${now}, ${now})`.execute(
          ex,
        );
    },

    async tenantsWithDueDeliveries(now: Date): Promise<string[]> {
      const r = await sql<{
        tenant_id: string;
      }>`select distinct tenant_id from notification_deliveries where state = 'pending' and next_attempt_at <= ${now}`.execute(
        db,
      );
      return r.rows.map((x) => x.tenant_id);
    },

    async dueDeliveries(tenantId: string, now: Date, limit: number): Promise<DueDelivery[]> {
      const r = await sql<DueDelivery>`
        select d.id, d.tenant_id, d.message_id, d.channel, d.target, d.subscription_id, d.attempts,
          m.audience, m.kind, m.user_id, m.subject, m.body, m.data, m.created_at as message_created_at, s.url, s.secret_enc
        from notification_deliveries d
        join notification_messages m on m.tenant_id = d.tenant_id and m.id = d.message_id
        left join webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.subscription_id
        where d.tenant_id = ${tenantId} and d.state = 'pending' and d.next_attempt_at <= ${now}
        order by d.seq limit ${limit}`.execute(db);
      return r.rows;
    },

    /** Records one attempt's outcome: delivered, retry at `retryAt`, or failed for good (retryAt null). */
    async settleAttempt(
      tenantId: string,
      d: {
        id: string;
        attempt: number;
        ok: boolean;
        statusCode: number | null;
        error: string | null;
        durationMs: number;
        retryAt: Date | null;
        logAttempt: boolean;
      },
      now: Date,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const state = d.ok ? "delivered" : d.retryAt ? "pending" : "failed";
        await sql`update notification_deliveries set state = ${state}, attempts = ${d.attempt}, last_status_code = ${d.statusCode},
            last_error = ${d.error}, delivered_at = ${d.ok ? now : null}, next_attempt_at = ${d.retryAt ?? now}, updated_at = ${now}
          where tenant_id = ${tenantId} and id = ${d.id}`.execute(trx);
        if (d.logAttempt)
          await sql`insert into webhook_attempts (tenant_id, delivery_id, attempt, status_code, error, duration_ms, attempted_at)
            values (${tenantId}, ${d.id}, ${d.attempt}, ${d.statusCode}, ${d.error}, ${d.durationMs}, ${now})`.execute(
            trx,
          );
      });
    },

    async listDeliveries(
      tenantId: string,
      subscriptionId: string,
      limit: number,
    ): Promise<{ deliveries: DeliveryRow[]; attempts: AttemptRow[] }> {
      const deliveries = (
        await sql<DeliveryRow>`
          select d.id, d.message_id, m.kind, d.state, d.attempts, d.last_status_code, d.last_error, d.delivered_at, d.created_at
          from notification_deliveries d join notification_messages m on m.tenant_id = d.tenant_id and m.id = d.message_id
          where d.tenant_id = ${tenantId} and d.subscription_id = ${subscriptionId}
          order by d.seq desc limit ${limit}`.execute(db)
      ).rows;
      if (deliveries.length === 0) return { deliveries, attempts: [] };
      const attempts = (
        await sql<AttemptRow>`select delivery_id, attempt, status_code, error, duration_ms, attempted_at from webhook_attempts
          where tenant_id = ${tenantId} and delivery_id = any(${deliveries.map((d) => d.id)}::uuid[]) order by seq`.execute(
          db,
        )
      ).rows;
      return { deliveries, attempts };
    },

    async messagesOf(tenantId: string, limit: number) {
      return (
        await sql<{
          id: string;
          audience: string;
          kind: string;
          user_id: string | null;
          subject: string;
          created_at: Date;
        }>`
          select id, audience, kind, user_id, subject, created_at from notification_messages where tenant_id = ${tenantId} order by seq desc limit ${limit}`.execute(
          db,
        )
      ).rows;
    },
  };
}
export type NotificationsRepository = ReturnType<typeof createNotificationsRepository>;
