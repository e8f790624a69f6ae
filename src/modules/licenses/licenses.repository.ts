// SQL of the license ledger (ENG-3, ENG-8): engine inputs, ledger rows and their history, the
// store-operations outbox, and the directory_changes cursor. Nothing else writes these tables.
import { type Kysely, sql, type Transaction } from "kysely";
import { v7 as uuidv7 } from "uuid";
import { type BulkWriter, copyField } from "../../db/bulk.ts";
import type { DB } from "../../db/types.ts";
import type {
  AppleUserRecord,
  AppleUserState,
  DeviceInstall,
  EngineAssignment,
  EngineDevice,
  EngineUser,
  InstallRequest,
  LedgerHolding,
  MembershipEdge,
} from "../../engine/index.ts";

type Executor = Kysely<DB> | Transaction<DB>;
/** Membership rows read per query when the whole directory is loaded. */
const DIRECTORY_PAGE = 100_000;
const ms = (d: Date | string | null | undefined) => (d == null ? null : new Date(d).getTime());

/** The user and device columns the engine's directory needs (full load and incremental slice alike). */
const ENGINE_USER_COLUMNS = ["id", "seq", "created_at", "account_enabled"] as const;
const ENGINE_DEVICE_COLUMNS = [
  "id",
  "seq",
  "enrolled_at",
  "serial_number",
  "operating_system",
  "user_id",
  "itunes_store_blocked",
  "os_version",
] as const;

/** A license_holdings row as the engine reads it. */
const holdingOf = (h: {
  holder_type: string;
  holder_id: string;
  state: string;
  reason: string | null;
  license_type: string;
  since: Date | string;
  waiting_since: Date | string | null;
  entitled_at: Date | string | null;
  holder_seq: number | string | null;
  store_key: string | null;
}): LedgerHolding => ({
  holderType: h.holder_type as LedgerHolding["holderType"],
  holderId: h.holder_id,
  state: h.state as LedgerHolding["state"],
  reason: h.reason as LedgerHolding["reason"],
  licenseType: h.license_type as LedgerHolding["licenseType"],
  since: ms(h.since) as number,
  waitingSince: ms(h.waiting_since),
  entitledAt: ms(h.entitled_at),
  holderSeq: h.holder_seq == null ? null : Number(h.holder_seq),
  storeKey: h.store_key,
});

/** Directory rows (loadDirectory, loadDirectorySlice) as the engine reads them. */
function directoryOf(
  users: readonly { id: string; seq: number | string; created_at: Date | string; account_enabled: boolean }[],
  devices: readonly {
    id: string;
    seq: number | string;
    enrolled_at: Date | string;
    serial_number: string | null;
    operating_system: string;
    user_id: string | null;
    itunes_store_blocked: boolean;
    os_version: string | null;
  }[],
  members: readonly { group_id: string; member_id: string; member_type: string; joined_at: Date | string }[],
  apple: readonly {
    token_id: string;
    user_id: string | null;
    status: string;
    client_user_id: string;
    invite_code: string | null;
    invited_code: string | null;
  }[],
) {
  return {
    users: users.map(
      (u): EngineUser => ({
        id: u.id,
        seq: Number(u.seq),
        createdAt: ms(u.created_at) as number,
        enabled: u.account_enabled,
      }),
    ),
    devices: devices.map(
      (d): EngineDevice => ({
        id: d.id,
        seq: Number(d.seq),
        createdAt: ms(d.enrolled_at) as number,
        serialNumber: d.serial_number,
        operatingSystem: d.operating_system as EngineDevice["operatingSystem"],
        userId: d.user_id,
        itunesStoreBlocked: d.itunes_store_blocked,
        managed: true,
        osVersion: d.os_version,
      }),
    ),
    memberships: members.map(
      (m): MembershipEdge => ({
        groupId: m.group_id,
        memberId: m.member_id,
        memberType: m.member_type as MembershipEdge["memberType"],
        joinedAt: ms(m.joined_at) as number,
      }),
    ),
    appleUsers: apple.map(
      (a): AppleUserRecord => ({
        tokenId: a.token_id,
        userId: a.user_id as string,
        state: appleStateOf(a.status, a.invite_code, a.invited_code),
        clientUserId: a.client_user_id,
      }),
    ),
  };
}

export interface LedgerAppRow {
  id: string;
  tenant_id: string;
  token_id: string | null;
  adam_id: string | null;
  pricing_param: string | null;
  product_type: string | null;
  display_name: string | null;
  total_count: number;
  retired_count: number;
  device_assignable: boolean;
  revocable: boolean;
  supported_platforms: string[];
  unit_price: number | string | null;
  token_state: string | null;
}

export interface HoldingWrite {
  appId: string;
  row: LedgerHolding;
  previousState: string | null;
  eventId?: string | null;
}

/** One holding's state change from a store result (setHoldingState, setHoldingStates). */
export interface HoldingStateChange {
  appId: string;
  holderType: string;
  holderId: string;
  from: string;
  to: string;
  reason: string | null;
  storeKey: string | null;
  eventId: string | null;
}

export interface OperationInsert {
  tokenId: string;
  appId: string | null;
  kind: "associate" | "disassociate" | "revoke" | "registerUser" | "inviteUser";
  holderType: string | null;
  holderId: string | null;
  storeKey: string | null;
  payload: Record<string, unknown>;
}

export type OperationRow = Awaited<
  ReturnType<ReturnType<typeof createLicensesRepository>["openOperations"]>
>[number];

/** Apple's status plus whether Allot already sent the invitation for the current invite code (ENG-4). */
export const appleStateOf = (
  status: string,
  inviteCode?: string | null,
  invitedCode?: string | null,
): AppleUserState => {
  const s = status.toLowerCase();
  if (s === "associated") return "associated";
  if (s === "retired" || s === "deleted") return "retired";
  if (s === "invited") return "invited";
  return invitedCode != null && invitedCode === inviteCode ? "invited" : "registered";
};

const UNIQUE_VIOLATION = "23505";
const HOLDING_COLUMNS = [
  "tenant_id",
  "app_id",
  "holder_type",
  "holder_id",
  "holder_seq",
  "state",
  "reason",
  "license_type",
  "store_key",
  "entitled_at",
  "since",
  "waiting_since",
  "event_id",
] as const;
const HISTORY_COLUMNS = [
  "tenant_id",
  "app_id",
  "holder_type",
  "holder_id",
  "from_state",
  "to_state",
  "reason",
  "store_key",
  "event_id",
] as const;
const OPERATION_COLUMNS = [
  "tenant_id",
  "id",
  "token_id",
  "app_id",
  "kind",
  "holder_type",
  "holder_id",
  "store_key",
  "payload",
] as const;

/**
 * Outbox ids are time-ordered (UUIDv7): the primary key then grows at its right edge instead of
 * taking each of the hundreds of thousands of operations a full reconcile writes at a random page.
 */
const operationId = (): string => uuidv7();
/**
 * New ledger rows go to COPY in holder order (stable, so one holder's history keeps its order): the
 * holder indexes then take a chunk's entries page after page instead of at random.
 */
const byHolder = (a: HoldingWrite, b: HoldingWrite) =>
  a.row.holderId < b.row.holderId ? -1 : a.row.holderId > b.row.holderId ? 1 : 0;

/** The writes that are state changes (or carry an Apple event): each gets a history row. */
const historyOf = (writes: readonly HoldingWrite[]) => writes.filter((w) => w.previousState !== w.row.state || w.eventId);
const isoOf = (v: number | null | undefined) => (v == null ? null : new Date(v).toISOString());
/** isoOf for COPY text (\N for null), remembering the last value: most rows of a chunk share their times. */
function lastIso() {
  let last: number | undefined;
  let text = "";
  return (v: number | null | undefined) => {
    if (v == null) return "\\N";
    if (v !== last) {
      last = v;
      text = new Date(v).toISOString();
    }
    return text;
  };
}

function upsertHoldingsQuery(tenantId: string, writes: readonly HoldingWrite[], now: Date) {
  const col = <T>(f: (w: HoldingWrite) => T): T[] => writes.map(f);
  return sql`
    insert into license_holdings (tenant_id, app_id, holder_type, holder_id, holder_seq, state, reason, license_type,
      store_key, entitled_at, since, waiting_since, event_id, updated_at)
    select ${tenantId}::uuid, t.app_id, t.holder_type, t.holder_id, t.holder_seq, t.state, t.reason, t.license_type,
      t.store_key, t.entitled_at, t.since, t.waiting_since, t.event_id, ${now.toISOString()}::timestamptz
    from unnest(${col((w) => w.appId)}::uuid[], ${col((w) => w.row.holderType)}::text[], ${col((w) => w.row.holderId)}::uuid[],
      ${col((w) => (w.row.holderSeq == null ? null : String(w.row.holderSeq)))}::bigint[], ${col((w) => w.row.state)}::text[],
      ${col((w) => w.row.reason ?? null)}::text[], ${col((w) => w.row.licenseType)}::text[], ${col((w) => w.row.storeKey ?? null)}::text[],
      ${col((w) => isoOf(w.row.entitledAt))}::timestamptz[], ${col((w) => isoOf(w.row.since))}::timestamptz[],
      ${col((w) => isoOf(w.row.waitingSince))}::timestamptz[], ${col((w) => w.eventId ?? null)}::text[])
      as t(app_id, holder_type, holder_id, holder_seq, state, reason, license_type, store_key, entitled_at, since, waiting_since, event_id)
    on conflict (tenant_id, app_id, holder_type, holder_id) do update set
      holder_seq = excluded.holder_seq, state = excluded.state, reason = excluded.reason, license_type = excluded.license_type,
      store_key = excluded.store_key, entitled_at = excluded.entitled_at, since = excluded.since,
      waiting_since = excluded.waiting_since, event_id = excluded.event_id, updated_at = excluded.updated_at`;
}

function insertHistoryQuery(tenantId: string, history: readonly HoldingWrite[], now: Date) {
  const h = <T>(f: (w: HoldingWrite) => T): T[] => history.map(f);
  return sql`
    insert into license_events (tenant_id, app_id, holder_type, holder_id, from_state, to_state, reason, store_key, event_id, occurred_at)
    select ${tenantId}::uuid, t.app_id, t.holder_type, t.holder_id, t.from_state, t.to_state, t.reason, t.store_key, t.event_id, ${now.toISOString()}::timestamptz
    from unnest(${h((w) => w.appId)}::uuid[], ${h((w) => w.row.holderType)}::text[], ${h((w) => w.row.holderId)}::uuid[],
      ${h((w) => w.previousState)}::text[], ${h((w) => w.row.state)}::text[], ${h((w) => w.row.reason ?? null)}::text[],
      ${h((w) => w.row.storeKey ?? null)}::text[], ${h((w) => w.eventId ?? null)}::text[]) with ordinality
      as t(app_id, holder_type, holder_id, from_state, to_state, reason, store_key, event_id, n)
    order by t.n`;
}

function insertOperationsQuery(tenantId: string, ops: readonly OperationInsert[], now: Date) {
  const col = <T>(f: (o: OperationInsert) => T): T[] => ops.map(f);
  const at = now.toISOString();
  return sql`
    insert into store_operations (tenant_id, id, token_id, app_id, kind, holder_type, holder_id, store_key, payload,
      created_at, updated_at, next_attempt_at)
    select ${tenantId}::uuid, t.id, t.token_id, t.app_id, t.kind, t.holder_type, t.holder_id, t.store_key, t.payload::jsonb,
      ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    from unnest(${col(() => operationId())}::uuid[], ${col((o) => o.tokenId)}::uuid[], ${col((o) => o.appId)}::uuid[],
      ${col((o) => o.kind)}::text[], ${col((o) => o.holderType)}::text[], ${col((o) => o.holderId)}::uuid[],
      ${col((o) => o.storeKey)}::text[], ${col((o) => JSON.stringify(o.payload))}::text[]) with ordinality
      as t(id, token_id, app_id, kind, holder_type, holder_id, store_key, payload, n)
    order by t.n`;
}

/** `bulk` (COPY in one transaction) speeds up writeChunk; without it chunks are written as upserts. */
export function createLicensesRepository(db: Kysely<DB>, bulk?: BulkWriter) {
  return {
    // ---------------------------------------------------------------- engine inputs

    async loadApps(ex: Executor, tenantId: string, appIds?: readonly string[]): Promise<LedgerAppRow[]> {
      let q = ex
        .selectFrom("apps as a")
        .leftJoin("vpp_tokens as v", (j) =>
          j.onRef("v.tenant_id", "=", "a.tenant_id").onRef("v.id", "=", "a.token_id"),
        )
        .select([
          "a.id",
          "a.tenant_id",
          "a.token_id",
          "a.adam_id",
          "a.pricing_param",
          "a.product_type",
          "a.display_name",
          "a.total_count",
          "a.retired_count",
          "a.device_assignable",
          "a.revocable",
          "a.supported_platforms",
          "a.unit_price",
          "v.state as token_state",
        ])
        .where("a.tenant_id", "=", tenantId)
        .where("a.source", "=", "appleVpp")
        .orderBy("a.seq");
      if (appIds) {
        if (appIds.length === 0) return [];
        q = q.where("a.id", "in", appIds as string[]);
      }
      return (await q.execute()) as LedgerAppRow[];
    },

    /** Apps that have assignments or ledger rows: the ones a full reconcile must plan. */
    async appsInScope(tenantId: string): Promise<string[]> {
      const r = await sql<{ id: string }>`
        select a.id from apps a where a.tenant_id = ${tenantId} and a.source = 'appleVpp' and (
          exists (select 1 from mobile_app_assignments m where m.tenant_id = a.tenant_id and m.app_id = a.id)
          or exists (select 1 from license_holdings h where h.tenant_id = a.tenant_id and h.app_id = a.id and h.state <> 'released'))
        order by a.seq`.execute(db);
      return r.rows.map((x) => x.id);
    },

    async loadDirectory(tenantId: string) {
      const users = await db
        .selectFrom("users")
        .select(ENGINE_USER_COLUMNS)
        .where("tenant_id", "=", tenantId)
        .execute();
      const devices = await db
        .selectFrom("devices")
        .select(ENGINE_DEVICE_COLUMNS)
        .where("tenant_id", "=", tenantId)
        .execute();
      // Memberships are the bulk (1M rows at 200k users): read in pages in key order and turned into
      // engine edges page by page (group ids and member types shared, times as numbers), so the raw rows
      // of the whole table never sit in memory next to the edges.
      const memberships: MembershipEdge[] = [];
      const groupIds = new Map<string, string>();
      let after: { g: string; m: string } | null = null;
      for (;;) {
        const page: { group_id: string; member_id: string; member_type: string; joined_ms: number }[] = (
          await sql<{ group_id: string; member_id: string; member_type: string; joined_ms: number }>`
            -- whole milliseconds, as a Date read by the driver (and every other reader of joined_at) has them
            select group_id, member_id, member_type, floor(extract(epoch from joined_at) * 1000)::float8 as joined_ms
            from group_members where tenant_id = ${tenantId}
              ${after ? sql`and (group_id, member_id) > (${after.g}::uuid, ${after.m}::uuid)` : sql``}
            order by group_id, member_id limit ${DIRECTORY_PAGE}`.execute(db)
        ).rows;
        for (const m of page) {
          let g = groupIds.get(m.group_id);
          if (g === undefined) {
            g = m.group_id;
            groupIds.set(g, g);
          }
          memberships.push({
            groupId: g,
            memberId: m.member_id,
            memberType: m.member_type === "user" ? "user" : m.member_type === "device" ? "device" : "group",
            joinedAt: Number(m.joined_ms),
          });
        }
        if (page.length < DIRECTORY_PAGE) break;
        const last = page[page.length - 1];
        after = { g: last.group_id, m: last.member_id };
      }
      const apple = await db
        .selectFrom("apple_users")
        .select(["token_id", "user_id", "status", "client_user_id", "invite_code", "invited_code"])
        .where("tenant_id", "=", tenantId)
        .where("user_id", "is not", null)
        .execute();
      return { ...directoryOf(users, devices, [], apple), memberships };
    },

    async loadAssignments(tenantId: string, appId: string): Promise<EngineAssignment[]> {
      const r = await sql<{
        id: string;
        seq: string | number;
        created_at: Date;
        target_kind: string;
        group_id: string | null;
        intent: string;
        settings: any;
      }>`
        select id, seq, created_at, target_kind, group_id, intent, settings from mobile_app_assignments
        where tenant_id = ${tenantId} and app_id = ${appId}`.execute(db);
      return r.rows.map((a) => {
        const s = typeof a.settings === "string" ? JSON.parse(a.settings) : (a.settings ?? {});
        return {
          id: a.id,
          seq: Number(a.seq),
          createdAt: ms(a.created_at) as number,
          target: { kind: a.target_kind as EngineAssignment["target"]["kind"], groupId: a.group_id },
          intent: a.intent as EngineAssignment["intent"],
          settings: { ...s, useDeviceLicensing: Boolean(s.useDeviceLicensing) },
        };
      });
    },

    async loadHoldings(ex: Executor, tenantId: string, appId: string): Promise<LedgerHolding[]> {
      const rows = await ex
        .selectFrom("license_holdings")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("app_id", "=", appId)
        .execute();
      return rows.map(holdingOf);
    },

    /** Install requests and install states for the app: of every device, or only of `deviceIds`. */
    async loadInstalls(
      tenantId: string,
      appId: string,
      deviceIds?: readonly string[],
    ): Promise<{ requests: InstallRequest[]; installs: DeviceInstall[] }> {
      if (deviceIds?.length === 0) return { requests: [], installs: [] };
      const ids = deviceIds as string[] | undefined;
      const [req, ins] = await Promise.all([
        db
          .selectFrom("install_requests")
          .selectAll()
          .where("tenant_id", "=", tenantId)
          .where("app_id", "=", appId)
          .$if(!!ids, (q) => q.where("device_id", "in", ids as string[]))
          .execute(),
        db
          .selectFrom("install_states")
          .selectAll()
          .where("tenant_id", "=", tenantId)
          .where("app_id", "=", appId)
          .$if(!!ids, (q) => q.where("device_id", "in", ids as string[]))
          .execute(),
      ]);
      return {
        requests: req.map((r) => ({
          deviceId: r.device_id,
          userId: r.user_id,
          requestedAt: ms(r.requested_at) as number,
        })),
        // updateAvailable (UPD-1) is an install of an older version: installed, as far as the engine goes.
        installs: ins.map((i) => ({
          deviceId: i.device_id,
          state: i.state === "updateAvailable" ? "installed" : i.state,
          since: ms(i.since) as number,
        })),
      };
    },

    /** Licenses of the asset consumed at the store outside this ledger (untracked assignments). */
    async externallyConsumed(tenantId: string, app: LedgerAppRow): Promise<number> {
      if (!app.token_id || !app.adam_id) return 0;
      const r = await sql<{ n: number }>`
        select count(*)::int as n from store_assignments s
        where s.tenant_id = ${tenantId} and s.token_id = ${app.token_id} and s.adam_id = ${app.adam_id} and s.pricing_param = ${app.pricing_param ?? "STDQ"}
          -- NOT IN over the app's ledger keys is planned as a hashed subplan whatever the row estimates
          -- (NOT EXISTS became a nested loop over stale estimates: 0.2–5 s per app instead of 2 ms)
          and (s.serial_number is null or s.serial_number not in (select h.store_key from license_holdings h
            where h.tenant_id = ${tenantId} and h.app_id = ${app.id} and h.state in ('pendingAssign', 'assigned', 'pendingRelease')
              and h.license_type = 'device' and h.store_key is not null))
          and (s.client_user_id is null or s.client_user_id not in (select h.store_key from license_holdings h
            where h.tenant_id = ${tenantId} and h.app_id = ${app.id} and h.state in ('pendingAssign', 'assigned', 'pendingRelease')
              and h.license_type <> 'device' and h.store_key is not null))`.execute(
        db,
      );
      return Number(r.rows[0]?.n ?? 0);
    },

    // ---------------------------------------------------------------- ledger writes

    /**
     * Upserts holdings and appends their history; one statement per table, every column passed as one
     * array (unnest): a chunk of thousands of rows is parsed and planned once, not as thousands of
     * bound parameters.
     */
    async writeHoldings(
      trx: Transaction<DB>,
      tenantId: string,
      writes: readonly HoldingWrite[],
      now: Date,
    ): Promise<void> {
      if (writes.length === 0) return;
      await upsertHoldingsQuery(tenantId, writes, now).execute(trx);
      const history = historyOf(writes);
      if (history.length > 0) await insertHistoryQuery(tenantId, history, now).execute(trx);
    },

    async insertOperations(
      trx: Transaction<DB>,
      tenantId: string,
      ops: readonly OperationInsert[],
      now: Date,
    ): Promise<void> {
      if (ops.length === 0) return;
      await insertOperationsQuery(tenantId, ops, now).execute(trx);
    },

    /**
     * One chunk of a plan (ENG-3): its holdings, their history and their outbox operations, atomically.
     * With a bulk writer, holdings the plan saw no row for, the history and the operations are
     * appended with COPY and only changed rows are upserts. A holding created since the plan read the
     * ledger makes the COPY fail on the primary key; the chunk is then written again as upserts.
     */
    async writeChunk(
      tenantId: string,
      writes: readonly HoldingWrite[],
      ops: readonly OperationInsert[],
      now: Date,
    ): Promise<void> {
      const asUpserts = () =>
        db.transaction().execute(async (trx) => {
          await this.writeHoldings(trx, tenantId, writes, now);
          await this.insertOperations(trx, tenantId, ops, now);
        });
      if (!bulk) return asUpserts();
      try {
        // Rows are written as COPY text directly: ids, states and types are safe as they are; free text
        // goes through copyField. Write times (updated_at, occurred_at, created_at, next_attempt_at) are
        // the columns' default, the transaction's time: a timestamp parsed per row less.
        const N = "\\N";
        const text = (v: string | null | undefined) => (v == null ? N : copyField(v));
        const [entitled, since, waiting] = [lastIso(), lastIso(), lastIso()];
        const holdings: string[] = [];
        const known: HoldingWrite[] = [];
        const ordered = [...writes].sort(byHolder);
        for (const w of ordered) {
          if (w.previousState !== null) {
            known.push(w);
            continue;
          }
          const r = w.row;
          holdings.push(
            `${tenantId}\t${w.appId}\t${r.holderType}\t${r.holderId}\t${r.holderSeq ?? N}\t${r.state}\t${text(r.reason)}\t` +
              `${r.licenseType}\t${text(r.storeKey)}\t${entitled(r.entitledAt)}\t${since(r.since)}\t${waiting(r.waitingSince)}\t${text(w.eventId)}`,
          );
        }
        const history = historyOf(ordered).map(
          ({ appId, row: r, previousState, eventId }) =>
            `${tenantId}\t${appId}\t${r.holderType}\t${r.holderId}\t${previousState ?? N}\t${r.state}\t${text(r.reason)}\t` +
            `${text(r.storeKey)}\t${text(eventId)}`,
        );
        const operations = ops.map(
          (o) =>
            `${tenantId}\t${operationId()}\t${o.tokenId}\t${o.appId ?? N}\t${o.kind}\t${o.holderType ?? N}\t${o.holderId ?? N}\t` +
            `${text(o.storeKey)}\t${copyField(JSON.stringify(o.payload))}`,
        );
        await bulk.transaction(async (s) => {
          await s.copyLines("license_holdings", HOLDING_COLUMNS, holdings);
          if (known.length > 0) await s.execute(upsertHoldingsQuery(tenantId, known, now).compile(db));
          await s.copyLines("license_events", HISTORY_COLUMNS, history);
          await s.copyLines("store_operations", OPERATION_COLUMNS, operations);
        });
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
        await asUpserts();
      }
    },

    async getHoldings(
      ex: Executor,
      tenantId: string,
      keys: readonly { appId: string; holderType: string; holderId: string }[],
    ) {
      if (keys.length === 0) return [];
      const r = await sql<{
        app_id: string;
        holder_type: string;
        holder_id: string;
        state: string;
        store_key: string | null;
      }>`
        select h.app_id, h.holder_type, h.holder_id, h.state, h.store_key from license_holdings h
        join unnest(${keys.map((k) => k.appId)}::uuid[], ${keys.map((k) => k.holderType)}::text[], ${keys.map((k) => k.holderId)}::uuid[]) as k(a, t, i)
          on h.app_id = k.a and h.holder_type = k.t and h.holder_id = k.i
        where h.tenant_id = ${tenantId}`.execute(ex);
      return r.rows;
    },

    /** One holding's state change and its history row (setHoldingStates for one). */
    async setHoldingState(trx: Transaction<DB>, tenantId: string, h: HoldingStateChange, now: Date): Promise<void> {
      await this.setHoldingStates(trx, tenantId, [h], now);
    },

    /** State changes of many holdings: one UPDATE and one history INSERT (settling an outbox batch). */
    async setHoldingStates(
      trx: Transaction<DB>,
      tenantId: string,
      changes: readonly HoldingStateChange[],
      now: Date,
    ): Promise<void> {
      if (changes.length === 0) return;
      const col = <T>(f: (c: HoldingStateChange) => T): T[] => changes.map(f);
      const at = now.toISOString();
      await sql`
        update license_holdings h set
          state = v.to_state, reason = v.reason, since = ${at}::timestamptz,
          waiting_since = case when v.to_state = 'waiting' then ${at}::timestamptz else null end,
          event_id = v.event_id, updated_at = ${at}::timestamptz,
          attempts = case when v.to_state = 'failed' then h.attempts + 1 else h.attempts end
        from unnest(${col((c) => c.appId)}::uuid[], ${col((c) => c.holderType)}::text[], ${col((c) => c.holderId)}::uuid[],
          ${col((c) => c.to)}::text[], ${col((c) => c.reason)}::text[], ${col((c) => c.eventId)}::text[])
          as v(app_id, holder_type, holder_id, to_state, reason, event_id)
        where h.tenant_id = ${tenantId} and h.app_id = v.app_id and h.holder_type = v.holder_type and h.holder_id = v.holder_id`.execute(
        trx,
      );
      await sql`
        insert into license_events (tenant_id, app_id, holder_type, holder_id, from_state, to_state, reason, store_key, event_id, occurred_at)
        select ${tenantId}::uuid, v.app_id, v.holder_type, v.holder_id, v.from_state, v.to_state, v.reason, v.store_key, v.event_id, ${at}::timestamptz
        from unnest(${col((c) => c.appId)}::uuid[], ${col((c) => c.holderType)}::text[], ${col((c) => c.holderId)}::uuid[],
          ${col((c) => c.from)}::text[], ${col((c) => c.to)}::text[], ${col((c) => c.reason)}::text[],
          ${col((c) => c.storeKey)}::text[], ${col((c) => c.eventId)}::text[]) with ordinality
          as v(app_id, holder_type, holder_id, from_state, to_state, reason, store_key, event_id, n)
        order by v.n`.execute(trx);
    },

    // ---------------------------------------------------------------- outbox

    async tenantsWithOpenOperations(): Promise<string[]> {
      const r = await db
        .selectFrom("store_operations")
        .select("tenant_id")
        .distinct()
        .where("state", "in", ["pending", "sending", "sent"])
        .execute();
      return r.map((x) => x.tenant_id);
    },

    /** Open operations in outbox order; `kinds` limits them to these kinds. */
    async openOperations(
      tenantId: string,
      states: readonly string[],
      limit: number,
      kinds?: readonly string[],
    ) {
      let q = db
        .selectFrom("store_operations as o")
        .leftJoin("apps as a", (j) =>
          j.onRef("a.tenant_id", "=", "o.tenant_id").onRef("a.id", "=", "o.app_id"),
        )
        .select([
          "o.id",
          "o.seq",
          "o.token_id",
          "o.app_id",
          "o.kind",
          "o.holder_type",
          "o.holder_id",
          "o.store_key",
          "o.payload",
          "o.state",
          "o.batch_id",
          "o.event_id",
          "o.attempts",
          "o.error",
          "o.updated_at",
          "a.adam_id",
          "a.pricing_param",
        ])
        .where("o.tenant_id", "=", tenantId)
        .where("o.state", "in", states as never)
        .where("o.next_attempt_at", "<=", new Date());
      if (kinds) q = q.where("o.kind", "in", kinds as never);
      return q.orderBy("o.seq").limit(limit).execute();
    },

    async markOperations(
      ex: Executor,
      tenantId: string,
      ids: readonly string[],
      set: {
        state: string;
        batchId?: string | null;
        eventId?: string | null;
        error?: string | null;
        attempt?: boolean;
        retryAt?: Date;
      },
      now: Date,
    ): Promise<void> {
      for (let i = 0; i < ids.length; i += 2000) {
        const part = ids.slice(i, i + 2000);
        await ex
          .updateTable("store_operations")
          .set({
            state: set.state,
            ...(set.batchId !== undefined ? { batch_id: set.batchId } : {}),
            ...(set.eventId !== undefined ? { event_id: set.eventId } : {}),
            ...(set.error !== undefined ? { error: set.error } : {}),
            ...(set.attempt ? { attempts: sql`attempts + 1` } : {}),
            ...(set.retryAt ? { next_attempt_at: set.retryAt } : {}),
            updated_at: now,
          })
          .where("tenant_id", "=", tenantId)
          .where("id", "in", part as string[])
          .execute();
      }
    },

    /** Mirror rows that are the ledger's own assignments become `tracked` (SYNC-4). */
    async markTracked(ex: Executor, tenantId: string, tokenId: string): Promise<void> {
      await sql`
        update store_assignments s set tracked = true
        from license_holdings h join apps a on a.tenant_id = h.tenant_id and a.id = h.app_id
        where s.tenant_id = ${tenantId} and s.token_id = ${tokenId} and not s.tracked
          and h.tenant_id = s.tenant_id and a.token_id = s.token_id and a.adam_id = s.adam_id and a.pricing_param = s.pricing_param
          and h.state in ('pendingAssign', 'assigned', 'pendingRelease')
          and h.store_key = case when h.license_type = 'device' then s.serial_number else s.client_user_id end`.execute(
        ex,
      );
    },

    /** Records what Apple says of a user Allot registered (users/create, then a read of the user). */
    async upsertAppleUser(
      tenantId: string,
      tokenId: string,
      userId: string,
      u: {
        clientUserId: string;
        status: string;
        inviteCode: string | null;
        idHash: string | null;
        email: string | null;
      },
      now: Date,
    ): Promise<void> {
      await db
        .insertInto("apple_users")
        .values({
          tenant_id: tenantId,
          token_id: tokenId,
          client_user_id: u.clientUserId,
          user_id: userId,
          email: u.email,
          status: u.status,
          invite_code: u.inviteCode,
          apple_user_id: u.idHash,
          associated_at: u.status === "Associated" ? now : null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(["tenant_id", "token_id", "client_user_id"]).doUpdateSet((eb) => ({
            user_id: eb.ref("excluded.user_id"),
            status: eb.ref("excluded.status"),
            invite_code: sql<string | null>`coalesce(excluded.invite_code, apple_users.invite_code)`,
            apple_user_id: sql<string | null>`coalesce(excluded.apple_user_id, apple_users.apple_user_id)`,
            email: sql<string | null>`coalesce(excluded.email, apple_users.email)`,
            associated_at: sql<Date | null>`case when excluded.status = 'Associated' and apple_users.status <> 'Associated' then excluded.updated_at else apple_users.associated_at end`,
            updated_at: eb.ref("excluded.updated_at"),
          })),
        )
        .execute();
    },

    /** Apple users of these people at this token, with what the invitation needs (name, address, code). */
    async appleUsersToInvite(tenantId: string, tokenId: string, userIds: readonly string[]) {
      if (userIds.length === 0) return [];
      return db
        .selectFrom("apple_users as a")
        .innerJoin("users as u", (j) =>
          j.onRef("u.tenant_id", "=", "a.tenant_id").onRef("u.id", "=", "a.user_id"),
        )
        .select([
          "a.user_id",
          "a.client_user_id",
          "a.status",
          "a.invite_code",
          "a.invited_code",
          "u.display_name",
          "u.mail",
          "u.user_principal_name",
        ])
        .where("a.tenant_id", "=", tenantId)
        .where("a.token_id", "=", tokenId)
        .where("a.user_id", "in", userIds as string[])
        .execute();
    },

    /** The invitation for this code was written to the notifications outbox (same transaction). */
    async markInvited(
      trx: Transaction<DB>,
      tenantId: string,
      tokenId: string,
      clientUserId: string,
      inviteCode: string,
      inviteUrl: string,
      now: Date,
    ) {
      await trx
        .updateTable("apple_users")
        .set({
          invited_code: inviteCode,
          invite_url: inviteUrl,
          invited_at: now,
          invitation_count: sql`invitation_count + 1`,
          updated_at: now,
        })
        .where("tenant_id", "=", tenantId)
        .where("token_id", "=", tokenId)
        .where("client_user_id", "=", clientUserId)
        .execute();
    },

    /** Apple-user operations not finished yet, as `kind:tokenId:userId` (the engine asks again on every plan). */
    async openAppleUserOperations(tenantId: string): Promise<Set<string>> {
      const r = await db
        .selectFrom("store_operations")
        .select(["kind", "token_id", "holder_id"])
        .where("tenant_id", "=", tenantId)
        .where("kind", "in", ["registerUser", "inviteUser"])
        .where("state", "in", ["pending", "sending", "sent"])
        .execute();
      return new Set(r.map((o) => `${o.kind}:${o.token_id}:${o.holder_id}`));
    },

    /** A user by id or userPrincipalName (as Graph addresses users). */
    async findUserId(tenantId: string, idOrUpn: string): Promise<string | undefined> {
      const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrUpn);
      const r = await db
        .selectFrom("users")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where((eb) =>
          isUuid ? eb("id", "=", idOrUpn) : eb(sql`lower(user_principal_name)`, "=", idOrUpn.toLowerCase()),
        )
        .executeTakeFirst();
      return r?.id;
    },

    /** A person's Apple users (one per VPP token that licenses them), for the API. */
    async appleUsersOf(tenantId: string, userId: string) {
      return db
        .selectFrom("apple_users")
        .select([
          "token_id",
          "client_user_id",
          "user_id",
          "status",
          "invite_code",
          "invited_code",
          "invited_at",
          "invitation_count",
          "associated_at",
          "created_at",
          "updated_at",
        ])
        .where("tenant_id", "=", tenantId)
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .execute();
    },

    // ---------------------------------------------------------------- directory changes

    async directoryCursor(tenantId: string): Promise<number> {
      const r = await db
        .selectFrom("license_cursors")
        .select("directory_seq")
        .where("tenant_id", "=", tenantId)
        .executeTakeFirst();
      return Number(r?.directory_seq ?? 0);
    },

    async setDirectoryCursor(tenantId: string, seq: number): Promise<void> {
      await db
        .insertInto("license_cursors")
        .values({ tenant_id: tenantId, directory_seq: seq, updated_at: new Date() })
        .onConflict((oc) =>
          oc.column("tenant_id").doUpdateSet({ directory_seq: seq, updated_at: new Date() }),
        )
        .execute();
    },

    async directoryChangesAfter(tenantId: string, afterSeq: number, limit: number) {
      return db
        .selectFrom("directory_changes")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
    },

    /** The changes after the tenant's cursor (directoryCursor + directoryChangesAfter in one query). */
    async pendingDirectoryChanges(tenantId: string, limit: number) {
      return db
        .selectFrom("directory_changes")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where(
          "seq",
          ">",
          sql<number>`coalesce((select directory_seq from license_cursors where tenant_id = ${tenantId}), 0)`,
        )
        .orderBy("seq")
        .limit(limit)
        .execute();
    },

    async tenantsWithDirectoryChanges(): Promise<string[]> {
      // Polled every second: one primary-key probe per tenant, never a scan of the change log.
      const r = await sql<{ tenant_id: string }>`
        select t.id as tenant_id from tenants t
        left join license_cursors k on k.tenant_id = t.id
        where exists (select 1 from directory_changes d where d.tenant_id = t.id and d.seq > coalesce(k.directory_seq, 0))`.execute(
        db,
      );
      return r.rows.map((x) => x.tenant_id);
    },

    /**
     * Apps a change of these objects may affect: assignments to any group containing them
     * (transitively), all-users/all-devices assignments, and apps where they (or a user's devices) hold a row.
     */
    async affectedApps(
      tenantId: string,
      objectIds: readonly string[],
      groupIds: readonly string[],
    ): Promise<string[]> {
      const r = await sql<{ app_id: string }>`
        with recursive seeds(id) as (
          select unnest(${objectIds as string[]}::uuid[]) union select unnest(${groupIds as string[]}::uuid[])
          union select d.id from devices d where d.tenant_id = ${tenantId} and d.user_id = any(${objectIds as string[]}::uuid[])
        ), up(id) as (
          select id from seeds
          union select gm.group_id from group_members gm join up on gm.member_id = up.id where gm.tenant_id = ${tenantId}
        )
        select distinct m.app_id from mobile_app_assignments m
          where m.tenant_id = ${tenantId} and (m.group_id in (select id from up) or m.target_kind in ('allLicensedUsers', 'allDevices'))
        union
        select distinct h.app_id from license_holdings h where h.tenant_id = ${tenantId} and h.holder_id in (select id from seeds)`.execute(
        db,
      );
      return r.rows.map((x) => x.app_id);
    },

    // ---------------------------------------------------------------- incremental reconcile (sliceForIncremental in SQL)

    /**
     * The directory an incremental plan reads for these changed principals (src/engine/slice.ts says
     * exactly what): the affected users (the changed ones and the primary users of the changed
     * devices) and devices (the changed ones and every device of an affected user), their Apple user
     * records, and every membership edge on a path from any group down to one of them.
     */
    /** The latest directory change's sequence number (0 for none): the directory is unchanged while it is. */
    async directoryVersion(tenantId: string): Promise<number> {
      const r = await sql<{ m: number | string | null }>`
        select max(seq) as m from directory_changes where tenant_id = ${tenantId}`.execute(db);
      return Number(r.rows[0]?.m ?? 0);
    },

    async loadDirectorySlice(
      tenantId: string,
      changed: { users: readonly string[]; devices: readonly string[] },
    ) {
      const owners = changed.devices.length
        ? await db
            .selectFrom("devices")
            .select("user_id")
            .where("tenant_id", "=", tenantId)
            .where("id", "in", changed.devices as string[])
            .where("user_id", "is not", null)
            .execute()
        : [];
      const userIds = [...new Set([...changed.users, ...owners.map((o) => o.user_id as string)])];
      let dq = db.selectFrom("devices").select(ENGINE_DEVICE_COLUMNS).where("tenant_id", "=", tenantId);
      dq = dq.where((eb) => {
        const ors = [];
        if (changed.devices.length) ors.push(eb("id", "in", changed.devices as string[]));
        if (userIds.length) ors.push(eb("user_id", "in", userIds));
        return ors.length ? eb.or(ors) : eb.val(false);
      });
      const [devices, users, apple] = await Promise.all([
        changed.devices.length || userIds.length ? dq.execute() : [],
        userIds.length
          ? db
              .selectFrom("users")
              .select(ENGINE_USER_COLUMNS)
              .where("tenant_id", "=", tenantId)
              .where("id", "in", userIds)
              .execute()
          : [],
        userIds.length
          ? db
              .selectFrom("apple_users")
              .select(["token_id", "user_id", "status", "client_user_id", "invite_code", "invited_code"])
              .where("tenant_id", "=", tenantId)
              .where("user_id", "in", userIds)
              .execute()
          : [],
      ]);
      const principals = [...userIds, ...devices.map((d) => d.id)];
      const members = principals.length
        ? (
            await sql<{ group_id: string; member_id: string; member_type: string; joined_at: Date }>`
              -- LATERAL: one index probe (group_members_member) per id, whatever the planner guesses of
              -- the recursive CTE's size (a guess that picked a scan of the whole membership table).
              with recursive up(id) as (
                select unnest(${principals}::uuid[])
                union select g.group_id from up cross join lateral (
                  select gm.group_id from group_members gm where gm.tenant_id = ${tenantId} and gm.member_id = up.id) g
              )
              select gm.group_id, gm.member_id, gm.member_type, gm.joined_at from up cross join lateral (
                select gm.group_id, gm.member_id, gm.member_type, gm.joined_at from group_members gm
                where gm.tenant_id = ${tenantId} and gm.member_id = up.id) gm`.execute(db)
          ).rows
        : [];
      return directoryOf(users, devices, members, apple);
    },

    /** One app's ledger rows of these holders. */
    async loadHoldingsOf(
      tenantId: string,
      appId: string,
      holders: { users: readonly string[]; devices: readonly string[] },
    ): Promise<LedgerHolding[]> {
      const ids = [...holders.users, ...holders.devices];
      if (ids.length === 0) return [];
      const rows = await db
        .selectFrom("license_holdings")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("app_id", "=", appId)
        .where("holder_id", "in", ids)
        .execute();
      const [users, devices] = [new Set(holders.users), new Set(holders.devices)];
      const wanted = (h: { holder_type: string; holder_id: string }) =>
        (h.holder_type === "user" ? users : devices).has(h.holder_id);
      return rows.filter(wanted).map(holdingOf);
    },

    /** Consuming and licensed rows of the app's whole ledger. */
    async ledgerCounts(tenantId: string, appId: string): Promise<{ consuming: number; licensed: number }> {
      const r = await sql<{ consuming: number; licensed: number }>`
        select count(*) filter (where state in ('pendingAssign', 'assigned', 'pendingRelease'))::int as consuming,
               count(*) filter (where state in ('pendingAssign', 'assigned'))::int as licensed
        from license_holdings where tenant_id = ${tenantId} and app_id = ${appId} and state in ('pendingAssign', 'assigned', 'pendingRelease')`.execute(
        db,
      );
      return { consuming: Number(r.rows[0]?.consuming ?? 0), licensed: Number(r.rows[0]?.licensed ?? 0) };
    },

    /** The head of the app's queue (waiting, insufficientLicenses) in queue order; `complete` when that is all of it. */
    async queueHead(
      tenantId: string,
      appId: string,
      limit: number,
    ): Promise<{ rows: LedgerHolding[]; complete: boolean }> {
      const r = await sql<Record<string, unknown>>`
        select * from license_holdings
        where tenant_id = ${tenantId} and app_id = ${appId} and state = 'waiting' and reason = 'insufficientLicenses'
        order by entitled_at nulls last, holder_seq nulls last, case when holder_type = 'user' then 0 else 1 end, holder_id
        limit ${limit + 1}`.execute(db);
      const rows = (r.rows as unknown as Parameters<typeof holdingOf>[0][]).map(holdingOf);
      return { rows: rows.slice(0, limit), complete: rows.length <= limit };
    },

    // ---------------------------------------------------------------- reads for routes

    async consumingHoldings(tenantId: string, appId: string) {
      return db
        .selectFrom("license_holdings")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("app_id", "=", appId)
        .where("state", "in", ["pendingAssign", "assigned", "pendingRelease"])
        .orderBy("holder_type")
        .orderBy("holder_seq")
        .execute();
    },
  };
}
export type LicensesRepository = ReturnType<typeof createLicensesRepository>;
