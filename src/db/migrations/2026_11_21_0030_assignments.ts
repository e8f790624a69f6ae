// ASG-1..4: an app's assignments as Graph's mobileAppAssignment (books: managedEBookAssignment),
// one row per (app, target). `seq` is the monotonic creation order the licensing engine uses to
// break ties; settings hold iosVppAppAssignmentSettings' members (beta-only ones stay in the row
// and are simply not shown on v1.0).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create table mobile_app_assignments (
      tenant_id uuid not null,
      id uuid not null,
      seq bigint generated always as identity,
      app_id uuid not null,
      target_kind text not null check (target_kind in ('group', 'exclusionGroup', 'allLicensedUsers', 'allDevices')),
      group_id uuid,
      intent text not null check (intent in ('required', 'available', 'uninstall')),
      settings jsonb not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, id),
      foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade,
      check ((target_kind in ('group', 'exclusionGroup')) = (group_id is not null))
    );
    create unique index mobile_app_assignments_seq on mobile_app_assignments (tenant_id, seq);
    create index mobile_app_assignments_app on mobile_app_assignments (tenant_id, app_id);
    create index mobile_app_assignments_group on mobile_app_assignments (tenant_id, group_id);
  `,
  );
}
