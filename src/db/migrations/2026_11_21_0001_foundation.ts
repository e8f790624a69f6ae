// Foundation schema: tenants, access, directory, audit, imports. Every table leads its primary key
// with tenant_id (Citus can distribute by it). Written for PostgreSQL 15 (PGlite runs 18).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create table tenants (
      id uuid primary key,
      display_name text not null,
      is_default boolean not null default false,
      created_at timestamptz not null default now()
    );
    create unique index tenants_one_default on tenants (is_default) where is_default;

    create table administrators (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      email text not null,
      display_name text not null,
      password_hash text not null,
      roles text[] not null,
      account_enabled boolean not null default true,
      created_at timestamptz not null default now(),
      last_sign_in_at timestamptz,
      primary key (tenant_id, id)
    );
    create unique index administrators_email on administrators (tenant_id, lower(email));

    create table sessions (
      tenant_id uuid not null,
      id_hash text not null,
      administrator_id uuid not null,
      csrf_token text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (tenant_id, id_hash),
      foreign key (tenant_id, administrator_id) references administrators(tenant_id, id) on delete cascade
    );
    create unique index sessions_id_hash on sessions (id_hash);

    create table app_registrations (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      client_id text not null,
      display_name text not null,
      secret_hash text not null,
      secret_hint text not null,
      roles text[] not null,
      created_at timestamptz not null default now(),
      secret_created_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );
    create unique index app_registrations_client_id on app_registrations (client_id);

    create table setup_links (
      tenant_id uuid not null references tenants(id) on delete cascade,
      token_hash text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      used_at timestamptz,
      primary key (tenant_id, token_hash)
    );

    create table scim_tokens (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      display_name text not null,
      token_hash text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      primary key (tenant_id, id)
    );
    create unique index scim_tokens_hash on scim_tokens (token_hash);

    create table users (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      display_name text not null,
      user_principal_name text not null,
      mail text,
      apple_id_email text,
      account_enabled boolean not null,
      usage_location text,
      given_name text,
      surname text,
      job_title text,
      department text,
      external_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );
    create unique index users_upn on users (tenant_id, lower(user_principal_name));
    create unique index users_seq on users (tenant_id, seq);
    create index users_display_name on users (tenant_id, lower(display_name) text_pattern_ops, seq);
    create index users_external_id on users (tenant_id, external_id) where external_id is not null;

    create table groups (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      display_name text not null,
      description text,
      mail_nickname text,
      member_kind text not null default 'mixed' check (member_kind in ('user', 'device', 'mixed')),
      security_enabled boolean not null default true,
      mail_enabled boolean not null default false,
      external_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id)
    );
    create unique index groups_mail_nickname on groups (tenant_id, lower(mail_nickname)) where mail_nickname is not null;
    create unique index groups_seq on groups (tenant_id, seq);
    create index groups_display_name on groups (tenant_id, lower(display_name) text_pattern_ops);

    create table devices (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      seq bigint generated always as identity,
      device_name text not null,
      serial_number text,
      operating_system text not null check (operating_system in ('iOS', 'iPadOS', 'macOS', 'Windows')),
      os_version text,
      managed_device_owner_type text not null default 'company' check (managed_device_owner_type in ('company', 'personal', 'unknown')),
      is_supervised boolean not null default false,
      user_id uuid,
      join_type text,
      kiosk_mode boolean not null default false,
      itunes_store_blocked boolean not null default false,
      store_app_blocked boolean not null default false,
      enrolled_at timestamptz not null default now(),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id),
      foreign key (tenant_id, user_id) references users(tenant_id, id) on delete set null (user_id)
    );
    create unique index devices_serial on devices (tenant_id, upper(serial_number)) where serial_number is not null;
    create unique index devices_seq on devices (tenant_id, seq);
    create index devices_user on devices (tenant_id, user_id) where user_id is not null;
    create index devices_name on devices (tenant_id, lower(device_name) text_pattern_ops);

    create table group_members (
      tenant_id uuid not null,
      group_id uuid not null,
      member_id uuid not null,
      member_type text not null check (member_type in ('user', 'device', 'group')),
      joined_at timestamptz not null,
      primary key (tenant_id, group_id, member_id),
      foreign key (tenant_id, group_id) references groups(tenant_id, id) on delete cascade
    );
    create index group_members_member on group_members (tenant_id, member_id);
    create index group_members_nested on group_members (tenant_id, group_id) where member_type = 'group';


    -- Users, groups and managed devices as one polymorphic directoryObject set (members, memberOf).
    -- sort_key interleaves the three sequences so keyset paging has one monotonic key.
    create view directory_objects as
      select tenant_id, id, 'microsoft.graph.user'::text as odata_type, seq * 4 + 1 as sort_key, display_name, created_at,
        user_principal_name, mail, account_enabled, usage_location, given_name, surname, job_title, department, apple_id_email,
        null::text as description, null::text as mail_nickname, null::boolean as mail_enabled, null::boolean as security_enabled, null::text as member_kind,
        null::text as device_name, null::text as serial_number, null::text as operating_system, null::text as os_version,
        null::text as managed_device_owner_type, null::boolean as is_supervised, null::uuid as user_id, null::text as join_type,
        null::boolean as kiosk_mode, null::boolean as itunes_store_blocked, null::boolean as store_app_blocked, null::timestamptz as enrolled_at
      from users
      union all
      select tenant_id, id, 'microsoft.graph.group', seq * 4 + 2, display_name, created_at,
        null, null, null, null, null, null, null, null, null,
        description, mail_nickname, mail_enabled, security_enabled, member_kind,
        null, null, null, null, null, null, null, null, null, null, null, null
      from groups
      union all
      select tenant_id, id, 'microsoft.graph.managedDevice', seq * 4 + 3, device_name, created_at,
        null, null, null, null, null, null, null, null, null,
        null, null, null, null, null,
        device_name, serial_number, operating_system, os_version, managed_device_owner_type, is_supervised, user_id, join_type,
        kiosk_mode, itunes_store_blocked, store_app_blocked, enrolled_at
      from devices;

    -- Entitlement-relevant changes (DIR-3): the licensing engine consumes them in order.
    create table directory_changes (
      tenant_id uuid not null,
      seq bigint generated always as identity,
      occurred_at timestamptz not null default now(),
      change_type text not null,
      object_type text not null,
      object_id uuid not null,
      group_id uuid,
      primary key (tenant_id, seq)
    );

    -- TEN-5: append-only; shaped like Graph's deviceManagement auditEvent.
    create table audit_events (
      tenant_id uuid not null,
      id uuid not null,
      seq bigint generated always as identity,
      activity_date_time timestamptz not null default now(),
      display_name text not null,
      component_name text not null,
      category text not null,
      activity text not null,
      activity_type text not null,
      activity_operation_type text not null,
      activity_result text not null,
      correlation_id text,
      actor jsonb not null,
      resources jsonb not null,
      primary key (tenant_id, id)
    );
    create unique index audit_events_seq on audit_events (tenant_id, seq);
    create index audit_events_time on audit_events (tenant_id, activity_date_time);

    create function audit_events_append_only() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' and not exists (select 1 from tenants where id = old.tenant_id) then
        return old; -- the tenant itself is being removed
      end if;
      raise exception 'audit_events is append-only';
    end $$;
    create trigger audit_events_no_change before update or delete on audit_events
      for each row execute function audit_events_append_only();

    create table imports (
      tenant_id uuid not null references tenants(id) on delete cascade,
      id uuid not null,
      kind text not null check (kind in ('users', 'devices', 'groups', 'members')),
      status text not null,
      file_name text,
      spool_path text,
      total_rows integer not null default 0,
      processed_rows integer not null default 0,
      created_rows integer not null default 0,
      updated_rows integer not null default 0,
      errors jsonb not null default '[]',
      created_by jsonb not null,
      request_id text,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      completed_at timestamptz,
      primary key (tenant_id, id)
    );
  `,
  );
}
