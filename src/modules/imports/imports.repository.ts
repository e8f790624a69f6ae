// SQL of bulk import: the imports table, reference maps loaded once per import, and set-based
// chunk writes (one multi-row `insert … select from unnest(…) on conflict … do update` per chunk,
// with the entitlement-relevant change records written by the same statement).
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { AuditActor, DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { ImportKind } from "./imports.columns.ts";
import type { EntityPlan, ImportError, KeyIndex, MembersPlan } from "./imports.validate.ts";

export interface ImportRow {
  tenant_id: string;
  id: string;
  kind: ImportKind;
  status: string;
  file_name: string | null;
  spool_path: string | null;
  total_rows: number;
  processed_rows: number;
  created_rows: number;
  updated_rows: number;
  errors: ImportError[];
  created_by: AuditActor;
  request_id: string | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

interface EntityTable {
  table: "users" | "devices" | "groups";
  objectType: "user" | "device" | "group";
  /** Conflict target matching the table's unique key index. */
  conflict: string;
  /** Join of an existing row `t` to input row `i` on the key. */
  keyJoin: string;
  createdChange?: string;
  /** Columns whose change on an existing row is entitlement-relevant, and how that is recorded. */
  watched?: { columns: string[]; change: (old: string, now: string) => string };
  types: Record<string, "text" | "boolean" | "uuid">;
}

const entityTables: Record<EntityPlan["kind"], EntityTable> = {
  users: {
    table: "users",
    objectType: "user",
    conflict: "(tenant_id, lower(user_principal_name))",
    keyJoin: "lower(t.user_principal_name) = lower(i.user_principal_name)",
    createdChange: "userCreated",
    watched: { columns: ["account_enabled"], change: (_old, now) => `case when ${now}.account_enabled then 'userEnabled' else 'userDisabled' end` },
    types: {
      user_principal_name: "text",
      display_name: "text",
      account_enabled: "boolean",
      mail: "text",
      apple_id_email: "text",
      usage_location: "text",
      given_name: "text",
      surname: "text",
      job_title: "text",
      department: "text",
    },
  },
  devices: {
    table: "devices",
    objectType: "device",
    conflict: "(tenant_id, upper(serial_number)) where serial_number is not null",
    keyJoin: "upper(t.serial_number) = upper(i.serial_number)",
    createdChange: "deviceCreated",
    watched: {
      columns: ["user_id", "itunes_store_blocked", "store_app_blocked", "kiosk_mode", "operating_system", "os_version", "serial_number", "is_supervised", "managed_device_owner_type"],
      change: () => "'deviceUserChanged'",
    },
    types: {
      serial_number: "text",
      device_name: "text",
      operating_system: "text",
      os_version: "text",
      managed_device_owner_type: "text",
      is_supervised: "boolean",
      user_id: "uuid",
      join_type: "text",
      kiosk_mode: "boolean",
      itunes_store_blocked: "boolean",
      store_app_blocked: "boolean",
    },
  },
  groups: {
    table: "groups",
    objectType: "group",
    conflict: "(tenant_id, lower(mail_nickname)) where mail_nickname is not null",
    keyJoin: "lower(t.mail_nickname) = lower(i.mail_nickname)",
    types: { mail_nickname: "text", display_name: "text", description: "text", member_kind: "text" },
  },
};

function keyIndex(rows: { k: string; id: string }[]): KeyIndex {
  const keys = new Map<string, number>();
  const ids: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    keys.set(rows[i].k, i);
    ids[i] = rows[i].id;
  }
  return { keys, ids };
}

const ident = (name: string) => {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`unexpected column name ${name}`);
  return sql.raw(name);
};

export function createImportsRepository(db: Kysely<DB>, engine: "pglite" | "postgres") {
  const isPostgres = engine === "postgres";
  const get = (ex: Executor, tenantId: string, id: string) =>
    ex.selectFrom("imports").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst() as Promise<ImportRow | undefined>;

  return {
    get: (tenantId: string, id: string) => get(db, tenantId, id),
    /** Imports as derived table `t` with a per-tenant sequence for keyset paging. */
    listQuery: (tenantId: string) =>
      db
        .selectFrom((eb) =>
          eb
            .selectFrom("imports")
            .selectAll()
            .select(sql<number>`(row_number() over (order by created_at, id))::int`.as("seq"))
            .where("tenant_id", "=", tenantId)
            .as("t"),
        )
        .selectAll("t"),
    insert: (ex: Executor, row: { tenant_id: string; id: string; kind: ImportKind; file_name: string | null; spool_path: string; total_rows: number; created_by: AuditActor; request_id: string | null }) =>
      ex
        .insertInto("imports")
        .values({ ...row, status: "running", created_by: JSON.stringify(row.created_by), errors: "[]", started_at: new Date() })
        .execute(),
    /** Imports left running (by a process that stopped), across tenants. */
    running: () => db.selectFrom("imports").select(["tenant_id", "id"]).where("status", "=", "running").orderBy("created_at").execute(),
    /**
     * Records a written chunk in its own transaction: its counts, and processed_rows (never lowered).
     * False when the import is no longer running (then the chunk's transaction must roll back).
     */
    advance: async (trx: Executor, tenantId: string, id: string, processed: number, created: number, updated: number) => {
      const r = await trx
        .updateTable("imports")
        .set((eb) => ({
          processed_rows: sql<number>`greatest(processed_rows, ${processed}::int)`,
          created_rows: eb("created_rows", "+", created),
          updated_rows: eb("updated_rows", "+", updated),
        }))
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("status", "=", "running")
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    /**
     * Runs `fn` while holding a PostgreSQL advisory lock on the import, so two processes never write
     * one import at once (false: another holds it). PGlite serves a single process: no lock needed.
     */
    withImportLock: async (id: string, fn: () => Promise<void>): Promise<boolean> => {
      if (!isPostgres) {
        await fn();
        return true;
      }
      return db.connection().execute(async (conn) => {
        const key = `allot.import:${id}`;
        const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtextextended(${key}, 0)) as ok`.execute(conn);
        if (!got.rows[0]?.ok) return false;
        try {
          await fn();
        } finally {
          await sql`select pg_advisory_unlock(hashtextextended(${key}, 0))`.execute(conn);
        }
        return true;
      });
    },
    /** Marks an import whose every chunk has committed completed; undefined when it no longer was running. */
    complete: (trx: Executor, tenantId: string, id: string) =>
      trx
        .updateTable("imports")
        .set((eb) => ({ status: "completed", processed_rows: eb.ref("total_rows"), completed_at: new Date(), spool_path: null }))
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("status", "=", "running")
        .returningAll()
        .executeTakeFirst() as Promise<ImportRow | undefined>,
    fail: (tenantId: string, id: string, errors: ImportError[]) =>
      db
        .updateTable("imports")
        .set({ status: "failed", errors: JSON.stringify(errors), completed_at: new Date(), spool_path: null })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst() as Promise<ImportRow | undefined>,

    // ---- reference maps (one query each per import)
    userKeys: async (tenantId: string): Promise<KeyIndex> => {
      const r = await sql<{ k: string; id: string }>`select lower(user_principal_name) as k, id from users where tenant_id = ${tenantId}`.execute(db);
      return keyIndex(r.rows);
    },
    deviceKeys: async (tenantId: string): Promise<KeyIndex> => {
      const r = await sql<{ k: string; id: string }>`select upper(serial_number) as k, id from devices where tenant_id = ${tenantId} and serial_number is not null`.execute(db);
      return keyIndex(r.rows);
    },
    groups: async (tenantId: string) => {
      const r = await sql<{ id: string; key: string | null; member_kind: string; display_name: string }>`
        select id, lower(mail_nickname) as key, member_kind, display_name from groups where tenant_id = ${tenantId} order by seq`.execute(db);
      return r.rows.map((g) => ({ id: g.id, key: g.key, memberKind: g.member_kind, displayName: g.display_name }));
    },
    groupEdges: async (tenantId: string) => {
      const r = await sql<{ parent: string; child: string }>`
        select group_id as parent, member_id as child from group_members where tenant_id = ${tenantId} and member_type = 'group'`.execute(db);
      return r.rows;
    },
    groupsWithMemberType: async (tenantId: string, groupIds: string[], memberType: "user" | "device") => {
      const r = await sql<{ group_id: string }>`
        select distinct group_id from group_members
        where tenant_id = ${tenantId} and group_id = any(${groupIds}::uuid[]) and member_type = ${memberType}`.execute(db);
      return r.rows.map((x) => x.group_id);
    },

    /** Upserts rows [from, to) of a users/devices/groups plan; returns how many were created and updated. */
    writeEntities: async (trx: Executor, tenantId: string, plan: EntityPlan, from: number, to: number) => {
      const def = entityTables[plan.kind];
      const cols = Object.keys(plan.columns);
      const arrays = cols.map((c) => sql`${plan.columns[c].slice(from, to)}::${sql.raw(def.types[c])}[]`);
      const present = new Set(plan.present);
      const updated = cols.filter((c) => present.has(c));
      const watched = def.watched?.columns.filter((c) => present.has(c)) ?? [];
      const colList = sql.join(cols.map(ident));
      const tuple = (prefix: string) => sql.join(updated.map((c) => sql`${sql.raw(prefix)}.${ident(c)}`));
      const changeRows: RawBuilder<unknown>[] = [];
      if (def.createdChange) changeRows.push(sql`select ${def.createdChange}::text as change_type, up.id from up where up.inserted`);
      if (watched.length > 0) {
        const differs = sql.join(watched.map((c) => sql`old.${ident(c)} is distinct from up.${ident(c)}`), sql` or `);
        changeRows.push(sql`select ${sql.raw(def.watched!.change("old", "up"))}, up.id from up join old on old.id = up.id where not up.inserted and (${differs})`);
      }
      const returning = sql.join([sql`t.id`, sql`(t.xmax = 0) as inserted`, ...watched.map((c) => sql`t.${ident(c)}`)]);
      const query = sql<{ created: number; updated: number }>`
        with input as (
          select * from unnest(${sql.join(arrays)}) as i(${colList})
        ),
        ${watched.length > 0 ? sql`old as (select t.id, ${sql.join(watched.map((c) => sql`t.${ident(c)}`))} from ${ident(def.table)} t join input i on ${sql.raw(def.keyJoin)} where t.tenant_id = ${tenantId}),` : sql``}
        up as (
          insert into ${ident(def.table)} as t (tenant_id, id, ${colList})
          select ${tenantId}::uuid, gen_random_uuid(), ${sql.join(cols.map((c) => sql`i.${ident(c)}`))} from input i
          on conflict ${sql.raw(def.conflict)} do update set
            ${sql.join(updated.map((c) => sql`${ident(c)} = excluded.${ident(c)}`))}, updated_at = now()
          where (${tuple("t")}) is distinct from (${tuple("excluded")})
          returning ${returning}
        )
        ${changeRows.length > 0 ? sql`, ch as (insert into directory_changes (tenant_id, change_type, object_type, object_id) select ${tenantId}::uuid, c.change_type, ${def.objectType}, c.id from (${sql.join(changeRows, sql` union all `)}) as c(change_type, id))` : sql``}
        select (count(*) filter (where inserted))::int as created, (count(*) filter (where not inserted))::int as updated from up`;
      const r = await query.execute(trx);
      return r.rows[0];
    },

    /**
     * Refreshes the planner's statistics and the visibility map of the table an import filled (PGlite
     * has no autovacuum at all; PostgreSQL's comes too late for the queries right after), so plans
     * fit the new size and index-only scans stay index-only.
     */
    maintain: (kind: ImportKind) => sql`vacuum (analyze) ${ident(kind === "members" ? "group_members" : kind)}`.execute(db).then(() => undefined),
    /**
     * A chunk's commit need not wait for its WAL flush: were the server to crash, the chunk and the
     * processed_rows it advanced are lost together, and the resumed import writes it again.
     */
    relaxCommit: (trx: Executor) => sql`set local synchronous_commit = off`.execute(trx).then(() => undefined),

    /** Adds (or re-adds, resetting joinedAt) memberships [from, to) and records memberAdded for each. */
    writeMembers: async (trx: Executor, tenantId: string, plan: MembersPlan, from: number, to: number) => {
      const r = await sql<{ created: number; updated: number }>`
        with input as (
          select * from unnest(${plan.groupIds.slice(from, to)}::uuid[], ${plan.memberIds.slice(from, to)}::uuid[], ${plan.memberTypes.slice(from, to)}::text[])
            as i(group_id, member_id, member_type)
        ),
        up as (
          insert into group_members (tenant_id, group_id, member_id, member_type, joined_at)
          select ${tenantId}::uuid, group_id, member_id, member_type, now() from input
          on conflict (tenant_id, group_id, member_id) do update set joined_at = excluded.joined_at, member_type = excluded.member_type
          returning group_id, member_id, member_type, (xmax = 0) as inserted
        ),
        ch as (
          insert into directory_changes (tenant_id, change_type, object_type, object_id, group_id)
          select ${tenantId}::uuid, 'memberAdded', member_type, member_id, group_id from up
        )
        select (count(*) filter (where inserted))::int as created, (count(*) filter (where not inserted))::int as updated from up`.execute(trx);
      return r.rows[0];
    },
  };
}
export type ImportsRepository = ReturnType<typeof createImportsRepository>;
