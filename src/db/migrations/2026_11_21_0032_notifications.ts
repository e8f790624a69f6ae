// Notifications (EUX-3) and the MDM bridge (MDM-1): per-tenant delivery settings, webhook
// subscriptions (secret encrypted at rest), an outbox of messages with one delivery per channel and
// target (retried with exponential backoff), the log of every webhook attempt, and the MDM bridge's
// cursor over license_events.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create table notification_settings (
      tenant_id uuid primary key references tenants(id) on delete cascade,
      -- SMTP URL (may carry a password) and the MDM webhook secret, encrypted; never shown again.
      smtp_url_enc text,
      mail_from text,
      admin_emails text[] not null default '{}',
      mdm_webhook_url text,
      mdm_webhook_secret_enc text,
      updated_at timestamptz not null default now()
    );

    create table webhook_subscriptions (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      url text not null,
      description text,
      event_types text[] not null default '{}',
      secret_enc text not null,
      created_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );

    create table notification_messages (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      audience text not null check (audience in ('user', 'admin', 'test')),
      kind text not null,
      user_id uuid,
      subject text not null,
      body text not null,
      data jsonb not null default '{}',
      created_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );

    -- One delivery per (message, channel, target): pending → delivered | failed (after the last retry).
    create table notification_deliveries (
      tenant_id uuid not null,
      id uuid not null,
      seq bigint generated always as identity,
      message_id uuid not null,
      channel text not null check (channel in ('email', 'webhook', 'mdm')),
      -- e-mail address, webhook subscription id, or device command id (mdm)
      target text not null,
      subscription_id uuid,
      state text not null default 'pending' check (state in ('pending', 'delivered', 'failed')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      last_status_code integer,
      last_error text,
      delivered_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id),
      foreign key (tenant_id, message_id) references notification_messages(tenant_id, id) on delete cascade
    );
    create index notification_deliveries_due on notification_deliveries (next_attempt_at) where state = 'pending';
    create index notification_deliveries_subscription on notification_deliveries (tenant_id, subscription_id, seq);

    create table webhook_attempts (
      tenant_id uuid not null,
      seq bigint generated always as identity,
      delivery_id uuid not null,
      attempt integer not null,
      status_code integer,
      error text,
      duration_ms integer not null,
      attempted_at timestamptz not null default now(),
      primary key (tenant_id, seq)
    );
    create index webhook_attempts_delivery on webhook_attempts (tenant_id, delivery_id);

    -- Device commands sent to the MDM: when and with what answer.
    alter table device_commands add column next_attempt_at timestamptz not null default now();
    alter table device_commands add column last_error text;
    alter table device_commands add column sent_at timestamptz;

    -- How far the MDM bridge has read license_events (holdings settled → commands to plan).
    create table mdm_bridge_cursors (
      tenant_id uuid primary key references tenants(id) on delete cascade,
      event_seq bigint not null default 0,
      updated_at timestamptz not null default now()
    );
  `,
  );
}
