// The license ledger (ENG-3, ENG-8): one row per (app, holder) with an explicit state, an
// append-only history of every state change, the outbox of store operations (Apple writes are sent
// from here by the outbox worker, never from a request), the device-command outbox for the MDM
// bridge, install requests/states (ENG-9), and the per-tenant cursor over directory_changes.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create table license_holdings (
      tenant_id uuid not null,
      app_id uuid not null,
      holder_type text not null check (holder_type in ('user', 'device')),
      holder_id uuid not null,
      holder_seq bigint,
      state text not null check (state in ('pendingAssign', 'assigned', 'pendingRelease', 'released', 'failed', 'waiting')),
      reason text,
      license_type text not null check (license_type in ('user', 'device')),
      -- serial number (device licenses) or clientUserId (user licenses) the license is bound to
      store_key text,
      entitled_at timestamptz,
      since timestamptz not null,
      waiting_since timestamptz,
      event_id text,
      attempts integer not null default 0,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, app_id, holder_type, holder_id),
      foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade
    );
    create index license_holdings_holder on license_holdings (tenant_id, holder_id);
    create index license_holdings_state on license_holdings (tenant_id, app_id, state);

    -- Append-only: every state change of a holding.
    create table license_events (
      tenant_id uuid not null,
      seq bigint generated always as identity,
      app_id uuid not null,
      holder_type text not null,
      holder_id uuid not null,
      from_state text,
      to_state text not null,
      reason text,
      store_key text,
      event_id text,
      occurred_at timestamptz not null default now(),
      primary key (tenant_id, seq)
    );
    create index license_events_holding on license_events (tenant_id, app_id, holder_id);

    -- Outbox of store writes. pending → sending (marked before the call) → sent (eventId known) → done | failed.
    create table store_operations (
      tenant_id uuid not null,
      id uuid not null,
      seq bigint generated always as identity,
      token_id uuid not null,
      app_id uuid,
      kind text not null check (kind in ('associate', 'disassociate', 'revoke', 'registerUser')),
      holder_type text,
      holder_id uuid,
      store_key text,
      payload jsonb not null default '{}',
      state text not null default 'pending' check (state in ('pending', 'sending', 'sent', 'done', 'failed')),
      batch_id uuid,
      event_id text,
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      error text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id),
      foreign key (tenant_id, token_id) references vpp_tokens(tenant_id, id) on delete cascade
    );
    create unique index store_operations_seq on store_operations (tenant_id, seq);
    create index store_operations_open on store_operations (state, next_attempt_at) where state in ('pending', 'sending', 'sent');
    create index store_operations_batch on store_operations (tenant_id, batch_id) where batch_id is not null;

    -- Outbox of MDM commands (InstallApplication / RemoveApplication) for the MDM bridge.
    create table device_commands (
      tenant_id uuid not null,
      id uuid not null,
      seq bigint generated always as identity,
      app_id uuid not null,
      device_id uuid not null,
      kind text not null check (kind in ('install', 'remove', 'update')),
      payload jsonb not null default '{}',
      state text not null default 'pending' check (state in ('pending', 'sent', 'acknowledged', 'failed')),
      attempts integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );
    create index device_commands_pending on device_commands (tenant_id, seq) where state = 'pending';

    -- Available apps: a license is taken once an install is requested (ENG-9).
    create table install_requests (
      tenant_id uuid not null,
      app_id uuid not null,
      device_id uuid not null,
      user_id uuid,
      requested_at timestamptz not null default now(),
      primary key (tenant_id, app_id, device_id),
      foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade
    );

    create table install_states (
      tenant_id uuid not null,
      app_id uuid not null,
      device_id uuid not null,
      state text not null check (state in ('none', 'installPending', 'installed', 'removePending', 'removed', 'failed')),
      since timestamptz not null default now(),
      primary key (tenant_id, app_id, device_id),
      foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade
    );

    -- How far incremental reconciliation has read directory_changes.
    create table license_cursors (
      tenant_id uuid primary key references tenants(id) on delete cascade,
      directory_seq bigint not null default 0,
      updated_at timestamptz not null default now()
    );
  `,
  );
}
