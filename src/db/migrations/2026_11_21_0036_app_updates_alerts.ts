// Automatic updates (UPD-1) and licensing alerts (EUX-3).
// - apps.update_seen_version: the store version the MDM bridge last acted on; a sync that records a
//   different version makes the bridge push updates / notify once, and crash-safely (it moves only
//   in the transaction that writes the commands and alerts).
// - install_states may read `updateAvailable` (an Available install whose app has a newer version).
// - alert_conditions: per (kind, resource) state of condition alerts (licenses running out, waitlist
//   growing) so each is raised once per condition, not on every reconcile.
// - alert_settings: per-tenant thresholds of those alerts (defaults when absent).
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    alter table apps add column update_seen_version text;
    update apps set update_seen_version = version where version is not null;

    alter table install_states drop constraint install_states_state_check;
    alter table install_states add constraint install_states_state_check
      check (state in ('none', 'installPending', 'installed', 'removePending', 'removed', 'failed', 'updateAvailable'));

    create table alert_conditions (
      tenant_id uuid not null references tenants(id) on delete cascade,
      kind text not null,
      resource_id text not null,
      active boolean not null default false,
      -- licensesRunningOut: available count when raised; waitlistGrowing: waiting count at the last alert
      value integer not null default 0,
      raised_at timestamptz,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, kind, resource_id)
    );

    create table alert_settings (
      tenant_id uuid primary key references tenants(id) on delete cascade,
      licenses_running_out_percent integer not null default 10 check (licenses_running_out_percent between 0 and 100),
      waitlist_alert_minutes integer not null default 60 check (waitlist_alert_minutes between 0 and 10080),
      updated_at timestamptz not null default now()
    );
  `,
  );
}
