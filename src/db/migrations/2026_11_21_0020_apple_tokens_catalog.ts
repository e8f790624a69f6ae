// Apple VPP tokens (TOK), the store's truth as last synced (SYNC), the app catalog (APP), and
// administrator alerts. Store-neutral where later stores need the same thing (apps, alerts).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create table vpp_tokens (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      display_name text,
      organization_name text,
      location_name text,
      -- Apple's location id (the sToken's orgId/uId); one location may not serve two tenants.
      location_id text not null,
      -- AES-256-GCM of the sToken: base64(iv | tag | ciphertext). Never returned, logged or exported.
      token_ciphertext text not null,
      token_fingerprint text not null,
      apple_id text,
      country_or_region text not null,
      account_type text not null check (account_type in ('business', 'education')),
      automatically_update_apps boolean not null default false,
      state text not null check (state in ('unknown', 'valid', 'expired', 'invalid', 'assignedToExternalMDM', 'duplicateLocationId')),
      state_reason text,
      expiration_at timestamptz not null,
      last_modified_at timestamptz not null default now(),
      last_sync_at timestamptz,
      last_full_sync_at timestamptz,
      last_sync_status text not null default 'none' check (last_sync_status in ('none', 'inProgress', 'completed', 'failed')),
      last_sync_error text,
      sync_interval_hours integer,
      next_sync_at timestamptz,
      notification_secret_hash text,
      notifications_enabled boolean not null default false,
      external_mdm jsonb,
      assets_version_id text,
      assignments_version_id text,
      users_version_id text,
      expiry_warnings_sent integer[] not null default '{}',
      created_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );
    create unique index vpp_tokens_seq on vpp_tokens (tenant_id, seq);
    create index vpp_tokens_location on vpp_tokens (location_id);
    create index vpp_tokens_next_sync on vpp_tokens (next_sync_at) where state in ('valid', 'duplicateLocationId');

    -- One row per (token, asset) for store apps; later stores use the same table with their own source.
    create table apps (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      odata_type text not null,
      source text not null check (source in ('appleVpp', 'microsoftStore', 'saas')),
      token_id uuid,
      adam_id text,
      pricing_param text,
      product_type text,
      display_name text,
      publisher text,
      description text,
      bundle_id text,
      version text,
      icon_url text,
      app_store_url text,
      release_at timestamptz,
      supported_platforms text[] not null default '{}',
      device_assignable boolean not null default false,
      revocable boolean not null default false,
      total_count integer not null default 0,
      assigned_count integer not null default 0,
      available_count integer not null default 0,
      retired_count integer not null default 0,
      metadata_status text not null default 'pending' check (metadata_status in ('pending', 'ok', 'notFound', 'notSoldInStorefront')),
      metadata_country text,
      metadata_localizations jsonb,
      unit_price numeric(12, 2),
      created_at timestamptz not null default now(),
      last_modified_at timestamptz not null default now(),
      primary key (tenant_id, id),
      foreign key (tenant_id, token_id) references vpp_tokens(tenant_id, id) on delete cascade
    );
    create unique index apps_seq on apps (tenant_id, seq);
    create unique index apps_token_asset on apps (tenant_id, token_id, adam_id, pricing_param) where token_id is not null;
    create index apps_display_name on apps (tenant_id, lower(display_name) text_pattern_ops);

    -- Apple's assignments as last synced: the store's truth, to compare with the ledger.
    create table store_assignments (
      tenant_id uuid not null,
      token_id uuid not null,
      adam_id text not null,
      pricing_param text not null,
      serial_number text not null default '',
      client_user_id text not null default '',
      -- set when the assignment is one Allot made (the licensing engine's ledger); else untracked
      tracked boolean not null default false,
      synced_at timestamptz not null default now(),
      primary key (tenant_id, token_id, adam_id, pricing_param, serial_number, client_user_id),
      foreign key (tenant_id, token_id) references vpp_tokens(tenant_id, id) on delete cascade
    );

    -- Apple users created by Allot (TOK-5: only these are synced).
    create table apple_users (
      tenant_id uuid not null,
      token_id uuid not null,
      client_user_id text not null,
      user_id uuid,
      apple_user_id text,
      email text,
      status text not null default 'Registered',
      invite_code text,
      invite_url text,
      managed_apple_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, token_id, client_user_id),
      foreign key (tenant_id, token_id) references vpp_tokens(tenant_id, id) on delete cascade
    );
    create index apple_users_user on apple_users (tenant_id, user_id) where user_id is not null;

    -- Store notifications already processed (SYNC-3: duplicates are ignored).
    create table store_notifications (
      tenant_id uuid not null,
      token_id uuid not null,
      notification_id text not null,
      notification_type text not null,
      received_at timestamptz not null default now(),
      primary key (tenant_id, token_id, notification_id)
    );

    -- Alerts for administrators (token expiring, invalid, taken by another MDM, …); EUX-3 delivers them.
    create table admin_notifications (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      kind text not null,
      severity text not null check (severity in ('info', 'warning', 'critical')),
      title text not null,
      message text not null,
      resource_type text,
      resource_id text,
      created_at timestamptz not null default now(),
      acknowledged_at timestamptz,
      primary key (tenant_id, id)
    );
    create index admin_notifications_time on admin_notifications (tenant_id, seq);
  `,
  );
}
