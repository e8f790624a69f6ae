// SQL of the MDM bridge (MDM-1): the device-command outbox, install states and requests, and the
// bridge's cursor over license_events. Nothing else writes device_commands.
import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../db/types.ts";
import { REVOKED_REASON } from "../licenses/licenses.revoke.ts";

type Executor = Kysely<DB> | Transaction<DB>;

export interface CommandInsert {
  id: string;
  appId: string;
  deviceId: string;
  /** update (UPD-1): InstallApplication again for an installed app; the install state stays. */
  kind: "install" | "remove" | "update";
  payload: Record<string, unknown>;
}

export interface DueCommand {
  id: string;
  app_id: string;
  device_id: string;
  kind: "install" | "remove" | "update";
  payload: unknown;
  attempts: number;
  serial_number: string | null;
  operating_system: string | null;
  created_at: Date;
}

/** License events that never call for a device command (appsWithEvents). */
const RELEVANT_EXCLUDED = sql`('waiting', 'pendingAssign')`;

export function createMdmBridgeRepository(db: Kysely<DB>) {
  return {
    async cursor(tenantId: string): Promise<number> {
      const r = await sql<{
        event_seq: string | number;
      }>`select event_seq from mdm_bridge_cursors where tenant_id = ${tenantId}`.execute(db);
      return Number(r.rows[0]?.event_seq ?? 0);
    },

    async setCursor(tenantId: string, seq: number): Promise<void> {
      await sql`insert into mdm_bridge_cursors (tenant_id, event_seq, updated_at) values (${tenantId}, ${seq}, now())
        on conflict (tenant_id) do update set event_seq = excluded.event_seq, updated_at = excluded.updated_at`.execute(
        db,
      );
    },

    /** The last license event after `afterSeq` (`afterSeq` when there is none). */
    async lastEventSeq(tenantId: string, afterSeq: number): Promise<number> {
      const last = await sql<{ m: string | number | null }>`
        select max(seq) as m from license_events where tenant_id = ${tenantId} and seq > ${afterSeq}`.execute(db);
      return Math.max(afterSeq, Number(last.rows[0]?.m ?? afterSeq));
    },

    /**
     * The apps whose events in (afterSeq, lastSeq] can call for a device command. A holding that
     * starts waiting or is about to be associated cannot (InstallApplication follows `assigned`; a
     * RemoveApplication follows an assignment change, which plans the app's commands itself): a full
     * reconcile writes hundreds of thousands of those.
     */
    async appsWithEvents(tenantId: string, afterSeq: number, lastSeq: number): Promise<string[]> {
      const r = await sql<{ app_id: string }>`
        select distinct app_id from license_events
        where tenant_id = ${tenantId} and seq > ${afterSeq} and seq <= ${lastSeq} and to_state not in ${RELEVANT_EXCLUDED}`.execute(
        db,
      );
      return r.rows.map((x) => x.app_id);
    },

    /**
     * Per app, the holders whose events in (afterSeq, lastSeq] can call for a device command; null
     * when there are more than `limit` (app, holder) pairs.
     */
    async holdersWithEvents(
      tenantId: string,
      afterSeq: number,
      lastSeq: number,
      limit: number,
    ): Promise<Map<string, { users: string[]; devices: string[] }> | null> {
      const r = await sql<{ app_id: string; holder_type: string; holder_id: string }>`
        select distinct app_id, holder_type, holder_id from license_events
        where tenant_id = ${tenantId} and seq > ${afterSeq} and seq <= ${lastSeq} and to_state not in ${RELEVANT_EXCLUDED}
        limit ${limit + 1}`.execute(db);
      if (r.rows.length > limit) return null;
      const byApp = new Map<string, { users: string[]; devices: string[] }>();
      for (const x of r.rows) {
        let h = byApp.get(x.app_id);
        if (!h) byApp.set(x.app_id, (h = { users: [], devices: [] }));
        (x.holder_type === "user" ? h.users : h.devices).push(x.holder_id);
      }
      return byApp;
    },

    /** Users who lost an app in events (afterSeq, lastSeq]: the holder, or a released device's primary user. */
    async releasedUsers(tenantId: string, afterSeq: number, lastSeq: number) {
      const r = await sql<{
        app_id: string;
        user_id: string;
        display_name: string | null;
        reason: string | null;
      }>`
        select distinct e.app_id, coalesce(u.id, d.user_id) as user_id, a.display_name, e.reason
        from license_events e
        join apps a on a.tenant_id = e.tenant_id and a.id = e.app_id
        left join users u on e.holder_type = 'user' and u.tenant_id = e.tenant_id and u.id = e.holder_id
        left join devices d on e.holder_type = 'device' and d.tenant_id = e.tenant_id and d.id = e.holder_id
        where e.tenant_id = ${tenantId} and e.seq > ${afterSeq} and e.seq <= ${lastSeq} and e.to_state = 'released'
          -- a revoke tells users itself, when asked to (notifyManagedDevices)
          and e.reason is distinct from ${REVOKED_REASON}
          and coalesce(u.id, d.user_id) is not null`.execute(db);
      return r.rows;
    },

    /** Tenants with license events the bridge has not read, or commands due for delivery. */
    /** Tenants with license events the bridge has not read yet. */
    async tenantsWithEvents(): Promise<string[]> {
      const r = await sql<{ tenant_id: string }>`
        select t.id as tenant_id from tenants t
          left join mdm_bridge_cursors k on k.tenant_id = t.id
          -- polled every second: a primary-key probe per tenant, never a scan of the event history
          where exists (select 1 from license_events e where e.tenant_id = t.id and e.seq > coalesce(k.event_seq, 0))`.execute(db);
      return r.rows.map((x) => x.tenant_id);
    },

    /** Tenants with device commands due (an index probe per tenant: device_commands_due). */
    async tenantsWithDueCommands(now: Date): Promise<string[]> {
      const r = await sql<{ tenant_id: string }>`
        select t.id as tenant_id from tenants t
          where exists (select 1 from device_commands c where c.tenant_id = t.id and c.state = 'pending' and c.next_attempt_at <= ${now})`.execute(
        db,
      );
      return r.rows.map((x) => x.tenant_id);
    },

    async appInfo(ex: Executor, tenantId: string, appIds: readonly string[]) {
      if (appIds.length === 0) return [];
      const r = await sql<{
        id: string;
        adam_id: string | null;
        bundle_id: string | null;
        display_name: string | null;
      }>`
        select id, adam_id, bundle_id, display_name from apps where tenant_id = ${tenantId} and id = any(${appIds as string[]}::uuid[])`.execute(
        ex,
      );
      return r.rows;
    },

    /** Writes commands and marks their devices installPending / removePending, in one transaction. */
    async insertCommands(
      trx: Transaction<DB>,
      tenantId: string,
      cmds: readonly CommandInsert[],
      now: Date,
    ): Promise<void> {
      if (cmds.length === 0) return;
      // One statement per table for the whole list (a plan can hold hundreds of thousands of installs).
      const col = <T>(list: readonly CommandInsert[], f: (c: CommandInsert) => T): T[] => list.map(f);
      await sql`insert into device_commands (tenant_id, id, app_id, device_id, kind, payload, state, created_at, updated_at, next_attempt_at)
        select ${tenantId}::uuid, t.id, t.app_id, t.device_id, t.kind, t.payload::jsonb, 'pending', ${now}, ${now}, ${now}
        from unnest(${col(cmds, (c) => c.id)}::uuid[], ${col(cmds, (c) => c.appId)}::uuid[], ${col(cmds, (c) => c.deviceId)}::uuid[],
          ${col(cmds, (c) => c.kind)}::text[], ${col(cmds, (c) => JSON.stringify(c.payload))}::text[]) with ordinality
          as t(id, app_id, device_id, kind, payload, n)
        order by t.n`.execute(trx);
      // The app stays installed while the MDM updates it; otherwise the last command per device decides.
      const last = new Map<string, CommandInsert>();
      for (const c of cmds) if (c.kind !== "update") last.set(`${c.appId}:${c.deviceId}`, c);
      const states = [...last.values()];
      if (states.length === 0) return;
      await sql`insert into install_states (tenant_id, app_id, device_id, state, since)
        select ${tenantId}::uuid, t.app_id, t.device_id, t.state, ${now}
        from unnest(${col(states, (c) => c.appId)}::uuid[], ${col(states, (c) => c.deviceId)}::uuid[],
          ${col(states, (c) => (c.kind === "install" ? "installPending" : "removePending"))}::text[]) as t(app_id, device_id, state)
        on conflict (tenant_id, app_id, device_id) do update set state = excluded.state, since = excluded.since`.execute(trx);
    },

    async dueCommands(tenantId: string, now: Date, limit: number): Promise<DueCommand[]> {
      const r = await sql<DueCommand>`
        select c.id, c.app_id, c.device_id, c.kind, c.payload, c.attempts, d.serial_number, d.operating_system, c.created_at
        from device_commands c left join devices d on d.tenant_id = c.tenant_id and d.id = c.device_id
        where c.tenant_id = ${tenantId} and c.state = 'pending' and c.next_attempt_at <= ${now}
        order by c.seq limit ${limit}`.execute(db);
      return r.rows;
    },

    async settleCommand(
      tenantId: string,
      c: {
        id: string;
        appId: string;
        deviceId: string;
        attempt: number;
        ok: boolean;
        error: string | null;
        retryAt: Date | null;
      },
      now: Date,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const state = c.ok ? "sent" : c.retryAt ? "pending" : "failed";
        await sql`update device_commands set state = ${state}, attempts = ${c.attempt}, last_error = ${c.error},
            sent_at = ${c.ok ? now : null}, next_attempt_at = ${c.retryAt ?? now}, updated_at = ${now}
          where tenant_id = ${tenantId} and id = ${c.id}`.execute(trx);
        if (state === "failed")
          await sql`update install_states set state = 'failed', since = ${now}
            where tenant_id = ${tenantId} and app_id = ${c.appId} and device_id = ${c.deviceId} and state in ('installPending', 'removePending')`.execute(
            trx,
          );
      });
    },

    async findDevice(ex: Executor, tenantId: string, id: string) {
      const r = await sql<{
        id: string;
        user_id: string | null;
        serial_number: string | null;
        device_name: string | null;
      }>`
        select id, user_id, serial_number, device_name from devices where tenant_id = ${tenantId} and id = ${id}`.execute(
        ex,
      );
      return r.rows[0];
    },

    async findApp(ex: Executor, tenantId: string, id: string) {
      const r = await sql<{
        id: string;
        display_name: string | null;
      }>`select id, display_name from apps where tenant_id = ${tenantId} and id = ${id}`.execute(ex);
      return r.rows[0];
    },

    /** Resolves reported apps (by bundle id or adamId) to catalog apps of the tenant. */
    async appsByStoreIds(
      ex: Executor,
      tenantId: string,
      bundleIds: readonly string[],
      adamIds: readonly string[],
    ) {
      const r = await sql<{ id: string; bundle_id: string | null; adam_id: string | null }>`
        select id, bundle_id, adam_id from apps where tenant_id = ${tenantId}
          and (bundle_id = any(${bundleIds as string[]}::text[]) or adam_id = any(${adamIds as string[]}::text[]))`.execute(
        ex,
      );
      return r.rows;
    },

    /** Apps a RemoveApplication is outstanding for on this device (ENG-6). */
    async removePendingApps(ex: Executor, tenantId: string, deviceId: string): Promise<string[]> {
      const r = await sql<{ app_id: string }>`
        select app_id from install_states where tenant_id = ${tenantId} and device_id = ${deviceId} and state = 'removePending'`.execute(ex);
      return r.rows.map((x) => x.app_id);
    },

    async installStatesOf(ex: Executor, tenantId: string, deviceId: string, appIds: readonly string[]) {
      if (appIds.length === 0) return [];
      const r = await sql<{ app_id: string; state: string }>`
        select app_id, state from install_states where tenant_id = ${tenantId} and device_id = ${deviceId} and app_id = any(${appIds as string[]}::uuid[])`.execute(
        ex,
      );
      return r.rows;
    },

    async setInstallState(
      trx: Transaction<DB>,
      tenantId: string,
      appId: string,
      deviceId: string,
      state: string,
      now: Date,
    ): Promise<void> {
      await sql`insert into install_states (tenant_id, app_id, device_id, state, since) values (${tenantId}, ${appId}, ${deviceId}, ${state}, ${now})
        on conflict (tenant_id, app_id, device_id) do update set state = excluded.state, since = excluded.since
        where install_states.state <> excluded.state`.execute(trx);
      // The MDM confirmed what the outstanding command asked for.
      const kinds = state === "installed" ? ["install", "update"] : state === "removed" ? ["remove"] : [];
      if (kinds.length > 0)
        await sql`update device_commands set state = 'acknowledged', updated_at = ${now}
          where tenant_id = ${tenantId} and app_id = ${appId} and device_id = ${deviceId} and kind = any(${kinds}::text[]) and state in ('pending', 'sent')`.execute(
          trx,
        );
    },

    async insertInstallRequest(
      trx: Transaction<DB>,
      tenantId: string,
      appId: string,
      deviceId: string,
      userId: string | null,
      now: Date,
    ): Promise<boolean> {
      const r =
        await sql`insert into install_requests (tenant_id, app_id, device_id, user_id, requested_at) values (${tenantId}, ${appId}, ${deviceId}, ${userId}, ${now})
        on conflict (tenant_id, app_id, device_id) do nothing`.execute(trx);
      return Number(r.numAffectedRows ?? 0) > 0;
    },

    /** UPD-1: apps of the token whose store version differs from the one the bridge last acted on. */
    async appsWithNewVersion(tenantId: string, tokenId: string) {
      const r = await sql<{
        id: string;
        version: string;
        update_seen_version: string | null;
        display_name: string | null;
        adam_id: string | null;
        automatically_update_apps: boolean;
      }>`
        select a.id, a.version, a.update_seen_version, a.display_name, a.adam_id, t.automatically_update_apps
        from apps a join vpp_tokens t on t.tenant_id = a.tenant_id and t.id = a.token_id
        where a.tenant_id = ${tenantId} and a.token_id = ${tokenId} and a.product_type <> 'Book'
          and a.version is not null and a.update_seen_version is distinct from a.version
        order by a.seq`.execute(db);
      return r.rows;
    },

    /** Records that the bridge acted on `version` (only if the app still has it: a newer one is acted on next). */
    async markVersionSeen(ex: Executor, tenantId: string, appId: string, version: string): Promise<void> {
      await sql`update apps set update_seen_version = ${version}
        where tenant_id = ${tenantId} and id = ${appId} and version = ${version}`.execute(ex);
    },

    /** Installed devices of the app now read updateAvailable (UPD-1); returns how many changed. */
    async markUpdateAvailable(
      trx: Transaction<DB>,
      tenantId: string,
      appId: string,
      deviceIds: readonly string[],
      now: Date,
    ): Promise<number> {
      if (deviceIds.length === 0) return 0;
      const r = await sql`update install_states set state = 'updateAvailable', since = ${now}
        where tenant_id = ${tenantId} and app_id = ${appId} and device_id = any(${deviceIds as string[]}::uuid[]) and state = 'installed'`.execute(
        trx,
      );
      return Number(r.numAffectedRows ?? 0);
    },

    async appVersion(ex: Executor, tenantId: string, appId: string): Promise<string | null> {
      const r = await sql<{ version: string | null }>`
        select version from apps where tenant_id = ${tenantId} and id = ${appId}`.execute(ex);
      return r.rows[0]?.version ?? null;
    },

    /** Install state of the app on every device the bridge knows of (mobileApp deviceStatuses). */
    async deviceStatuses(tenantId: string, appId: string) {
      const r = await sql<{
        device_id: string;
        state: string;
        since: Date;
        device_name: string | null;
        operating_system: string | null;
        os_version: string | null;
        user_principal_name: string | null;
        user_display_name: string | null;
      }>`
        select s.device_id, s.state, s.since, d.device_name, d.operating_system, d.os_version,
          u.user_principal_name, u.display_name as user_display_name
        from install_states s
        join devices d on d.tenant_id = s.tenant_id and d.id = s.device_id
        left join users u on u.tenant_id = d.tenant_id and u.id = d.user_id
        where s.tenant_id = ${tenantId} and s.app_id = ${appId}
        order by d.device_name, s.device_id`.execute(db);
      return r.rows;
    },

    async commandsOfDevice(tenantId: string, deviceId: string) {
      const r = await sql<{
        id: string;
        app_id: string;
        kind: string;
        state: string;
        attempts: number;
        payload: unknown;
        created_at: Date;
        sent_at: Date | null;
        last_error: string | null;
      }>`
        select id, app_id, kind, state, attempts, payload, created_at, sent_at, last_error from device_commands
        where tenant_id = ${tenantId} and device_id = ${deviceId} order by seq`.execute(db);
      return r.rows;
    },
  };
}
export type MdmBridgeRepository = ReturnType<typeof createMdmBridgeRepository>;
