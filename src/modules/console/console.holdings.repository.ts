// SQL of the license-ledger read models the console shows (routes in console.holdings.routes.ts):
// holdings of one app, holdings of one user or device across apps, and an app's license history
// (license_events, newest first, keyset-paged on (occurred_at, seq)). Every query is tenant-scoped.
import { type Kysely, type RawBuilder, type SqlBool, sql } from "kysely";
import type { DB } from "../../db/types.ts";

const guidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (s: string) => guidRe.test(s);

export const holdingStates = [
  "pendingAssign",
  "assigned",
  "pendingRelease",
  "released",
  "failed",
  "waiting",
] as const;
export type HoldingState = (typeof holdingStates)[number];

export interface AppHoldingRow {
  holder_type: "user" | "device";
  holder_id: string;
  state: string;
  reason: string | null;
  license_type: string;
  since: Date | string;
  waiting_since: Date | string | null;
  name: string | null;
  upn: string | null;
  device_name: string | null;
  serial: string | null;
}

export interface HolderHoldingRow {
  app_id: string;
  app_name: string | null;
  odata_type: string;
  state: string;
  reason: string | null;
  license_type: string;
  since: Date | string;
  waiting_since: Date | string | null;
}

export interface HistoryRow {
  seq: string | number;
  holder_type: string;
  holder_id: string;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  occurred_at: Date | string;
  /** occurred_at in UTC with microseconds: the exact keyset position (a JS Date keeps milliseconds only). */
  occurred_key: string;
  user_name: string | null;
  upn: string | null;
  device_name: string | null;
  serial: string | null;
}

/** Keyset position: the last row of the previous page, (occurred_at, seq). */
export interface HistoryCursor {
  at: string;
  seq: string;
}

export interface HistoryQuery {
  /** Each entry is one `holderId eq|in` condition; all must hold. */
  holderIds: string[][];
  holderType?: "user" | "device";
  top: number;
  after?: HistoryCursor;
}

export function createHoldingsRepository(db: Kysely<DB>) {
  return {
    async appExists(tenantId: string, appId: string): Promise<boolean> {
      if (!isGuid(appId)) return false;
      const r = await db
        .selectFrom("apps")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", appId.toLowerCase())
        .executeTakeFirst();
      return !!r;
    },
    /** The user's id, by id or userPrincipalName (case-insensitive, as the /users routes read it). */
    async userId(tenantId: string, idOrUpn: string): Promise<string | undefined> {
      const r = await db
        .selectFrom("users")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where((eb) =>
          isGuid(idOrUpn)
            ? eb("id", "=", idOrUpn.toLowerCase())
            : eb(sql`lower(user_principal_name)`, "=", idOrUpn.toLowerCase()),
        )
        .executeTakeFirst();
      return r?.id;
    },
    async deviceId(tenantId: string, id: string): Promise<string | undefined> {
      if (!isGuid(id)) return undefined;
      const r = await db
        .selectFrom("devices")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id.toLowerCase())
        .executeTakeFirst();
      return r?.id;
    },
    /** Holdings of an app (released ones too, they show what was freed), queue order within each state. */
    async appHoldings(tenantId: string, appId: string): Promise<AppHoldingRow[]> {
      const r = await sql<AppHoldingRow>`
        select h.holder_type, h.holder_id, h.state, h.reason, h.license_type, h.since, h.waiting_since,
          coalesce(u.display_name, du.display_name) as name, coalesce(u.user_principal_name, du.user_principal_name) as upn,
          d.device_name, d.serial_number as serial
        from license_holdings h
        left join users u on h.holder_type = 'user' and u.tenant_id = h.tenant_id and u.id = h.holder_id
        left join devices d on h.holder_type = 'device' and d.tenant_id = h.tenant_id and d.id = h.holder_id
        left join users du on du.tenant_id = d.tenant_id and du.id = d.user_id
        where h.tenant_id = ${tenantId} and h.app_id = ${appId.toLowerCase()}
        order by h.holder_type desc, h.holder_seq nulls last, h.holder_id
        limit 20000`.execute(db);
      return r.rows;
    },
    /** Holdings of one user or device across apps (one per app at most), by app name. */
    async holderHoldings(
      tenantId: string,
      holderType: "user" | "device",
      holderId: string,
      states: readonly HoldingState[],
    ): Promise<HolderHoldingRow[]> {
      if (states.length === 0) return [];
      const r = await sql<HolderHoldingRow>`
        select h.app_id, a.display_name as app_name, a.odata_type, h.state, h.reason, h.license_type,
          h.since, h.waiting_since
        from license_holdings h
        join apps a on a.tenant_id = h.tenant_id and a.id = h.app_id
        where h.tenant_id = ${tenantId} and h.holder_id = ${holderId} and h.holder_type = ${holderType}
          and h.state in (${sql.join(states.map((s) => sql`${s}`))})
        order by lower(a.display_name) nulls last, h.app_id
        limit 20000`.execute(db);
      return r.rows;
    },
    /** An app's license events, newest first; `top + 1` rows so the caller knows whether more follow. */
    async history(tenantId: string, appId: string, q: HistoryQuery): Promise<HistoryRow[]> {
      const where: RawBuilder<SqlBool>[] = [
        sql<SqlBool>`e.tenant_id = ${tenantId}`,
        sql<SqlBool>`e.app_id = ${appId.toLowerCase()}`,
      ];
      for (const ids of q.holderIds)
        where.push(sql<SqlBool>`e.holder_id in (${sql.join(ids.map((id) => sql`${id.toLowerCase()}`))})`);
      if (q.holderType) where.push(sql<SqlBool>`e.holder_type = ${q.holderType}`);
      if (q.after)
        where.push(
          sql<SqlBool>`(e.occurred_at, e.seq) < ((${q.after.at}::timestamp at time zone 'UTC'), ${q.after.seq}::bigint)`,
        );
      const r = await sql<HistoryRow>`
        select e.seq, e.holder_type, e.holder_id, e.from_state, e.to_state, e.reason, e.occurred_at,
          to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as occurred_key,
          u.display_name as user_name, u.user_principal_name as upn, d.device_name, d.serial_number as serial
        from license_events e
        left join users u on e.holder_type = 'user' and u.tenant_id = e.tenant_id and u.id = e.holder_id
        left join devices d on e.holder_type = 'device' and d.tenant_id = e.tenant_id and d.id = e.holder_id
        where ${sql.join(where, sql` and `)}
        order by e.occurred_at desc, e.seq desc
        limit ${q.top + 1}`.execute(db);
      return r.rows;
    },
  };
}
export type HoldingsRepository = ReturnType<typeof createHoldingsRepository>;
